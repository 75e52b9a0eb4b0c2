"""Surveys follow up on their own (run daily by `rollout surveys run-schedules`): those who have not answered
are reminded 3 days before the closing date and on the closing day, once each; when a survey closes, by its
date or by hand, its owner and the heads who manage it are told how many answered, once."""
from datetime import timedelta

from sqlalchemy import select

from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.timeutil import local_today
from surveys import services
from surveys.models import SurveyInvitation
from tests.conftest import chinese_client
from tests.surveys.conftest import GOOD_ANSWERS, build_survey


def _told(event: str, survey=None) -> list[Notification]:
    query = select(Notification).where(Notification.event == event).order_by(Notification.id)
    if survey is not None and event == "survey.closed":
        query = query.where(Notification.link == f"/surveys/{survey.id}/results")
    return db.session.scalars(query).all()


def _invitation(survey, user) -> SurveyInvitation:
    return db.session.scalar(select(SurveyInvitation).where(SurveyInvitation.survey_id == survey.id,
                                                            SurveyInvitation.user_id == user.id))


def _running(company, closes_in: int, invited_days_ago: int = 20, people=("staff", "staff2", "other_staff")):
    """An open survey of 销售部 owned by lead, closing ``closes_in`` days from today, with ``people`` invited
    ``invited_days_ago`` days ago."""
    survey = build_survey(company["lead"])
    survey.department = company["departments"]["sales"]
    survey.closes_on = local_today() + timedelta(days=closes_in)
    services.invite(survey, [company[key] for key in people], today=local_today() - timedelta(days=invited_days_ago))
    db.session.commit()
    return survey


# --- automatic reminders ----------------------------------------------------------------------------
def test_reminders_go_three_days_before_closing_and_on_the_last_day_once_each(company):
    survey = _running(company, closes_in=10)
    closes = survey.closes_on
    services.submit_response(_invitation(survey, company["other_staff"]), GOOD_ANSWERS)  # answered: left alone
    company["staff2"].is_active_account = False  # deactivated: left alone
    company["staff"].locale = "en"
    db.session.commit()

    assert services.send_automatic_reminders(closes - timedelta(days=4)) == []
    sent = services.send_automatic_reminders(closes - timedelta(days=3))
    assert [(s.id, count) for s, count in sent] == [(survey.id, 1)]
    reminders = _told("survey.reminder")
    assert [n.user_id for n in reminders] == [company["staff"].id]
    assert reminders[0].subject == f"Reminder: the survey “{survey.title}” closes on {closes.isoformat()}"
    assert reminders[0].link.endswith(_invitation(survey, company["staff"]).token)

    # Twice the same day, and the days between: nobody is reminded again.
    for day in (3, 3, 2, 1):
        assert services.send_automatic_reminders(closes - timedelta(days=day)) == []
    db.session.commit()

    assert [(s.id, n) for s, n in services.send_automatic_reminders(closes)] == [(survey.id, 1)]
    assert services.send_automatic_reminders(closes) == []
    last = _told("survey.reminder")[-1]
    assert (last.user_id, last.subject) == (company["staff"].id, f"Last day: the survey “{survey.title}” closes today")
    invitation = _invitation(survey, company["staff"])
    assert (invitation.reminder_count, invitation.last_reminded_on) == (2, closes)
    # After the closing date nothing goes out.
    assert services.send_automatic_reminders(closes + timedelta(days=1)) == []
    assert len(_told("survey.reminder")) == 2


def test_a_reminder_arrives_in_the_reader_s_language(company):
    survey = _running(company, closes_in=3, people=("staff",))
    company["staff"].locale = "zh_CN"
    db.session.commit()
    services.send_automatic_reminders(survey.closes_on - timedelta(days=3))
    assert _told("survey.reminder")[0].subject == \
        f"提醒：问卷“{survey.title}”将于 {survey.closes_on.isoformat()} 截止"


