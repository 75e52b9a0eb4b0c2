"""Risk rules, cadences, freezes, releases and their implementation, calendar items."""
from datetime import time, timedelta

import pytest
from sqlalchemy import func, select

from changes import services, signals
from changes.models import ReviewWindow
from processmaps.models import APPROVED, ProcessVersion
from processmaps.services import add_node, create_process
from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.timeutil import local_today


def _rules(change) -> set[str]:
    return {reason["rule"] for reason in change.risk_reasons}


def _approved_node(company):
    process = create_process("销售机会跟进流程", company["departments"]["sales"].id)
    version = process.versions[0]
    node = add_node(version, name="报价审批", kind="task", owner_role="销售经理")
    version.status = APPROVED
    db.session.flush()
    return process, node


# --- risk --------------------------------------------------------------------------------
def test_risk_rules_fire_with_their_reasons(company, new_request):
    quiet = new_request()
    assert quiet.risk_level == "low" and quiet.risk_reasons == []
    _process, node = _approved_node(company)
    services.save_freeze("上线封网期", local_today() + timedelta(days=2), local_today() + timedelta(days=5))
    loud = new_request(affected_roles=["staff", "head", "lead"], has_permission_change=True,
                       has_data_field_change=True, wanted_on=local_today() + timedelta(days=3),
                       node_ids=[node.id])
    assert _rules(loud) == {"approved_process", "many_roles", "permissions", "data_fields", "short_notice", "freeze"}
    assert loud.risk_level == "critical"
    texts = services.risk_reasons_text(loud)
    assert any("销售机会跟进流程" in text for text in texts)
    assert any("上线封网期" in text for text in texts)


def test_draft_process_does_not_count_as_approved(company, new_request):
    process = create_process("草稿流程")
    node = add_node(process.versions[0], name="步骤", kind="task")
    change = new_request(node_ids=[node.id])
    assert "approved_process" not in _rules(change)


def test_reviewer_may_raise_risk_but_never_lower_it(company, new_request):
    change = new_request(has_permission_change=True)
    assert change.effective_risk == "medium"
    with pytest.raises(ServiceError) as error:
        services.raise_risk(change, "low", "其实没风险", company["lead"])
    assert error.value.field == "risk_level"
    assert change.effective_risk == "medium" and change.risk_raised_level is None
    with pytest.raises(ServiceError):
        services.raise_risk(change, "high", "", company["lead"])
    with pytest.raises(ServiceError):
        services.raise_risk(change, "high", "影响大", company["staff"])
    services.raise_risk(change, "high", "影响全部销售", company["lead"])
    assert change.effective_risk == "high"
    # Editing the draft recomputes the rules, but the reviewer's raise still holds.
    services.update_change_request(change, title=change.title, description="d", reason="r", kind="normal",
                                   urgency="low", impact="low", wanted_on=None, affected_roles=[],
                                   affected_department_ids=[], has_permission_change=False,
                                   has_data_field_change=False, node_ids=[], requirement_ids=[])
    assert change.risk_level == "low" and change.effective_risk == "high"


def test_assessment_cannot_lower_the_risk(company, new_request, make_window):
    make_window(3)
    change = new_request(has_permission_change=True, has_data_field_change=True)
    services.submit(change, company["staff"])
    with pytest.raises(ServiceError):
        services.assess(change, company["lead"], "评估", raise_to="low", raise_reason="没那么严重")
    assert change.state == "submitted" and change.effective_risk == "high"


def test_only_drafts_are_edited(company, new_request, make_window):
    change = new_request()
    services.submit(change, company["staff"])
    with pytest.raises(ServiceError):
        services.update_change_request(change, title="x", description="d", reason="r", kind="normal",
                                       urgency="low", impact="low", wanted_on=None, affected_roles=[],
                                       affected_department_ids=[], has_permission_change=False,
                                       has_data_field_change=False, node_ids=[], requirement_ids=[])


# --- cadences -------------------------------------------------------------------------------
def test_cadence_every_two_weeks_makes_windows_with_cutoffs(company):
    today = local_today()
    cadence, windows = services.save_cadence("变更评审会", weekday=2, every_n_weeks=2, starts_on=today,
                                             start_time=time(14, 0), cutoff_hours=48)
    assert windows and all(services.to_local(w.starts_at).weekday() == 2 for w in windows)
    gaps = {(b.starts_at - a.starts_at).days for a, b in zip(windows, windows[1:])}
    assert gaps == {14}
    assert all(w.starts_at - w.cutoff_at == timedelta(hours=48) for w in windows)
    # Generating again adds nothing.
    assert services.generate_windows(cadence) == []


