"""The readiness page keeps the blocking-check result of approved process maps between requests;
a newly approved map (or a map approved again) still shows up at once."""
from processmaps import services as maps
from processmaps.models import ProcessEdge
from rollout.dashboard import services as dashboard
from rollout.extensions import db
from rollout.timeutil import utcnow


def _map_item(department):
    entry = next(e for e in dashboard.readiness() if e.department.id == department.id)
    return next(item for item in entry.items if item.key == "process_maps")


def _clean_map(department, name, editor):
    process = maps.create_process(name, department_id=department.id)
    version = process.versions[0]
    task = maps.add_node(version, kind="task", name="录入客户", owner_role="销售代表")
    start, end = [n for n in version.nodes if n.kind in ("start", "end")]
    for edge in list(version.edges):
        db.session.delete(edge)
    db.session.flush()
    db.session.expire(version, ["edges"])
    maps.add_edge(version, source_id=start.id, target_id=task.id)
    maps.add_edge(version, source_id=task.id, target_id=end.id)
    maps.submit_for_review(version, editor)
    maps.approve_version(version)
    db.session.commit()
    return version


def test_a_new_approved_map_shows_up_after_the_cache_was_filled(factory):
    department = factory.department(name="华东销售部")
    lead = factory.user("lead")
    first = _clean_map(department, "客户录入流程", lead)
    assert "1 of 1" in _map_item(department).detail
    second = _clean_map(department, "报价流程", lead)
    assert "2 of 2" in _map_item(department).detail  # the new map is checked on the next request
    # The second map approved again, now with steps that cannot reach the end: the new result shows.
    db.session.execute(ProcessEdge.__table__.delete().where(ProcessEdge.version_id == second.id))
    second.approved_at = utcnow()  # approved again (as after a new version): a new cache key
    db.session.commit()
    db.session.expire_all()
    assert "1 of 2" in _map_item(department).detail
    assert first.id in {key[0] for key in dashboard._APPROVED_MAP_IS_CLEAN}
