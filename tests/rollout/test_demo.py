"""The demo company reads as a Chinese company's data, whichever language the loading terminal speaks."""
from sqlalchemy import select

from changes.models import ChangeRequest
from rollout.demo import load_demo
from rollout.extensions import db
from rollout.imports.models import ImportRowError
from surveys.models import Requirement
from training.models import FaqArticle


def test_text_the_services_write_while_loading_is_in_chinese(app):
    load_demo(force=True)
    retro_request = db.session.scalar(select(ChangeRequest).where(ChangeRequest.description.contains("/retros/")))
    assert "复盘" in retro_request.description and "复盘" in retro_request.reason
    assert "From the retro" not in retro_request.description and "[打开复盘会](/retros/" in retro_request.description
    article = db.session.scalar(select(FaqArticle).where(FaqArticle.source == "retro"))
    assert "From the retro" not in article.body_markdown and "来自复盘会" in article.body_markdown
    assert "/retros/" not in article.body_markdown  # the company reads it; the team's retro is not theirs
    merged = db.session.scalar(select(Requirement).where(Requirement.description.contains("“离职人员客户自动回收”")))
    assert "From merged duplicate" not in merged.description
    assert "电话号码无效" in db.session.scalar(select(ImportRowError.message))


def test_the_demos_absent_reps_recorded_nothing_after_their_team_went_live(app):
    from datetime import datetime, time

    from rollout.accounts.models import Department, User
    from rollout.plans.models import Activity, Customer, Opportunity, Quote
    from rollout.timeutil import local_to_utc
    load_demo(force=True)
    went_live_on = db.session.scalar(select(Department.go_live_on).where(Department.code == "sales-1"))
    went_live_at = local_to_utc(datetime.combine(went_live_on, time(0)))
    absent = db.session.scalars(select(User).where(User.username.in_(("rep6", "rep13")))).all()
    assert [user.last_login_at for user in absent] == [None, None]
    for model, owner in ((Activity, Activity.user_id), (Opportunity, Opportunity.owner_id), (Quote, Quote.owner_id),
                         (Customer, Customer.created_by_id)):
        recorded = db.session.scalars(select(model.created_at).where(owner.in_([user.id for user in absent]))).all()
        assert recorded, model  # they worked before go-live …
        assert max(recorded) < went_live_at, model  # … and not since