def test_cadence_that_yields_no_date_is_refused_by_name(company):
    monday = local_today() + timedelta(days=(7 - local_today().weekday()) % 7)
    with pytest.raises(ServiceError) as error:
        services.save_cadence("周会", weekday=4, every_n_weeks=1, starts_on=monday,
                              ends_on=monday + timedelta(days=2), start_time=time(10, 0))
    assert "周会" in error.value.message and "yields no date" in error.value.message
    assert db.session.scalar(select(func.count()).select_from(ReviewWindow)) == 0


def test_cadence_clashing_with_existing_windows_names_them(company):
    today = local_today()
    services.save_cadence("评审会甲", weekday=today.weekday(), every_n_weeks=1, starts_on=today,
                          start_time=time(23, 0))
    with pytest.raises(ServiceError) as error:
        services.save_cadence("评审会乙", weekday=today.weekday(), every_n_weeks=1, starts_on=today,
                              start_time=time(23, 30))
    assert "评审会甲" in error.value.message


# --- freezes and releases ----------------------------------------------------------------------
def test_a_release_is_not_planned_for_a_day_that_has_passed(company):
    today = local_today()
    with pytest.raises(ServiceError) as refused:
        services.save_release("过去的批次", today - timedelta(days=1))
    assert refused.value.field == "planned_on"
    release = services.save_release("本周批次", today)
    release.planned_on = today - timedelta(days=3)  # planned earlier; that day has passed since
    assert services.save_release("本周批次（改名）", release.planned_on, release=release).name == "本周批次（改名）"


def test_release_dated_in_a_freeze_is_refused_naming_the_freeze(company):
    today = local_today()
    services.save_freeze("销售部上线封网期", today + timedelta(days=10), today + timedelta(days=17))
    with pytest.raises(ServiceError) as error:
        services.save_release("第2批", today + timedelta(days=12))
    assert "销售部上线封网期" in error.value.message and error.value.field == "planned_on"
    assert services.save_release("第2批", today + timedelta(days=18)).id


def test_freeze_overlapping_a_scheduled_release_is_refused_naming_it(company):
    today = local_today()
    services.save_release("第3批优化", today + timedelta(days=12))
    with pytest.raises(ServiceError) as error:
        services.save_freeze("年终封网", today + timedelta(days=10), today + timedelta(days=14))
    assert "第3批优化" in error.value.message
    with pytest.raises(ServiceError):
        services.save_freeze("倒过来", today + timedelta(days=14), today + timedelta(days=10))


def _approved_request(company, on_agenda, **fields):
    change, window = on_agenda(**fields)
    services.decide(change, "approved", "同意", company["lead"], window)
    return change


def test_implementing_a_release(company, on_agenda):
    process, node = _approved_node(company)
    change = _approved_request(company, on_agenda, affected_roles=["staff"],
                               affected_department_ids=[company["departments"]["sales"].id], node_ids=[node.id])
    other = _approved_request(company, on_agenda, title="报表导出")
    release = services.save_release("第1批", local_today() + timedelta(days=5), company["lead"])
    services.schedule(change, release, company["lead"])
    services.schedule(other, release, company["lead"])
    notes = services.release_notes(release)
    assert change.reference in notes and other.reference in notes and "销售部" in notes
    received = []

    def listener(sender, **kwargs):
        received.append((sender, kwargs))

    signals.release_implemented.connect(listener)
    try:
        result = services.implement_release(release, company["lead"])
    finally:
        signals.release_implemented.disconnect(listener)
    assert release.is_implemented and {change.state, other.state} == {"implemented"}
    assert [t.to_state for t in change.transitions][-2:] == ["implementing", "implemented"]
    drafts = db.session.scalars(select(ProcessVersion).where(ProcessVersion.process_id == process.id,
                                                             ProcessVersion.status == "draft")).all()
    assert len(drafts) == 1 and result["versions"] == drafts
    assert received == [(release, {"affected_roles": ["staff"],
                                   "affected_department_ids": [company["departments"]["sales"].id],
                                   "processes": [process]})]
    told = set(db.session.scalars(select(Notification.user_id).where(Notification.event == "changes.release")))
    # Staff of 销售部 and its teams, nobody from 市场部.
    assert told == {company["staff"].id, company["staff2"].id}
    with pytest.raises(ServiceError):
        services.implement_release(release, company["lead"])


