"""The demo's surveys invite people when they open, with the notices to show for it, so the automatic
reminders the survey page promises go out: this month's pulse survey closes today and reminds those who
have not answered."""
from sqlalchemy import select

from rollout.audit.models import AuditEntry
from rollout.demo import load_demo
from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.timeutil import local_today, to_local
from surveys import services
from surveys.models import Survey, SurveyInvitation


def test_the_pulse_survey_invited_people_on_its_first_day_and_reminds_them_as_its_page_says(app):
    load_demo(force=True)
    today = local_today()
    pulse = db.session.scalars(select(Survey).where(Survey.recurrence.is_not(None), Survey.status == "open")).one()
    invitations = db.session.scalars(select(SurveyInvitation).where(SurveyInvitation.survey_id == pulse.id)).all()
    assert invitations and {i.invited_on for i in invitations} == {pulse.opens_on}
    waiting = [i for i in invitations if not i.has_responded]
    assert waiting
    # The reminder days the page lists that have come (3 days before closing, the closing day) each reminded
    # those still to answer, on that day.
    due = [day for day, _label in services.automatic_reminder_days(pulse) if day <= today]
    for invitation in waiting:
        notices = db.session.scalars(select(Notification).where(
            Notification.link == services.respond_link(invitation.token)).order_by(Notification.created_at)).all()
        assert [(n.event, to_local(n.created_at).date()) for n in notices] == [
            ("survey.invited", pulse.opens_on), *[("survey.reminder", day) for day in due]]
        assert invitation.reminder_count == len(due)
    runs = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "survey.remind", AuditEntry.entity_id == str(pulse.id))).all()
    assert sorted((to_local(r.created_at).date(), r.detail) for r in runs) == [
        (day, f"reminded={len(waiting)} automatic") for day in due]
    if pulse.closes_on == today:  # the last day of the month: the closing-day reminder went out today
        assert due[-1] == today
    # The daily job run again reminds nobody twice.
    assert pulse.id not in {survey.id for survey, _n in services.send_automatic_reminders(today)}


def test_every_open_demo_survey_invited_people_no_later_than_they_answered(app):
    load_demo(force=True)
    for survey in db.session.scalars(select(Survey).where(Survey.status == "open")):
        for invitation in db.session.scalars(select(SurveyInvitation).where(SurveyInvitation.survey_id == survey.id)):
            assert invitation.invited_on == survey.opens_on
            assert invitation.responded_on is None or invitation.responded_on >= invitation.invited_on
            notices = db.session.scalars(select(Notification).where(
                Notification.link == services.respond_link(invitation.token),
                Notification.event == "survey.invited")).all()
            assert [to_local(n.created_at).date() for n in notices] == [survey.opens_on]