def test_a_missed_reminder_day_is_made_up_and_a_recent_invitation_or_reminder_counts(company):
    survey = _running(company, closes_in=10, people=("staff", "staff2", "other_staff"))
    closes = survey.closes_on
    # staff2 was invited again lately (a day before the reminder day), other_staff reminded by hand the day before.
    _invitation(survey, company["staff2"]).invited_on = closes - timedelta(days=4)
    _invitation(survey, company["other_staff"]).last_reminded_on = closes - timedelta(days=4)
    db.session.commit()
    # The job did not run 3 days before: it makes up for it the next day, for those not told lately.
    sent = services.send_automatic_reminders(closes - timedelta(days=2))
    assert [n.user_id for n in _told("survey.reminder")] == [company["staff"].id]
    assert sent[0][1] == 1
    # Someone reminded (by hand, or automatically) the day before the last day is not reminded on it.
    _invitation(survey, company["staff2"]).last_reminded_on = closes - timedelta(days=1)
    db.session.commit()
    services.send_automatic_reminders(closes)
    assert [n.user_id for n in _told("survey.reminder")] == [company["staff"].id, company["staff"].id,
                                                             company["other_staff"].id]


def test_a_manual_reminder_today_counts_and_the_manual_one_skips_deactivated_accounts(company):
    survey = _running(company, closes_in=1, invited_days_ago=5, people=("staff", "staff2"))
    company["staff2"].is_active_account = False
    db.session.commit()
    assert services.remind(survey) == 1  # the deactivated account is not reminded by hand either
    assert [n.user_id for n in _told("survey.reminder")] == [company["staff"].id]
    # Tomorrow is the closing day: reminded by hand today, staff gets no automatic reminder then.
    assert services.send_automatic_reminders(survey.closes_on) == []


def test_no_automatic_reminders_without_a_closing_date_before_opening_or_for_a_draft(company):
    undated = _running(company, closes_in=0)
    undated.closes_on = None
    future = _running(company, closes_in=10)
    future.opens_on = future.closes_on - timedelta(days=1)  # opens after the 3-days-before day
    draft = build_survey(company["lead"], open_it=False, title="草稿")
    draft.closes_on = local_today() + timedelta(days=3)
    services.invite(draft, [company["staff"]], today=local_today() - timedelta(days=3))
    db.session.commit()
    assert services.automatic_reminder_days(undated) == []
    assert [day for day, _label in services.automatic_reminder_days(future)] == [future.closes_on]
    for day in range(0, 4):
        assert services.send_automatic_reminders(local_today() + timedelta(days=day)) == []
    assert services.send_automatic_reminders(future.closes_on)[0][0].id == future.id


# --- closing notices -------------------------------------------------------------------------------
def test_owner_and_managing_heads_are_told_once_when_the_closing_date_passes(company, client_as):
    survey = _running(company, closes_in=0, people=("staff", "staff2"))
    services.submit_response(_invitation(survey, company["staff"]), GOOD_ANSWERS)
    company["lead"].locale = "en"
    company["head"].locale = "zh_CN"
    db.session.commit()
    assert services.tell_closed_surveys(survey.closes_on) == []  # still open today
    told = services.tell_closed_surveys(survey.closes_on + timedelta(days=1))
    db.session.commit()
    assert [(s.id, n) for s, n in told] == [(survey.id, 2)]
    notices = {n.user_id: n for n in _told("survey.closed", survey)}
    # The owner and the head of 销售部; not the head of 市场部, not every lead and admin.
    assert set(notices) == {company["lead"].id, company["head"].id}
    english, chinese = notices[company["lead"].id], notices[company["head"].id]
    assert english.subject == f"The survey “{survey.title}” has closed"
    assert "1 of 2 invitees answered (50%)." in english.body_markdown
    assert f"closing date {survey.closes_on.isoformat()} has passed" in english.body_markdown
    assert chinese.subject == f"问卷“{survey.title}”已截止"
    assert "2 人中有 1 人已填写（50%）" in chinese.body_markdown
    assert english.link == chinese.link == f"/surveys/{survey.id}/results"
    # Each of them may open the link.
    for key in ("lead", "head"):
        assert client_as(key).get(english.link).status_code == 200

    # The next run, the day after, or closing it by hand later: nobody is told twice.
    for day in (1, 2):
        assert services.tell_closed_surveys(survey.closes_on + timedelta(days=day)) == []
    services.change_survey_status(survey, "closed", today=survey.closes_on + timedelta(days=2))
    assert len(_told("survey.closed", survey)) == 2


def test_closing_notices_skip_deactivated_owners_and_stale_closings(company):
    recent = _running(company, closes_in=-1, people=("staff",))
    company["lead"].is_active_account = False
    stale = _running(company, closes_in=-(services.CLOSING_NOTICE_DAYS + 1), people=("staff",))
    stale.department = None
    db.session.commit()
    services.tell_closed_surveys()
    assert [n.user_id for n in _told("survey.closed", recent)] == [company["head"].id]
    assert _told("survey.closed", stale) == []


