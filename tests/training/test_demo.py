"""The training demo builds on the demo company and covers what the issue asks for."""
from sqlalchemy import func, select

from rollout.accounts.models import User
from rollout.demo import DEMO_USERS, DemoContext, _departments
from rollout.extensions import db
from rollout.timeutil import local_today
from training import demo, services, support
from training.models import Enrolment, FaqArticle, SupportRequest, Track, TrainingSession


def test_demo_data(app):
    today = local_today()
    ctx = DemoContext(today=today)
    ctx.departments = _departments(today)
    for username, name, code, roles, is_seed in DEMO_USERS:
        user = User(username=username, display_name=name, password_hash="x", department=ctx.departments[code],
                    is_seed_user=is_seed)
        user.set_roles(roles)
        db.session.add(user)
        ctx.users[username] = user
    db.session.flush()
    demo.load(ctx)
    db.session.commit()
    assert {t.role for t in db.session.scalars(select(Track).where(Track.is_required.is_(True)))} >= {
        "staff", "head", "admin"}
    assert db.session.scalar(select(func.count()).select_from(FaqArticle)) == 20
    assert db.session.scalar(select(func.count()).select_from(Enrolment).where(Enrolment.status == "waitlisted")) >= 2
    past = db.session.scalars(select(TrainingSession).where(TrainingSession.starts_at < services.utcnow())).all()
    assert past and all(e.attendance for e in db.session.scalars(select(Enrolment).where(
        Enrolment.session_id.in_([s.id for s in past]))))
    coverage = {c.department.name: c for c in support.coverage_by_department()}
    assert not coverage["客服部"].seed_users
    assert all(c.seed_users for name, c in coverage.items() if name != "客服部")
    assert services.completion_matrix().overdue
    # support: an answer that helped, one that did not (reopened) and a question from an unhelpful article
    requests = db.session.scalars(select(SupportRequest)).all()
    assert any(r.status == "solved" and r.replies for r in requests)
    reopened = [r for r in requests if r.reopened_at is not None]
    assert reopened and reopened[0].status == "open" and reopened[0] in support.waiting_for(reopened[0].seed_user)
    assert support.escalate_overdue() == 0
    assert any(r.asked_from_article is not None for r in requests)
