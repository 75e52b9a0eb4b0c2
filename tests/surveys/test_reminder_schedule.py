"""The survey page's automatic reminder days say what became of each day that has come: sent and to how
many, or why nobody was (or will be) reminded; the days read as a list in the reader's language."""
from datetime import datetime, time, timedelta

from sqlalchemy import insert

from rollout.audit.models import AuditEntry
from rollout.extensions import db
from rollout.timeutil import local_to_utc, local_today
from surveys import services
from tests.conftest import chinese_client
from tests.surveys.conftest import GOOD_ANSWERS, build_survey


def _survey(company, closes_in, invited_days_ago, open_it=True):
    survey = build_survey(company["lead"], departments=[company["departments"]["sales"]], roles=["staff"],
                          open_it=open_it)
    today = local_today()
    survey.closes_on = today + timedelta(days=closes_in)
    invitations = services.invite(survey, [company["staff"], company["staff2"]],
                                  today=today - timedelta(days=invited_days_ago))
    db.session.commit()
    return survey, invitations


def _states(survey):
    return [(r.day - local_today(), r.state, r.count) for r in services.reminder_schedule(survey)]


def _run(survey, day, detail):
    db.session.execute(insert(AuditEntry), [{
        "created_at": local_to_utc(datetime.combine(day, time(9))), "action": "survey.remind",
        "entity": "surveys", "entity_id": str(survey.id), "detail": detail}])


def test_a_reminder_sent_today_says_to_how_many_and_the_page_lists_the_days_with_and(company, client_as, app):
    survey, _invitations = _survey(company, closes_in=3, invited_days_ago=5)
    assert _states(survey) == [(timedelta(0), "due", 2), (timedelta(days=3), "coming", 0)]
    page = client_as("lead").get(f"/surveys/{survey.id}").get_data(as_text=True)
    assert "goes out today to the 2 people who have not answered" in page
    services.send_automatic_reminders()
    db.session.commit()
    assert _states(survey) == [(timedelta(0), "sent", 2), (timedelta(days=3), "coming", 0)]
    page = client_as("lead").get(f"/surveys/{survey.id}").get_data(as_text=True)
    today, closing = local_today().isoformat(), survey.closes_on.isoformat()
    assert (f"on {today} (3 days before closing) and {closing} (on the closing day).") in page
    assert f"{today} (today, 3 days before closing): sent to 2 people." in page
    chinese = chinese_client(app, company["lead"]).get(f"/surveys/{survey.id}").get_data(as_text=True)
    assert f"{today}（今天，截止前 3 天）：已发给 2 人。" in chinese


def test_no_reminder_is_promised_for_today_when_everyone_was_contacted_yesterday(company, client_as):
    survey, _invitations = _survey(company, closes_in=3, invited_days_ago=1)
    assert _states(survey)[0] == (timedelta(0), "quiet", 2)
    page = client_as("lead").get(f"/surveys/{survey.id}").get_data(as_text=True)
    assert "nobody is reminded: the 2 people who have not answered were all invited or reminded" in page
    assert "goes out today" not in page
    # And the daily job indeed reminds nobody.
    assert services.send_automatic_reminders() == []


def test_nobody_to_remind_when_everyone_answered(company):
    survey, invitations = _survey(company, closes_in=3, invited_days_ago=5)
    for invitation in invitations:
        services.submit_response(invitation, GOOD_ANSWERS)
    assert _states(survey)[0] == (timedelta(0), "everyone_answered", 0)


def test_a_draft_survey_promises_no_reminder_today(company, client_as):
    survey, _invitations = _survey(company, closes_in=3, invited_days_ago=5, open_it=False)
    assert _states(survey)[0] == (timedelta(0), "not_open", 0)
    page = client_as("lead").get(f"/surveys/{survey.id}").get_data(as_text=True)
    assert "no reminder: the survey is not taking answers" in page


def test_past_days_say_whether_they_were_sent_and_a_late_run_counts_for_the_day_it_made_up(company, client_as):
    # Reminder days: 3 days ago (nothing recorded) and today (due).
    survey, _invitations = _survey(company, closes_in=0, invited_days_ago=10)
    assert _states(survey) == [(timedelta(days=-3), "missed", 0), (timedelta(0), "due", 2)]
    page = client_as("lead").get(f"/surveys/{survey.id}").get_data(as_text=True)
    assert "(3 days before closing): no reminder went out." in page

    # Reminder days: 2 days ago, made up yesterday by a run for 2 people, and tomorrow.
    later, _invitations = _survey(company, closes_in=1, invited_days_ago=10)
    _run(later, local_today() - timedelta(days=1), "reminded=2 automatic")
    _run(later, local_today() - timedelta(days=1), "reminded=two automatic")  # unreadable: left out, no error
    _run(later, local_today() - timedelta(days=1), "reminded=5")  # a reminder by hand is not automatic
    db.session.commit()
    schedule = services.reminder_schedule(later)
    assert [(r.state, r.count, r.sent_on) for r in schedule] == [
        ("sent", 2, local_today() - timedelta(days=1)), ("coming", 0, None)]
    page = client_as("lead").get(f"/surveys/{later.id}").get_data(as_text=True)
    assert f"sent on {(local_today() - timedelta(days=1)).isoformat()} to 2 people." in page


def test_a_missed_day_not_made_up_yet_goes_out_today(company):
    survey, _invitations = _survey(company, closes_in=1, invited_days_ago=10)
    assert _states(survey) == [(timedelta(days=-2), "due", 2), (timedelta(days=1), "coming", 0)]
    assert [n for _s, n in services.send_automatic_reminders()] == [2]
    assert _states(survey)[0] == (timedelta(days=-2), "sent", 2)


def test_the_schedule_reads_the_trail_in_a_fixed_number_of_statements(company, count_statements):
    survey, _invitations = _survey(company, closes_in=0, invited_days_ago=10)
    with count_statements() as few:
        services.reminder_schedule(survey)
    for days_ago in (3, 2, 1):
        _run(survey, local_today() - timedelta(days=days_ago), "reminded=1 automatic")
    db.session.commit()
    with count_statements() as many:
        services.reminder_schedule(survey)
    assert many.count == few.count
    assert sum("FROM audit_entries" in statement for statement in many.statements) == 1
