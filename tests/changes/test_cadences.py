"""Review cadences: editing one fits its coming windows to the new rule, switching one off stops
its windows (the daily generate-windows job included), and the cadences pages with their checks."""
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from changes import services
from changes.models import ChangeRequest, ReviewCadence, ReviewWindow
from rollout.audit.models import AuditEntry
from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.timeutil import local_to_utc, local_today, to_local, utcnow


def _day(days_ahead: int):
    return local_today() + timedelta(days=days_ahead)


def _cadence(name="变更评审会", days_ahead=1, every_n_weeks=1, start=time(10, 0), cutoff_hours=0):
    """A committed weekly cadence whose first window is ``days_ahead`` days from today (none today)."""
    day = _day(days_ahead)
    cadence, _windows = services.save_cadence(name, weekday=day.weekday(), every_n_weeks=every_n_weeks,
                                              starts_on=day, start_time=start, cutoff_hours=cutoff_hours)
    db.session.commit()
    return cadence


def _windows(cadence) -> list[ReviewWindow]:
    return list(db.session.scalars(select(ReviewWindow).where(ReviewWindow.cadence_id == cadence.id)
                                   .order_by(ReviewWindow.starts_at)))


def _on_window(new_request, window) -> ChangeRequest:
    change = new_request()
    services.submit(change, change.requester)
    change.window = window
    db.session.commit()
    return change


# --- switching off and on ----------------------------------------------------------------------
def test_switched_off_cadence_generates_no_windows_and_hands_its_requests_on(company, new_request, runner):
    weekly = _cadence("周三评审会", days_ahead=1)
    other = _cadence("周五评审会", days_ahead=3)
    change = _on_window(new_request, _windows(weekly)[1])

    changes = services.set_cadence_active(weekly, False)
    db.session.commit()

    assert weekly.is_active is False
    assert _windows(weekly) == [] and len(changes.removed) == 9
    # The request moved to the first open window whose cutoff is still ahead: the other cadence's.
    assert change.window_id == _windows(other)[0].id and changes.requests_moved == 1
    # The service behind `rollout changes generate-windows` leaves a switched-off cadence alone ...
    assert all(window.cadence_id == other.id for window in services.extend_all_cadences())
    assert services.generate_windows(weekly) == []
    # ... and so does the command itself.
    assert runner.invoke(args=["changes", "generate-windows"]).exit_code == 0
    assert _windows(weekly) == []

    changes = services.set_cadence_active(weekly, True)
    db.session.commit()
    assert weekly.is_active is True and len(changes.created) == 9 == len(_windows(weekly))


def test_switching_off_keeps_a_coming_window_in_which_decisions_were_taken(company, on_agenda):
    cadence = _cadence()
    decided_window = _windows(cadence)[2]
    change, _window = on_agenda(window=decided_window)
    services.decide(change, "approved", "同意，提前决定", company["lead"], decided_window)
    db.session.commit()

    changes = services.set_cadence_active(cadence, False)
    db.session.commit()
    assert _windows(cadence) == [decided_window]
    assert changes.kept == [services.window_name(decided_window)]
    assert len(changes.removed) == 8


def test_switching_on_into_another_cadences_slot_is_refused_and_stays_off(company):
    cadence = _cadence("评审会甲")
    services.set_cadence_active(cadence, False)
    rival = _cadence("评审会乙", start=time(10, 30))
    with pytest.raises(ServiceError) as error:
        services.set_cadence_active(cadence, True)
    assert "评审会乙" in error.value.message
    assert cadence.is_active is False and _windows(cadence) == []
    assert len(_windows(rival)) == 9


# --- editing ------------------------------------------------------------------------------------
def test_new_weekday_moves_the_coming_windows_and_keeps_their_agendas(company, new_request):
    cadence = _cadence(days_ahead=1)
    before = _windows(cadence)
    assert len(before) == 9
    change = _on_window(new_request, before[1])
    before[1].agenda_sent_at = utcnow()
    db.session.commit()
    new_day = _day(2)

    changes = services.update_cadence(cadence, weekday=new_day.weekday(), start_time=time(15, 30))
    db.session.commit()

    after = _windows(cadence)
    assert [to_local(w.starts_at).date() for w in after] == [new_day + timedelta(weeks=n) for n in range(8)]
    assert all(to_local(w.starts_at).time() == time(15, 30) for w in after)
    # The same windows moved (calendars see a new SEQUENCE); the one the rule no longer reaches is gone.
    assert {w.id for w in after} < {w.id for w in before}
    assert all(w.sequence == 1 for w in after)
    assert len(changes.moved) == 8 and len(changes.removed) == 1 and changes.created == []
    assert change.window_id == before[1].id
    # Reviewers were sent the old time, so the agenda goes out again.
    assert db.session.get(ReviewWindow, before[1].id).agenda_sent_at is None