def test_a_survey_without_owner_or_department_tells_the_project_leads(company):
    survey = _running(company, closes_in=-1, people=("staff",))
    survey.owner, survey.department = None, None
    db.session.commit()
    services.tell_closed_surveys()
    assert [n.user_id for n in _told("survey.closed", survey)] == [company["lead"].id]


def test_closing_by_hand_tells_the_other_managers_once(company, client_as):
    survey = _running(company, closes_in=5, people=("staff", "staff2"))
    company["lead"].locale = "en"
    db.session.commit()
    client = client_as("head")
    response = client.post(f"/surveys/{survey.id}/status", data={"status": "closed"})
    assert response.status_code == 302
    notices = _told("survey.closed", survey)
    assert [n.user_id for n in notices] == [company["lead"].id]  # not the head who closed it
    assert f"{company['head'].display_name} closed it on {local_today().isoformat()}." in notices[0].body_markdown
    assert "0 of 2 invitees answered (0%)." in notices[0].body_markdown
    # Reopened and closed again the same day (a slip): not told twice; the daily job leaves it alone.
    client.post(f"/surveys/{survey.id}/status", data={"status": "open"})
    client.post(f"/surveys/{survey.id}/status", data={"status": "closed"})
    services.tell_closed_surveys(survey.closes_on + timedelta(days=1))
    assert len(_told("survey.closed", survey)) == 1


def test_the_recurring_scheduler_tells_of_the_occurrence_it_closes(company):
    survey = build_survey(company["lead"], open_it=False)
    first = local_today().replace(day=1) - timedelta(days=40)
    first = first.replace(day=1)
    services.update_survey(survey, title=survey.title, recurrence="monthly", opens_on=first)
    survey.occurrence_on = first
    services.change_survey_status(survey, "open")
    db.session.commit()
    services.run_schedules()
    assert [n.user_id for n in _told("survey.closed", survey)] == [company["lead"].id]


# --- the daily command and the survey page ---------------------------------------------------------
def test_the_daily_command_reminds_and_tells_once(company, runner):
    reminding = _running(company, closes_in=0, people=("staff",))
    closed = _running(company, closes_in=-1, people=("staff2",))
    result = runner.invoke(args=["surveys", "run-schedules"])
    assert result.exit_code == 0, result.output
    assert f"Survey {closed.id} ({closed.title}) has closed: told 2 people." in result.output
    assert f"Survey {reminding.id} ({reminding.title}): reminded 1 person." in result.output
    again = runner.invoke(args=["surveys", "run-schedules"])
    assert again.exit_code == 0, again.output
    assert "No automatic reminder is due." in again.output and "has closed" not in again.output
    assert len(_told("survey.reminder")) == 1 and len(_told("survey.closed")) == 2


def test_the_survey_page_says_when_reminders_go_out_and_who_hears_of_the_close(app, company, client_as):
    survey = _running(company, closes_in=10)
    closes = survey.closes_on
    page = client_as("lead").get(f"/surveys/{survey.id}").get_data(as_text=True)
    assert (f"Automatic reminders go to those who have not answered on {(closes - timedelta(days=3)).isoformat()} "
            f"(3 days before closing) and {closes.isoformat()} (on the closing day).") in page
    assert ("When it closes, these people are told how many answered, with a link to the results: "
            f"{company['lead'].display_name}, {company['head'].display_name}.") in page
    chinese = chinese_client(app, company["lead"]).get(f"/surveys/{survey.id}").get_data(as_text=True)
    assert (f"系统会在 {(closes - timedelta(days=3)).isoformat()}（截止前 3 天）和{closes.isoformat()}（截止当天）"
            "自动提醒未作答的人。") in chinese
    assert f"{company['lead'].display_name}、{company['head'].display_name}。" in chinese
    survey.closes_on = None
    db.session.commit()
    page = client_as("lead").get(f"/surveys/{survey.id}").get_data(as_text=True)
    assert "No closing date, so no automatic reminders" in page
    chinese = chinese_client(app, company["lead"]).get(f"/surveys/{survey.id}").get_data(as_text=True)
    assert "未设截止日期，因此不会自动提醒" in chinese
