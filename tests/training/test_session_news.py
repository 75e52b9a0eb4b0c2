"""Who hears about a session: its audience when it is scheduled, everyone signed up when it moves; and a
session is not scheduled to start in the past."""
from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.timeutil import utcnow
from training import enrolment, services
from training.models import Enrolment, TrainingSession


def _told(event: str) -> set[int]:
    return set(db.session.scalars(select(Notification.user_id).where(Notification.event == event)))


def _data(session: TrainingSession, **changes) -> services.SessionData:
    data = services.SessionData(
        title=session.title, kind=session.kind, starts_at=session.starts_at, ends_at=session.ends_at,
        capacity=session.capacity, trainer_id=session.trainer_id, course_id=session.course_id,
        location=session.location, target_roles=session.target_role_list,
        department_ids=[d.id for d in session.departments], description_markdown=session.description_markdown)
    return replace(data, **changes)


def test_scheduling_a_draft_tells_its_audience(company, make_session):
    sales = company["departments"]["sales"]
    draft = make_session(status="draft", target_roles="staff")
    draft.departments = [sales]
    db.session.commit()
    db.session.add(Enrolment(session_id=draft.id, user_id=company["staff2"].id, status="enrolled"))
    services.transition_session(draft, "schedule")
    db.session.commit()
    told = _told("training.session_scheduled")
    # Staff of 销售部 and its teams, not the head, not another department's staff, not someone already on it.
    assert company["staff"].id in told
    assert company["staff2"].id not in told
    assert company["head"].id not in told and company["other_staff"].id not in told
    note = db.session.scalar(select(Notification).where(Notification.user_id == company["staff"].id))
    assert note.link == f"/training/sessions/{draft.id}" and "培训室A" in note.body_markdown


def test_a_session_for_everyone_invites_nobody(company, make_session):
    services.transition_session(make_session(status="draft"), "schedule")
    assert _told("training.session_scheduled") == set()


def test_moving_a_session_tells_everyone_signed_up(company, make_session):
    session = make_session(capacity=1)
    enrolment.enrol(session.id, company["staff"])
    enrolment.enrol(session.id, company["staff2"])  # waitlisted
    db.session.commit()
    services.save_session(session, _data(session, location="培训室B"))
    assert _told("training.session_moved") == {company["staff"].id, company["staff2"].id}
    body = db.session.scalar(select(Notification.body_markdown).where(Notification.event == "training.session_moved"))
    assert "培训室B" in body
    db.session.execute(Notification.__table__.delete())
    services.save_session(session, _data(session, title="报价审批实操（二）", capacity=2))
    assert _told("training.session_moved") == set()  # neither time nor place changed


def test_a_session_cannot_be_scheduled_in_the_past(company, make_session):
    yesterday = utcnow().replace(microsecond=0) - timedelta(days=1)
    draft = make_session(status="draft")
    draft.starts_at, draft.ends_at = yesterday, yesterday + timedelta(hours=1)
    db.session.commit()
    with pytest.raises(ServiceError) as refused:
        services.transition_session(draft, "schedule")
    assert refused.value.field == "starts_at" and draft.status == "draft"
    session = make_session()
    with pytest.raises(ServiceError):
        services.save_session(session, _data(session, starts_at=yesterday, ends_at=yesterday + timedelta(hours=1)))
    # A session that took place keeps its time and may still have its room corrected.
    session.starts_at, session.ends_at = yesterday, yesterday + timedelta(hours=2)
    db.session.commit()
    services.save_session(session, _data(session, location="培训室C"))
    assert session.location == "培训室C"


def test_the_after_change_draft_lists_the_releases_changes(app, company):
    signals = pytest.importorskip("changes.signals")
    requests = [SimpleNamespace(id=-1, reference="CR-0014", title="报价折扣改为两级审批", state="scheduled"),
                SimpleNamespace(id=-2, reference="CR-0015", title="已撤销的申请", state="cancelled")]
    release = SimpleNamespace(id=5151, name="2026 第2批优化", requests=requests)
    signals.release_implemented.send(release, affected_roles=["staff"], affected_department_ids=[], processes=[])
    draft = db.session.scalar(select(TrainingSession).where(TrainingSession.release_id == 5151))
    assert "- CR-0014 报价折扣改为两级审批" in draft.description_markdown
    assert "CR-0015" not in draft.description_markdown


def test_someone_assigned_to_a_full_session_hears_they_are_waiting(company, make_session, client_as):
    session = make_session(capacity=1)
    client = client_as("head")
    for person in (company["staff"], company["staff2"]):
        assert client.post(f"/training/sessions/{session.id}/assign", data={"user_id": person.id}).status_code == 302
    notes = {n.user_id: n for n in db.session.scalars(select(Notification).where(
        Notification.event == "training.assigned"))}
    assert notes[company["staff"].id].subject.startswith("你已被报名参加培训")  # the company's language
    waiting = notes[company["staff2"].id]
    assert waiting.subject.startswith("你已进入培训候补名单")
    assert "培训室A" in waiting.body_markdown


def test_a_moved_session_is_reminded_again_before_its_new_time(company, make_session):
    session = make_session(days=0)
    session.starts_at = utcnow().replace(microsecond=0) + timedelta(hours=3)
    session.ends_at = session.starts_at + timedelta(hours=1)
    db.session.add(Enrolment(session_id=session.id, user_id=company["staff"].id, status="enrolled"))
    db.session.commit()
    assert services.send_reminders()[0] == 1 and session.reminded_at is not None
    later = session.starts_at + timedelta(days=7)
    services.save_session(session, _data(session, starts_at=later, ends_at=later + timedelta(hours=1)))
    assert session.reminded_at is None
    assert services.send_reminders()[0] == 0  # a week away: not yet
    assert services.send_reminders(now=later - timedelta(hours=3))[0] == 1
    # a change of place alone keeps the reminder already sent
    services.save_session(session, _data(session, location="培训室B"))
    assert session.reminded_at is not None