def test_fewer_meetings_remove_the_surplus_windows_and_move_their_requests(company, new_request):
    cadence = _cadence(days_ahead=1)
    before = _windows(cadence)
    change = _on_window(new_request, before[1])

    changes = services.update_cadence(cadence, every_n_weeks=2, name="双周评审会")
    db.session.commit()

    after = _windows(cadence)
    assert [w.id for w in after] == [w.id for w in before[::2]]
    assert {w.title for w in after} == {"双周评审会"}
    assert len(changes.removed) == 4 and changes.moved == []
    # Its window was removed: the request is on the first window whose cutoff is still ahead.
    assert change.window_id == before[0].id and changes.requests_moved == 1


def test_an_edit_that_would_clash_is_refused_and_changes_nothing(company):
    cadence = _cadence("周三评审会", days_ahead=1)
    _cadence("周五评审会", days_ahead=3)
    starts = [w.starts_at for w in _windows(cadence)]
    with pytest.raises(ServiceError) as error:
        services.update_cadence(cadence, weekday=_day(3).weekday())
    assert "周五评审会" in error.value.message and error.value.field == "start_time"
    assert cadence.weekday == _day(1).weekday()
    assert [w.starts_at for w in _windows(cadence)] == starts


def test_editing_a_switched_off_cadence_creates_no_windows(company):
    cadence = _cadence()
    services.set_cadence_active(cadence, False)
    changes = services.update_cadence(cadence, every_n_weeks=3)
    assert cadence.every_n_weeks == 3 and changes.created == [] and _windows(cadence) == []


# --- pages --------------------------------------------------------------------------------------
FORM = {"name": "变更评审会", "weekday": "2", "every_n_weeks": "1", "start_time": "14:00",
        "duration_minutes": "60", "cutoff_hours": "24"}


def _form(cadence, **changes) -> dict:
    return {**FORM, "weekday": str(cadence.weekday), "starts_on": cadence.starts_on.isoformat(), **changes}


def test_cadences_page_lists_rhythm_next_window_and_status(client_as, company):
    on = _cadence("周三评审会", days_ahead=1)
    off = _cadence("月度评审会", days_ahead=2, every_n_weeks=4)
    services.set_cadence_active(off, False)
    db.session.commit()
    response = client_as("lead").get("/changes/cadences")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "周三评审会" in page and "月度评审会" in page
    assert "Every 4 weeks on" in page
    assert to_local(_windows(on)[0].starts_at).strftime("%Y-%m-%d %H:%M") in page
    assert 'data-cadence="%d"' % on.id in page and "Switch off" in page and "Switch on" in page
    assert "Review cadences" in client_as("lead").get("/changes/windows").get_data(as_text=True)


def test_only_leads_and_admins_manage_cadences(client_as, company):
    cadence = _cadence()
    for role in ("head", "staff", "trainer"):
        client = client_as(role)
        assert client.get("/changes/cadences").status_code == 403
        assert client.get(f"/changes/cadences/{cadence.id}/edit").status_code == 403
        assert client.post(f"/changes/cadences/{cadence.id}/switch", data={"active": "off"}).status_code == 403
        assert "/changes/cadences" not in client.get("/changes/windows").get_data(as_text=True)
    assert client_as("admin").get(f"/changes/cadences/{cadence.id}/edit").status_code == 200
    assert cadence.is_active is True


@pytest.mark.parametrize("changes, message", [
    ({"name": ""}, "This field is required."),
    ({"every_n_weeks": "0"}, "Number must be between 1 and 12."),
    ({"duration_minutes": "abc"}, "Not a valid integer value."),
    ({"start_time": "25:99"}, "Not a valid time value."),
    ({"ends_on": "2000-01-01"}, "The end is before the start."),
])
def test_bad_edit_is_422_with_its_message_and_writes_nothing(client_as, company, changes, message):
    cadence = _cadence()
    windows = [(w.id, w.starts_at) for w in _windows(cadence)]
    response = client_as("lead").post(f"/changes/cadences/{cadence.id}/edit", data=_form(cadence, **changes))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert (cadence.name, cadence.every_n_weeks, cadence.duration_minutes) == ("变更评审会", 1, 60)
    assert [(w.id, w.starts_at) for w in _windows(cadence)] == windows
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.entity.in_(("review_cadences", "review_windows")), AuditEntry.action != "create")) == 0


