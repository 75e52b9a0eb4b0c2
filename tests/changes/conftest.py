"""Helpers for change-request tests: windows around 'now' and requests in a given state."""
from datetime import timedelta

import pytest

from changes import services
from changes.models import ReviewWindow
from rollout.extensions import db
from rollout.timeutil import utcnow


@pytest.fixture
def make_window():
    """``make_window(days_ahead, cutoff_hours=24)``: an open window starting that many days from now."""
    def make(days_ahead: float, cutoff_hours: float = 24, title: str = "变更评审会") -> ReviewWindow:
        starts_at = utcnow().replace(microsecond=0) + timedelta(days=days_ahead)
        window = ReviewWindow(title=title, starts_at=starts_at, ends_at=starts_at + timedelta(hours=1),
                              cutoff_at=starts_at - timedelta(hours=cutoff_hours))
        db.session.add(window)
        db.session.commit()
        return window
    return make


@pytest.fixture
def new_request(company):
    """``new_request(user_key='staff', **fields)``: a committed draft by that company user."""
    def make(user_key: str = "staff", title: str = "商机阶段增加方案评审", kind: str = "normal", **fields):
        change = services.create_change_request(company[user_key], title, "在报价前增加方案评审阶段。",
                                                "减少大客户项目返工。", kind, **fields)
        db.session.commit()
        return change
    return make


@pytest.fixture
def on_agenda(company, new_request, make_window):
    """A normal request submitted, assessed and waiting on a window 3 days ahead (returned with it)."""
    def make(**fields):
        window = fields.pop("window", None) or services.window_for_submission(utcnow()) or make_window(3)
        change = new_request(**fields)
        services.submit(change, change.requester)
        change.window = window
        services.assess(change, company["lead"], "材料齐全")
        db.session.commit()
        return change, window
    return make
