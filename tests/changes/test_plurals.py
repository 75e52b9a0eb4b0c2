"""Counts of one on the change pages read in the singular in English."""
from datetime import time, timedelta

from changes import services
from changes.labels import risk_reason_text
from rollout.extensions import db
from rollout.timeutil import local_today


def test_a_request_deferred_once_then_decided(client_as, company, on_agenda, make_window):
    first, second = make_window(3), make_window(10)
    change, _ = on_agenda(window=first)
    services.decide(change, "deferred", "再议", company["lead"], first)
    db.session.commit()
    lead = client_as("lead")
    assert "Deferred 1 time<" in lead.get(f"/changes/{change.id}").get_data(as_text=True)
    assert "deferred 1 time<" in lead.get(f"/changes/windows/{second.id}").get_data(as_text=True)
    services.decide(change, "approved", "同意", company["lead"], second)
    db.session.commit()
    metrics = lead.get("/changes/metrics").get_data(as_text=True)
    assert "— 1 time<" in metrics and " days over 1 decision<" in metrics


def test_a_cutoff_of_one_hour(client_as, company):
    day = local_today() + timedelta(days=1)
    services.save_cadence("周三评审会", weekday=day.weekday(), every_n_weeks=1, starts_on=day, start_time=time(10, 0),
                          cutoff_hours=1)
    db.session.commit()
    assert "<td>1 hour before</td>" in client_as("lead").get("/changes/cadences").get_data(as_text=True)
    assert "cutoff 1 hour before" in client_as("lead").get("/changes/windows").get_data(as_text=True)


def test_risk_reasons_count_in_the_singular(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert risk_reason_text({"rule": "short_notice", "detail": 1, "limit": 7}) == \
            "Submitted only 1 day before the wanted date (fewer than 7)"
        assert risk_reason_text({"rule": "many_roles", "detail": 3, "limit": 2}) == "Affects 3 roles (more than 2)"
