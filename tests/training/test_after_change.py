"""A release that changes processes drafts a short training session for the affected roles."""
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from rollout.extensions import db
from rollout.notify.models import Notification
from training.models import TrainingSession


def test_release_implemented_creates_one_draft(app, company):
    signals = pytest.importorskip("changes.signals")
    release = SimpleNamespace(id=4242, name="V1.2 报价流程优化")
    processes = [SimpleNamespace(name="报价审批流程")]
    signals.release_implemented.send(release, affected_roles=["staff", "head"],
                                     affected_department_ids=[company["departments"]["sales"].id],
                                     processes=processes)
    signals.release_implemented.send(release, affected_roles=["staff"], affected_department_ids=[], processes=[])
    drafts = db.session.scalars(select(TrainingSession).where(TrainingSession.release_id == 4242)).all()
    assert len(drafts) == 1
    draft = drafts[0]
    assert draft.status == "draft" and draft.starts_at is None
    assert draft.target_role_list == ["head", "staff"]
    assert [d.code for d in draft.departments] == ["sales"]
    assert "V1.2 报价流程优化" in draft.title and "报价审批流程" in draft.description_markdown
    assert db.session.scalar(select(Notification.user_id).where(
        Notification.event == "training.draft_session")) == company["trainer"].id


def test_a_failing_draft_does_not_break_the_release(app, company, monkeypatch, caplog):
    signals = pytest.importorskip("changes.signals")
    from training import services

    def broken(*args, **kwargs):
        db.session.add(TrainingSession(title="half", kind="lecture", status="draft", capacity=1))
        db.session.flush()
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "draft_after_change_session", broken)
    signals.release_implemented.send(SimpleNamespace(id=7, name="V2"), affected_roles=["staff"],
                                     affected_department_ids=[], processes=[])
    db.session.commit()
    assert db.session.scalar(select(TrainingSession.id)) is None  # the savepoint rolled the half-write back
