"""The demo's change notices agree with the releases they speak of: the day a release is planned for or
went live, and when the notice came."""
from datetime import timedelta

from sqlalchemy import select

from changes.models import ChangeRequest, Release, ReviewWindow
from changes.services import window_name
from rollout.demo import load_demo
from rollout.extensions import db
from rollout.notify.models import Notification, OutboxMessage
from rollout.timeutil import local_today, to_local
from tests.conftest import chinese_client


def _notices(event, subject_part):
    return db.session.scalars(select(Notification).where(
        Notification.event == event, Notification.subject.contains(subject_part)).order_by(Notification.id)).all()


def test_release_notices_say_the_days_the_release_pages_show(app):
    load_demo(force=True)
    today = local_today()
    releases = {r.name: r for r in db.session.scalars(select(Release))}
    done, late = releases["2026 第1批优化"], releases["2026 第1批补丁"]
    live_day = to_local(done.implemented_at).date()
    assert done.planned_on == live_day < today

    # Scheduled into the release: told its planned day, before that day came.
    scheduled = _notices("changes.scheduled", "2026 第1批优化")
    assert len(scheduled) == 2
    for notice in scheduled:
        assert done.planned_on.isoformat() in notice.body_markdown and today.isoformat() not in notice.body_markdown
        assert to_local(notice.created_at).date() < done.planned_on

    # Its announcement says the day it went live and came that day, in the app and by mail or chat.
    announced = _notices("changes.release", "2026 第1批优化")
    assert announced
    for notice in announced:
        assert live_day.isoformat() in notice.body_markdown and today.isoformat() not in notice.body_markdown
        assert notice.created_at == done.implemented_at
    sent = db.session.scalars(select(OutboxMessage).where(OutboxMessage.subject.contains("2026 第1批优化"))).all()
    assert sent and all(today.isoformat() not in m.body_markdown for m in sent)

    # The overdue patch: its change was scheduled for its planned day, days ago, and its owner is reminded.
    patched = _notices("changes.scheduled", "2026 第1批补丁")
    assert len(patched) == 1 and late.planned_on.isoformat() in patched[0].body_markdown
    assert to_local(patched[0].created_at).date() <= late.planned_on < today
    standard = db.session.scalars(select(ChangeRequest).where(ChangeRequest.release_id == late.id)).one()
    assert to_local(standard.submitted_at).date() <= late.planned_on
    assert all(to_local(step.created_at).date() <= late.planned_on for step in standard.transitions)
    assert _notices("changes.release_overdue", "2026 第1批补丁")

    # The history of a request in the implemented release runs in order up to its day.
    request = db.session.scalars(select(ChangeRequest).where(ChangeRequest.release_id == done.id)
                                 .order_by(ChangeRequest.id)).first()
    steps = [step.created_at for step in request.transitions]
    assert steps == sorted(steps)
    assert max(to_local(s.created_at).date() for s in request.transitions if s.to_state != "reviewed") \
        <= done.planned_on
    assert done.planned_on - timedelta(days=7) <= to_local(scheduled[0].created_at).date()


REVIEW_EVENTS = ("changes.submitted", "changes.assessed", "changes.approved", "changes.rejected",
                 "changes.deferred", "changes.carried_over")


def test_review_notices_are_dated_when_the_story_sends_them_and_name_the_window_each_request_went_to(app):
    load_demo(force=True)
    today = local_today()
    windows = db.session.scalars(select(ReviewWindow).order_by(ReviewWindow.starts_at)).all()
    closed = [w for w in windows if w.closed_at is not None]
    assert len(closed) == 2 and all(to_local(w.starts_at).date() < today for w in closed)

    reviewed = [r for r in db.session.scalars(select(ChangeRequest).order_by(ChangeRequest.id))
                if any(step.window_id in {w.id for w in closed} for step in r.transitions)]
    assert len(reviewed) == 6
    seen = set()
    for request in reviewed:
        notices = db.session.scalars(select(Notification).where(
            Notification.link == f"/changes/{request.id}", Notification.event.in_(REVIEW_EVENTS))).all()
        assert notices, request.reference
        for notice in notices:
            seen.add(notice.event)
            when = to_local(notice.created_at).date()
            assert when < today, (request.reference, notice.event)
            state = notice.event.split(".")[1]
            if state == "carried_over":
                assert notice.created_at in {w.closed_at for w in closed}
            else:  # sent when its step happened, as the request's history shows it
                assert notice.created_at in {s.created_at for s in request.transitions if s.to_state == state}, \
                    (request.reference, notice.event)
        # The submission names the meeting the request went to, not the one coming up when the demo loads.
        went_to = next(s.window for s in request.transitions if s.to_state == "awaiting_window")
        submitted = [n for n in notices if n.event == "changes.submitted"]
        assert submitted, request.reference
        for notice in submitted:
            assert window_name(went_to) in notice.body_markdown, (request.reference, notice.body_markdown)
            assert not any(window_name(w) in notice.body_markdown for w in windows if w.id != went_to.id)
        sent = db.session.scalars(select(OutboxMessage).where(OutboxMessage.link == f"/changes/{request.id}")).all()
        assert all(today.isoformat() not in m.body_markdown for m in sent)
    assert {"changes.submitted", "changes.assessed", "changes.approved", "changes.rejected",
            "changes.deferred"} <= seen


def test_an_approval_comes_before_the_release_that_took_it_live(app):
    load_demo(force=True)
    stage = db.session.scalars(select(ChangeRequest).where(ChangeRequest.title.contains("方案评审"))).one()
    reader = stage.requester
    html = chinese_client(app, reader).get("/notifications").get_data(as_text=True)
    approved = html.index(f"{stage.reference} {stage.title}：已批准")
    live = html.index("发布批次 2026 第1批优化 已上线")
    assert live < approved  # newest first: the go-live is above the approval it followed