def test_notes_written_before_a_change_was_scheduled_still_announce_it(company, on_agenda, client_as):
    first = _approved_request(company, on_agenda, title="报价审批改为两级")
    late = _approved_request(company, on_agenda, title="客户列表增加行业筛选")
    release = services.save_release("第1批", local_today() + timedelta(days=5), company["lead"])
    services.schedule(first, release, company["lead"])
    release.notes_markdown = "### 第1批\n\n本批次优化报价审批。\n- " + first.reference  # written by hand
    services.schedule(late, release, company["lead"])
    assert services.missing_from_notes(release) == [late]
    db.session.commit()
    page = client_as("lead").get(f"/changes/releases/{release.id}").get_data(as_text=True)
    assert 'data-testid="notes-missing"' in page and late.reference in page
    services.implement_release(release, company["lead"])
    assert release.notes_markdown.startswith("### 第1批\n\n本批次优化报价审批。")  # the hand-written part kept
    assert late.reference in release.notes_markdown and "客户列表增加行业筛选" in release.notes_markdown
    body = db.session.scalar(select(Notification.body_markdown).where(Notification.event == "changes.release"))
    assert late.reference in body


def test_generated_notes_are_in_the_company_language_whoever_asks(company, on_agenda):
    from flask_babel import force_locale
    change = _approved_request(company, on_agenda)
    release = services.save_release("第1批", local_today() + timedelta(days=5), company["lead"])
    services.schedule(change, release, company["lead"])
    with force_locale("en"):
        notes = services.release_notes(release)
    assert "计划于" in notes and "Planned for" not in notes
    with force_locale("en"):
        services.implement_release(release, company["lead"])
    assert "上线" in release.notes_markdown and "计划于" not in release.notes_markdown


def test_an_emergency_implemented_alone_is_announced_and_drafts_its_processes(company, new_request):
    process, node = _approved_node(company)
    sales = company["departments"]["sales"]
    change = new_request(kind="emergency", title="报价单金额显示错误", affected_roles=["staff"],
                         affected_department_ids=[sales.id], node_ids=[node.id])
    services.submit(change, company["staff"])
    services.move(change, "approved", company["lead"], "立即修复")
    services.move(change, "implementing", company["lead"])
    services.move(change, "implemented", company["lead"])
    assert change.state == "implemented" and change.release is None
    draft = db.session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == process.id,
                                                           ProcessVersion.status == "draft"))
    assert draft is not None and change.reference in draft.summary
    told = set(db.session.scalars(select(Notification.user_id).where(Notification.event == "changes.release")))
    assert told == {company["staff"].id, company["staff2"].id}  # its requester is one of the staff told
    body = db.session.scalar(select(Notification.body_markdown).where(
        Notification.event == "changes.release", Notification.user_id == company["staff2"].id))
    assert change.reference in body and "报价单金额显示错误" in body


def test_a_request_implemented_before_its_release_does_not_block_it(company, on_agenda):
    change = _approved_request(company, on_agenda)
    release = services.save_release("第1批", local_today() + timedelta(days=5), company["lead"])
    services.schedule(change, release, company["lead"])
    services.move(change, "implementing", company["lead"])
    services.move(change, "implemented", company["lead"])
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.event == "changes.release")) == 0  # the release tells everyone when it goes live
    services.implement_release(release, company["lead"])
    assert release.is_implemented and change.state == "implemented"


def test_a_release_links_to_what_followed_it_and_back(company, on_agenda, client_as):
    process, node = _approved_node(company)
    change = _approved_request(company, on_agenda, affected_roles=["staff"], node_ids=[node.id])
    release = services.save_release("第1批", local_today() + timedelta(days=5), company["lead"])
    services.schedule(change, release, company["lead"])
    client = client_as("lead")
    assert 'data-testid="follow-ups"' not in client.get(f"/changes/releases/{release.id}").get_data(as_text=True)
    services.implement_release(release, company["lead"])
    db.session.commit()
    from training.models import TrainingSession
    session = db.session.scalar(select(TrainingSession).where(TrainingSession.release_id == release.id))
    for page in (client.get(f"/changes/releases/{release.id}"), client.get(f"/changes/{change.id}")):
        html = page.get_data(as_text=True)
        assert f'href="/processes/{process.id}/v/2"' in html and f'href="/training/sessions/{session.id}"' in html
    session_page = client_as("trainer").get(f"/training/sessions/{session.id}").get_data(as_text=True)
    assert f'href="/changes/releases/{release.id}" data-testid="from-release">第1批<' in session_page
    # Who came is counted where the release is.
    from training.models import Enrolment
    db.session.add(Enrolment(session_id=session.id, user_id=company["staff"].id, status="enrolled",
                             attendance="present"))
    db.session.commit()
    assert "1 of 4 people trained)" in client.get(f"/changes/releases/{release.id}").get_data(as_text=True)


