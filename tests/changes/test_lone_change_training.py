"""An emergency implemented on its own gets a short after-change training draft, as a release does."""
import pytest
from sqlalchemy import func, select

from changes import services, signals
from rollout.extensions import db
from rollout.notify.models import Notification

training_models = pytest.importorskip("training.models")
TrainingSession = training_models.TrainingSession


def _implemented_emergency(company, new_request, make_window, **fields):
    make_window(3)
    change = new_request(kind="emergency", title="紧急修复：手机号被截断", affected_roles=["staff", "head"],
                         affected_department_ids=[company["departments"]["sales"].id], **fields)
    services.submit(change, company["staff"])
    services.decide(change, "approved", "立即修复", company["lead"])
    services.move(change, "implementing", company["lead"], "修复中")
    services.move(change, "implemented", company["lead"], "已上线")
    db.session.commit()
    return change


def test_a_lone_emergency_drafts_a_session_for_the_roles_it_affects(company, new_request, make_window):
    change = _implemented_emergency(company, new_request, make_window)
    drafts = db.session.scalars(select(TrainingSession)).all()
    assert len(drafts) == 1
    draft = drafts[0]
    assert draft.status == "draft" and draft.starts_at is None and draft.release_id is None and draft.course is None
    assert draft.target_role_list == ["head", "staff"]
    assert [d.code for d in draft.departments] == ["sales"]
    assert change.reference in draft.title and "紧急修复：手机号被截断" in draft.title
    assert f"(/changes/{change.id})" in draft.description_markdown  # the session links back to the change
    told = db.session.scalars(select(Notification).where(Notification.event == "training.draft_session")).all()
    assert [n.user_id for n in told] == [company["trainer"].id] and told[0].link == f"/training/sessions/{draft.id}"


def test_the_signal_firing_twice_drafts_once(company, new_request, make_window):
    change = _implemented_emergency(company, new_request, make_window)
    signals.change_implemented.send(change, affected_roles=["staff"], affected_department_ids=[], processes=[])
    assert db.session.scalar(select(func.count()).select_from(TrainingSession)) == 1


def test_a_change_in_a_release_waits_for_the_release(company, on_agenda):
    from datetime import timedelta

    from rollout.timeutil import local_today
    change, window = on_agenda(affected_roles=["staff"])
    services.decide(change, "approved", "同意", company["lead"], window)
    release = services.save_release("第1批", local_today() + timedelta(days=5), company["lead"])
    services.schedule(change, release, company["lead"])
    services.move(change, "implementing", company["lead"])
    services.move(change, "implemented", company["lead"])
    assert db.session.scalar(select(func.count()).select_from(TrainingSession)) == 0
    services.implement_release(release, company["lead"])
    assert db.session.scalars(select(TrainingSession.release_id)).all() == [release.id]


def test_a_failing_draft_does_not_undo_the_emergency(company, new_request, make_window, monkeypatch):
    from training import services as training_services

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(training_services, "draft_after_lone_change_session", broken)
    change = _implemented_emergency(company, new_request, make_window)
    assert change.state == "implemented" and db.session.scalar(select(TrainingSession.id)) is None
