"""Releases keep their rhythm as time passes: an overdue release is recalled to its owner and marked on the
pages; its notes say the day it went live, not a planned day already past; light badges are readable."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from changes import services
from changes.models import Release
from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.timeutil import local_today

EVENT = services.RELEASE_OVERDUE_EVENT


def _approved(company, on_agenda, title="报价审批改为两级"):
    change, window = on_agenda(title=title)
    services.decide(change, "approved", "同意", company["lead"], window)
    return change


def _release(company, on_agenda, planned_on, name="第1批", creator="lead", changes=1) -> Release:
    """A release holding ``changes`` scheduled requests, planned for ``planned_on`` (a passed day too, as a
    release whose day passed while it waited)."""
    release = services.save_release(name, local_today() + timedelta(days=5), company[creator])
    for number in range(changes):
        services.schedule(_approved(company, on_agenda, f"{name} 的变更 {number}"), release, company["lead"])
    release.planned_on = planned_on
    db.session.commit()
    return release


def _reminders(user=None) -> list[Notification]:
    query = select(Notification).where(Notification.event == EVENT)
    if user is not None:
        query = query.where(Notification.user_id == user.id)
    return list(db.session.scalars(query.order_by(Notification.id)))


def _sent_on(day) -> None:
    """Date the reminders sent so far as if the job had run on ``day`` (the job reads the clock it is given)."""
    db.session.execute(update(Notification).where(Notification.event == EVENT)
                       .values(created_at=services._day_start(day) + timedelta(hours=1)))
    db.session.commit()


# --- the reminder -----------------------------------------------------------------------------------
def test_an_overdue_release_is_recalled_to_its_owner_the_day_after_then_weekly(company, on_agenda):
    today = local_today()
    release = _release(company, on_agenda, today)
    assert services.remind_overdue_releases(today) == 0  # its day has not passed yet
    first = today + timedelta(days=1)
    assert services.remind_overdue_releases(first) == 1
    [reminder] = _reminders()
    assert reminder.user_id == company["lead"].id  # who planned it, and may mark it live
    assert release.name in reminder.subject and today.isoformat() in reminder.subject and "逾期" in reminder.subject
    assert reminder.link == f"/changes/releases/{release.id}"
    assert "1 天前" in reminder.body_markdown and release.requests[0].reference in reminder.body_markdown
    _sent_on(first)
    # Safe to run twice a day, and quiet for the rest of the week.
    for day in (first, first + timedelta(days=1), first + timedelta(days=6)):
        assert services.remind_overdue_releases(day) == 0, day
    assert len(_reminders()) == 1
    assert services.remind_overdue_releases(first + timedelta(days=7)) == 1
    assert len(_reminders()) == 2 and "8 天前" in _reminders()[-1].body_markdown
    # Nobody else hears of it.
    assert {n.user_id for n in _reminders()} == {company["lead"].id}


def test_a_release_live_moved_or_emptied_is_not_overdue(company, on_agenda):
    today = local_today()
    live = _release(company, on_agenda, today + timedelta(days=3), name="已上线")
    services.implement_release(live, company["lead"])
    live.planned_on = today - timedelta(days=3)
    moved = _release(company, on_agenda, today - timedelta(days=2), name="已改期")
    services.save_release(moved.name, today + timedelta(days=4), company["lead"], moved)
    emptied = _release(company, on_agenda, today - timedelta(days=2), name="已取消")
    services.cancel(emptied.requests[0], company["lead"], "不做了")
    db.session.commit()
    assert services.remind_overdue_releases(today) == 0
    assert not any(services.is_overdue(r, today) for r in (live, moved, emptied))
    # Moved to today: overdue tomorrow.
    services.save_release(moved.name, today, company["lead"], moved)
    db.session.commit()
    assert services.remind_overdue_releases(today + timedelta(days=1)) == 1


def test_a_release_moved_after_a_reminder_and_late_again_is_recalled_at_once(company, on_agenda):
    today = local_today()
    release = _release(company, on_agenda, today - timedelta(days=1))
    assert services.remind_overdue_releases(today) == 1
    _sent_on(today)
    release.planned_on = today + timedelta(days=1)  # moved to tomorrow, then that day passes too
    db.session.commit()
    assert services.remind_overdue_releases(today + timedelta(days=2)) == 1


def test_without_its_planner_the_leads_are_recalled_in_their_own_language(company, factory, on_agenda):
    today = local_today()
    release = _release(company, on_agenda, today - timedelta(days=1), creator="admin")
    company["admin"].is_active_account = False  # the admin who planned it has left
    second_lead = factory.user("lead", department=company["departments"]["marketing"], username="lead2")
    second_lead.locale = "en"
    db.session.commit()
    assert services.remind_overdue_releases(today) == 1
    by_user = {n.user_id: n for n in _reminders()}
    assert set(by_user) == {company["lead"].id, second_lead.id}
    english = by_user[second_lead.id]
    assert english.subject == (f"Release {release.name} is overdue: planned for "
                               f"{(today - timedelta(days=1)).isoformat()}, not live yet")
    assert "1 day ago" in english.body_markdown and "mark it implemented" in english.body_markdown
    assert "逾期" in by_user[company["lead"].id].subject


def test_the_remind_command(company, on_agenda, runner):
    _release(company, on_agenda, local_today() - timedelta(days=1))
    first = runner.invoke(args=["changes", "remind"])
    assert first.exit_code == 0 and "1 overdue release recalled." in first.output
    again = runner.invoke(args=["changes", "remind"])
    assert again.exit_code == 0 and "0 overdue releases recalled." in again.output
    assert len(_reminders()) == 1


# --- the pages ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("language, overdue, alert", [
    ("zh-CN", "已逾期", "仍未标记为已实施"), ("en", "Overdue", "has passed and it is not marked live")])
def test_the_releases_list_and_page_mark_an_overdue_release(company, on_agenda, client_as, language, overdue,
                                                            alert):
    today = local_today()
    late = _release(company, on_agenda, today - timedelta(days=2), name="迟到批次")
    coming = _release(company, on_agenda, today + timedelta(days=2), name="下周批次")
    client = client_as("lead")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    listing = client.get("/changes/releases").get_data(as_text=True)
    rows = {name: row for row in re.findall(r"<tr.*?</tr>", listing, re.S)
            for name in (late.name, coming.name) if name in row}
    assert 'data-overdue="1"' in rows[late.name] and overdue in rows[late.name]
    assert 'data-overdue' not in rows[coming.name] and overdue not in rows[coming.name]
    page = client.get(f"/changes/releases/{late.id}").get_data(as_text=True)
    assert 'data-testid="release-overdue"' in page and alert in page
    assert 'data-testid="release-overdue"' not in client.get(f"/changes/releases/{coming.id}").get_data(as_text=True)


def test_a_department_reader_sees_a_release_overdue_even_with_none_of_its_requests(company, on_agenda, client_as):
    late = _release(company, on_agenda, local_today() - timedelta(days=2))
    listing = client_as("other_staff").get("/changes/releases").get_data(as_text=True)
    row = next(row for row in re.findall(r"<tr.*?</tr>", listing, re.S) if late.name in row)
    assert 'data-overdue="1"' in row


def test_the_releases_list_statement_count_does_not_grow_with_releases(company, on_agenda, client_as,
                                                                       count_statements):
    client = client_as("lead")
    today = local_today()

    def count() -> int:
        with count_statements() as counter:
            assert client.get("/changes/releases").status_code == 200
        return counter.count

    _release(company, on_agenda, today - timedelta(days=1), name="批次0")
    small = count()
    for number in range(1, 4):
        _release(company, on_agenda, today + timedelta(days=number - 2), name=f"批次{number}")
    assert count() == small


# --- release notes ------------------------------------------------------------------------------------
def test_stored_notes_say_the_day_it_went_live_not_the_planned_day(company, on_agenda):
    today = local_today()
    release = _release(company, on_agenda, today + timedelta(days=5))
    services.regenerate_notes(release)
    assert f"计划于 {(today + timedelta(days=5)).isoformat()} 发布。" in release.notes_markdown
    # Moved: the stored notes follow the new day.
    services.save_release(release.name, today + timedelta(days=8), company["lead"], release)
    assert f"计划于 {(today + timedelta(days=8)).isoformat()} 发布。" in release.notes_markdown
    assert (today + timedelta(days=5)).isoformat() not in release.notes_markdown
    # Its day passed, and it goes live late, today: notes and announcement say today.
    release.planned_on = today - timedelta(days=3)
    release.notes_markdown += "\n补充说明：报价单模板同步更新。\n"
    services.implement_release(release, company["lead"])
    assert f"已于 {today.isoformat()} 上线。" in release.notes_markdown
    assert "计划于" not in release.notes_markdown and "补充说明：报价单模板同步更新。" in release.notes_markdown
    bodies = db.session.scalars(select(Notification.body_markdown).where(Notification.event == "changes.release"))
    for body in bodies:
        assert f"已于 {today.isoformat()} 上线。" in body and "计划于" not in body


def test_notes_stored_in_english_are_restated_too(company, on_agenda):
    from flask_babel import force_locale
    today = local_today()
    release = _release(company, on_agenda, today + timedelta(days=5))
    with force_locale("en"):
        english = f"Planned for {(today + timedelta(days=5)).isoformat()}."
    release.notes_markdown = f"### {release.name}\n\n{english}\n\n- written in English\n"
    release.planned_on = today - timedelta(days=1)
    services.implement_release(release, company["lead"])
    assert "Planned for" not in release.notes_markdown
    assert f"已于 {today.isoformat()} 上线。" in release.notes_markdown and "- written in English" in release.notes_markdown


@pytest.mark.parametrize("language, words", [("zh-CN", "已于 {live} 上线（计划于 {planned}）"),
                                             ("en", "Live since {live} (planned for {planned})")])
def test_an_implemented_release_page_says_when_it_went_live(company, on_agenda, client_as, language, words):
    today = local_today()
    release = _release(company, on_agenda, today + timedelta(days=5))
    services.implement_release(release, company["lead"])
    db.session.commit()
    client = client_as("lead")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    page = client.get(f"/changes/releases/{release.id}").get_data(as_text=True)
    assert words.format(live=today.isoformat(), planned=(today + timedelta(days=5)).isoformat()) in page


# --- contrast ----------------------------------------------------------------------------------------------
def _luminance(rgb) -> float:
    def channel(value):
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4
    red, green, blue = (channel(v) for v in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def _contrast(foreground, background) -> float:
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


LIGHT_BADGE = (0xf8, 0xf9, 0xfa)  # Bootstrap 5.3's text-bg-light
#: Text colours Bootstrap 5.3 gives these classes on the light theme (text-muted is #212529 at 75 %).
TEXT_COLOURS = {"text-secondary": (0x6c, 0x75, 0x7d), "text-muted": (87, 90, 93), "text-body-secondary": (87, 90, 93),
                "text-dark-emphasis": (0x49, 0x50, 0x57), "text-secondary-emphasis": (0x2b, 0x2f, 0x32)}


def test_text_on_light_badges_meets_aa_contrast(company, new_request, client_as):
    services.submit(new_request(title="普通变更"), company["staff"])
    services.submit(new_request(title="标准变更", kind="standard"), company["staff"])
    services.cancel(new_request(title="作废变更"), company["staff"], "不需要了")
    db.session.commit()
    client = client_as("lead")
    badges = []
    for path in ("/changes/all", "/changes/", "/changes/board"):
        html = client.get(path).get_data(as_text=True)
        badges += [classes.split() for classes in re.findall(r'class="badge ([^"]*)"', html)]
    light = [classes for classes in badges if "text-bg-light" in classes]
    assert len(light) >= 3
    for classes in light:
        colour = next((TEXT_COLOURS[c] for c in classes if c in TEXT_COLOURS), (0, 0, 0))
        assert _contrast(colour, LIGHT_BADGE) >= 4.5, classes


# --- a request back on the agenda -------------------------------------------------------------------------
def test_a_request_deferred_before_reads_as_back_on_the_agenda_not_new(company, on_agenda, make_window):
    window = make_window(3)
    later = make_window(10, title="下次评审会")
    change, _window = on_agenda(window=window)
    fresh, _window = on_agenda(title="新提交的变更", window=window)
    services.decide(change, "deferred", "等财务口径", company["lead"], window)
    assert change.window_id == later.id
    fresh.window = later
    company["admin"].locale = "en"
    db.session.commit()
    services.send_agenda(later)
    bodies = dict(db.session.execute(select(Notification.user_id, Notification.body_markdown).where(
        Notification.event == "changes.agenda")).all())
    chinese, english = bodies[company["lead"].id], bodies[company["admin"].id]
    line = next(line for line in chinese.splitlines() if change.reference in line)
    assert line.endswith("已推迟 1 次")
    assert next(line for line in english.splitlines() if change.reference in line).endswith("deferred 1 time")
    assert "推迟" not in next(line for line in chinese.splitlines() if fresh.reference in line)