def test_a_project_lead_named_as_affected_is_told_wherever_they_sit(company, on_agenda):
    change = _approved_request(company, on_agenda, affected_roles=["staff", "lead"],
                               affected_department_ids=[company["departments"]["sales"].id])
    release = services.save_release("第1批", local_today() + timedelta(days=5), company["lead"])
    services.schedule(change, release, company["lead"])
    services.implement_release(release, company["admin"])
    told = set(db.session.scalars(select(Notification.user_id).where(Notification.event == "changes.release")))
    assert told == {company["staff"].id, company["staff2"].id, company["lead"].id}


def test_whoever_makes_a_release_live_is_not_told_of_it(company, on_agenda):
    change = _approved_request(company, on_agenda, affected_roles=["staff", "lead"],
                               affected_department_ids=[company["departments"]["sales"].id])
    release = services.save_release("第1批", local_today() + timedelta(days=5), company["lead"])
    services.schedule(change, release, company["lead"])
    services.implement_release(release, company["lead"])
    told = set(db.session.scalars(select(Notification.user_id).where(Notification.event == "changes.release")))
    assert company["lead"].id not in told and company["staff"].id in told


def test_a_requester_hears_when_their_request_is_scheduled(company, on_agenda):
    change = _approved_request(company, on_agenda)
    release = services.save_release("第1批", local_today() + timedelta(days=5), company["lead"])
    services.schedule(change, release, company["lead"])
    told = db.session.scalar(select(Notification).where(Notification.event == "changes.scheduled"))
    assert told.user_id == change.requester_id and "第1批" in told.subject
    assert release.planned_on.isoformat() in told.body_markdown


def test_release_with_unscheduled_work_is_refused_whole(company, on_agenda):
    change = _approved_request(company, on_agenda)
    release = services.save_release("第1批", local_today() + timedelta(days=5))
    services.schedule(change, release, company["lead"])
    change.state = "approved"  # someone pulled it back by hand
    with pytest.raises(ServiceError) as error:
        services.implement_release(release, company["lead"])
    assert change.reference in error.value.message
    assert release.state == "planned" and change.state == "approved"


def test_normal_change_cannot_be_scheduled_into_a_frozen_release(company, on_agenda):
    change = _approved_request(company, on_agenda)
    services.save_freeze("临时封网", local_today() + timedelta(days=2), local_today() + timedelta(days=4))
    release = services.save_release("第1批", local_today() + timedelta(days=30))
    release.planned_on = local_today() + timedelta(days=3)  # moved by hand, bypassing the check
    with pytest.raises(ServiceError) as error:
        services.schedule(change, release, company["lead"])
    assert "临时封网" in error.value.message and change.state == "approved" and change.release_id is None


def test_calendar_items_have_stable_uids_and_rising_sequences(company, make_window):
    window = make_window(3)
    freeze = services.save_freeze("封网", local_today() + timedelta(days=20), local_today() + timedelta(days=25))
    items = {item.uid: item for item in services.calendar_items()}
    assert f"change-window-{window.id}@rollout-desk" in items
    assert items[f"change-freeze-{freeze.id}@rollout-desk"].sequence == 0
    services.save_freeze("封网（延长）", freeze.starts_on, freeze.ends_on + timedelta(days=2), freeze=freeze)
    items = {item.uid: item for item in services.calendar_items()}
    assert items[f"change-freeze-{freeze.id}@rollout-desk"].sequence == 1


def test_personal_feed(company, on_agenda):
    change, window = on_agenda()
    mine = {item.uid for item in services.personal_feed(company["staff"])}
    assert f"change-window-{window.id}@rollout-desk" in mine
    theirs = {item.uid for item in services.personal_feed(company["other_staff"])}
    assert f"change-window-{window.id}@rollout-desk" not in theirs
    lead = {item.uid for item in services.personal_feed(company["lead"])}
    assert f"change-window-{window.id}@rollout-desk" in lead


def test_metrics(company, on_agenda, make_window):
    first, second = make_window(3), make_window(10)
    change, _ = on_agenda(window=first)
    services.decide(change, "deferred", "再议", company["lead"], first)
    services.decide(change, "approved", "同意", company["lead"], second)
    release = services.save_release("第1批", local_today() + timedelta(days=5))
    services.schedule(change, release, company["lead"])
    release.planned_on = local_today() - timedelta(days=1)
    from sqlalchemy import true
    data = services.metrics(true())
    assert data["decided_count"] == 1 and data["lead_time_mean"] is not None
    assert data["total_deferrals"] == 1 and data["deferred"] == [change]
    assert data["overdue"] == [change]
    assert [(w["id"], w["deferred"], w["approved"]) for w in data["per_window"]] == [(first.id, 1, 0),
                                                                                   (second.id, 0, 1)]

