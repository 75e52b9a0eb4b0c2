"""iCalendar files: timezone, stable UIDs, SEQUENCE, cancellations, and the personal feed."""
from datetime import date, datetime

from icalendar import Calendar
from sqlalchemy import select

from rollout.accounts.models import User
from rollout.extensions import db
from rollout.reports.calendar import CalendarItem, build_calendar, personal_feed_items, register_feed_provider


def _events(data: bytes):
    calendar = Calendar.from_ical(data)
    return calendar, [component for component in calendar.walk("VEVENT")]


def test_times_are_in_shanghai_with_a_vtimezone(app):
    item = CalendarItem(uid="session-7@rollout-desk", summary="培训：销售漏斗录入",
                        start_at=datetime(2026, 12, 3, 6, 0), end_at=datetime(2026, 12, 3, 7, 30),
                        location="3楼大会议室", description="请提前安装客户端", sequence=2)
    with app.app_context():
        data = build_calendar([item], "培训日程")
    calendar, [event] = _events(data)
    assert calendar["METHOD"] == "PUBLISH" and calendar["X-WR-CALNAME"] == "培训日程"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    start = event.decoded("DTSTART")
    assert (start.hour, start.minute, str(start.tzinfo)) == (14, 0, "Asia/Shanghai")
    assert event.decoded("DTEND").hour == 15
    assert str(event["UID"]) == "session-7@rollout-desk" and int(event["SEQUENCE"]) == 2
    assert str(event["SUMMARY"]) == "培训：销售漏斗录入" and str(event["LOCATION"]) == "3楼大会议室"
    assert b"DTSTART;TZID=Asia/Shanghai:20261203T140000" in data
    assert event.decoded("DTSTAMP").tzinfo is not None


def test_a_title_with_a_line_break_makes_a_calendar_that_parses(app):
    item = CalendarItem(uid="session-8@rollout-desk", summary="报表解读\r\n第二行",
                        start_at=datetime(2026, 12, 3, 6, 0), end_at=datetime(2026, 12, 3, 7, 30))
    with app.app_context():
        data = build_calendar([item], "报表解读\r\n第二行")
    calendar, [event] = _events(data)
    assert calendar["X-WR-CALNAME"] == "报表解读 第二行" and "第二行" in str(event["SUMMARY"])


def test_the_timezone_is_configurable(app, monkeypatch):
    monkeypatch.setitem(app.config, "CALENDAR_TIMEZONE", "Europe/Berlin")
    with app.app_context():
        data = build_calendar([CalendarItem("x@r", "会", datetime(2026, 12, 3, 6, 0), datetime(2026, 12, 3, 7, 0))],
                              "c")
    assert b"DTSTART;TZID=Europe/Berlin:20261203T070000" in data


def test_an_update_keeps_the_uid_and_raises_the_sequence_and_a_cancel_says_so(app):
    before = CalendarItem("release-3@rollout-desk", "版本发布 1.3", datetime(2026, 12, 10, 2), datetime(2026, 12, 10, 4))
    after = CalendarItem("release-3@rollout-desk", "版本发布 1.3", datetime(2026, 12, 11, 2), datetime(2026, 12, 11, 4),
                         sequence=1)
    cancelled = CalendarItem("release-3@rollout-desk", "版本发布 1.3", datetime(2026, 12, 11, 2),
                             datetime(2026, 12, 11, 4), sequence=2)
    with app.app_context():
        _, [first] = _events(build_calendar([before], "c"))
        _, [second] = _events(build_calendar([after], "c"))
        calendar, [third] = _events(build_calendar([cancelled], "c", method="CANCEL"))
    assert first["UID"] == second["UID"] == third["UID"]
    assert [int(e["SEQUENCE"]) for e in (first, second, third)] == [0, 1, 2]
    assert str(first["STATUS"]) == "CONFIRMED"
    assert calendar["METHOD"] == "CANCEL" and str(third["STATUS"]) == "CANCELLED"


def test_all_day_items(app):
    with app.app_context():
        _, [event] = _events(build_calendar([CalendarItem("d@r", "上线日", date(2026, 12, 1))], "c"))
    assert event.decoded("DTSTART") == date(2026, 12, 1) and event.decoded("DTEND") == date(2026, 12, 2)


def test_personal_feed_by_token(client, company, app):
    staff = company["staff"]
    calls = []

    def provider(user):
        calls.append(user.id)
        return [CalendarItem(f"test-{user.id}@r", "培训：客户录入", datetime(2026, 12, 3, 6), datetime(2026, 12, 3, 7))]

    register_feed_provider(provider)
    try:
        response = client.get(f"/calendar/{staff.calendar_token}.ics")
        assert response.status_code == 200 and response.mimetype == "text/calendar"
        _, events = _events(response.data)
        summaries = {str(e["SUMMARY"]) for e in events}
        assert "培训：客户录入" in summaries
        # 销售部 goes live on 2026-12-01 (company fixture); staff of its team see it.
        assert any(s.startswith("Go-live") and "销售部" in s for s in summaries)
        assert calls == [staff.id]
    finally:
        from rollout.reports.calendar import FEED_PROVIDERS
        FEED_PROVIDERS.remove(provider)


def test_unknown_or_reset_tokens_are_not_found(client_as, client, company):
    staff = company["staff"]
    old_token = staff.calendar_token
    assert client.get("/calendar/not-a-token.ics").status_code == 404
    assert client.get(f"/calendar/{old_token}.ics").status_code == 200
    assert client_as("staff").post("/notifications/calendar/reset").status_code == 302
    db.session.expire_all()
    new_token = db.session.scalar(select(User.calendar_token).where(User.id == staff.id))
    assert new_token != old_token
    assert client.get(f"/calendar/{old_token}.ics").status_code == 404
    assert client.get(f"/calendar/{new_token}.ics").status_code == 200


def test_inactive_users_feed_is_gone(client, company):
    staff = company["staff"]
    staff.is_active_account = False
    db.session.commit()
    assert client.get(f"/calendar/{staff.calendar_token}.ics").status_code == 404


def test_go_live_sequence_rises_when_the_date_moves(app, company, client_as):
    from rollout.reports.services import go_live_items
    sales = company["departments"]["sales"]
    staff = company["staff"]
    [before] = [i for i in go_live_items(staff) if "销售部" in i.summary]
    sales.go_live_on = date(2026, 12, 15)
    db.session.commit()
    [after] = [i for i in go_live_items(staff) if "销售部" in i.summary]
    assert before.uid == after.uid and after.sequence == before.sequence + 1
    assert after.start_at == date(2026, 12, 15)
    # Leads see every department's go-live; staff only their own department's.
    assert {i.uid for i in go_live_items(company["lead"])} >= {before.uid}
    assert not [i for i in go_live_items(company["finance"]) if "销售部" in i.summary]
    assert personal_feed_items(staff)


def test_a_reps_feed_has_their_own_teams_go_live_not_the_next_teams(app, company):
    from rollout.reports.services import go_live_items
    sales1, sales2 = company["departments"]["sales1"], company["departments"]["sales2"]
    sales1.go_live_on, sales2.go_live_on = date(2026, 11, 16), date(2026, 12, 7)
    db.session.commit()
    summaries = [item.summary for item in go_live_items(company["staff2"])]
    assert any(sales2.name in s for s in summaries) and any("销售部" in s for s in summaries)
    assert not any(sales1.name in s for s in summaries)
    head_sees = [item.summary for item in go_live_items(company["head"])]
    assert any(sales1.name in s for s in head_sees) and any(sales2.name in s for s in head_sees)