def test_edit_that_yields_no_date_names_the_rule(client_as, company):
    cadence = _cadence()
    monday = local_today() + timedelta(days=7 - local_today().weekday())
    response = client_as("lead").post(f"/changes/cadences/{cadence.id}/edit", data=_form(
        cadence, weekday="4", starts_on=monday.isoformat(), ends_on=(monday + timedelta(days=2)).isoformat()))
    assert response.status_code == 422 and "yields no date" in response.get_data(as_text=True)
    db.session.expire_all()
    assert cadence.weekday == _day(1).weekday() and cadence.ends_on is None


def test_edit_saves_moves_windows_and_is_in_the_audit_trail(client_as, company):
    cadence = _cadence()
    client = client_as("lead")
    new_day = _day(2)
    response = client.post(f"/changes/cadences/{cadence.id}/edit", data=_form(
        cadence, name="周例会", weekday=str(new_day.weekday()), start_time="16:00"), follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The cadence 周例会 is saved." in page and "8 moved, 1 removed" in page
    db.session.expire_all()
    assert {to_local(w.starts_at).weekday() for w in _windows(cadence)} == {new_day.weekday()}
    edits = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "review_cadences",
                                                        AuditEntry.action == "update")).all()
    assert edits and "name" in edits[-1].changes and edits[-1].username == "lead"
    history = client.get(f"/changes/cadences/{cadence.id}/edit").get_data(as_text=True)
    assert 'data-testid="history"' in history and "Name" in history


def test_new_cadence_from_the_form(client_as, company):
    day = _day(1)
    response = client_as("lead").post("/changes/cadences/new", data={
        **FORM, "name": "周四评审会", "weekday": str(day.weekday()), "starts_on": day.isoformat()})
    assert response.status_code == 302 and response.headers["Location"].endswith("/changes/cadences")
    cadence = db.session.scalars(select(ReviewCadence)).one()
    assert cadence.name == "周四评审会" and cadence.is_active and len(_windows(cadence)) == 9


def test_the_new_cadence_form_suggests_a_name_in_the_readers_language(client_as, company):
    page = client_as("lead").get("/changes/cadences/new").get_data(as_text=True)
    assert 'value="Change review meeting"' in page
    chinese = client_as("lead")
    chinese.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    assert 'value="变更评审会"' in chinese.get("/changes/cadences/new").get_data(as_text=True)


def test_switch_off_and_on_from_the_page(client_as, company):
    cadence = _cadence()
    client = client_as("lead")
    response = client.post(f"/changes/cadences/{cadence.id}/switch", data={"active": "off"}, follow_redirects=True)
    assert "is switched off" in response.get_data(as_text=True)
    db.session.expire_all()
    assert cadence.is_active is False and _windows(cadence) == []
    switch = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "review_cadences",
                                                         AuditEntry.action == "update")).one()
    assert switch.changes["is_active"] == [True, False] and switch.username == "lead"
    assert client.post(f"/changes/cadences/{cadence.id}/switch", data={"active": "maybe"}).status_code == 422
    db.session.expire_all()
    assert cadence.is_active is False
    response = client.post(f"/changes/cadences/{cadence.id}/switch", data={"active": "on"}, follow_redirects=True)
    assert "is switched on" in response.get_data(as_text=True)
    db.session.expire_all()
    assert cadence.is_active is True and len(_windows(cadence)) == 9


def test_cadences_page_statement_count_does_not_grow_with_cadences(client_as, company, count_statements):
    client = client_as("lead")

    def count() -> int:
        with count_statements() as counter:
            assert client.get("/changes/cadences").status_code == 200
        return counter.count

    _cadence("评审会1", days_ahead=1)
    small = count()
    for n, hour in enumerate((8, 12, 16, 18), start=2):
        _cadence(f"评审会{n}", days_ahead=1, start=time(hour, 0))
    assert count() == small


def test_a_meeting_that_already_ended_today_is_not_created(company, monkeypatch):
    today = local_today()
    noon = local_to_utc(datetime.combine(today, time(12, 0)))
    monkeypatch.setattr(services, "utcnow", lambda: noon)
    morning, _created = services.save_cadence("早会评审", weekday=today.weekday(), every_n_weeks=1, starts_on=today,
                                              start_time=time(9, 0), duration_minutes=60)
    assert to_local(_windows(morning)[0].starts_at).date() == today + timedelta(weeks=1)
    # A meeting still going on at noon is created: it can still decide its agenda.
    midday, _created = services.save_cadence("午间评审", weekday=today.weekday(), every_n_weeks=1, starts_on=today,
                                             start_time=time(11, 30), duration_minutes=60)
    assert to_local(_windows(midday)[0].starts_at).date() == today
