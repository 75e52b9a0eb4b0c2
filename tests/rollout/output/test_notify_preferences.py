"""What each user hears about: per kind of notification, in the app and their channels, in the app only, or off."""
import re
from datetime import timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from rollout.accounts.models import User
from rollout.audit.display import NOTIFICATION_EVENTS, entity_name, field_label
from rollout.audit.models import AuditEntry
from rollout.extensions import db
from rollout.notify.models import (
    DepartmentRobot, Notification, NotificationChannel, NotificationPreference, OutboxMessage,
)
from rollout.notify.services import REQUIRED_EVENTS, notify, preferences_of, queue_digests, save_preferences
from rollout.timeutil import utcnow
from tests.conftest import chinese_client


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def _email(user, is_digest=False):
    db.session.add(NotificationChannel(user_id=user.id, kind="email", target=f"{user.username}@example.cn",
                                       is_digest=is_digest))


def _prefer(user, event, mode):
    db.session.add(NotificationPreference(user_id=user.id, event=event, mode=mode))


def _saved():
    return {(p.user_id, p.event, p.mode) for p in db.session.scalars(select(NotificationPreference))}


# --- notify() --------------------------------------------------------------------------
def test_off_stores_nothing_app_only_sends_nothing_out_and_group_robots_still_hear(company):
    staff, head, staff2 = company["staff"], company["head"], company["staff2"]
    for user in (staff, head, staff2):
        _email(user)
    sales = company["departments"]["sales"].id
    db.session.add(DepartmentRobot(department_id=sales, kind="wecom", target="http://127.0.0.1:1/robot"))
    _prefer(staff, "plan.behind", "off")
    _prefer(head, "plan.behind", "app")
    _prefer(staff2, "survey.reminder", "off")  # another kind: plan.behind reaches them as usual
    db.session.commit()
    notify([staff, head, staff2], "plan.behind", "计划落后", "本周完成 40%", "/plans", department_ids=[sales])
    db.session.commit()
    told = set(db.session.scalars(select(Notification.user_id)))
    assert told == {head.id, staff2.id}
    outbox = sorted(db.session.execute(select(OutboxMessage.kind, OutboxMessage.target)).all())
    assert outbox == [("email", "staff2@example.cn"), ("wecom", "http://127.0.0.1:1/robot")]


def test_a_kind_someone_waits_on_is_never_off_even_if_stored_so(company):
    head = company["head"]
    _email(head)
    # A row left from before the kind became required (or written around the page): kept to the app.
    _prefer(head, "quote.pending", "off")
    db.session.commit()
    assert "quote.pending" in REQUIRED_EVENTS
    notify([head], "quote.pending", "报价待审批", "", "/quotes/1")
    db.session.commit()
    assert _count(Notification) == 1 and _count(OutboxMessage) == 0


def test_notify_reads_the_preferences_in_one_statement_whatever_the_number_of_recipients(company, factory,
                                                                                          count_statements):
    few = [company["staff"], company["head"]]
    many = few + [factory.user() for _ in range(8)]
    for user in many:
        _email(user)
    _prefer(many[3], "changes.release", "app")
    _prefer(many[4], "changes.release", "off")
    db.session.commit()

    def statements(users):
        # Loaded beforehand (one statement): what is counted is notify()'s own work.
        users = db.session.scalars(select(User).where(User.id.in_([u.id for u in users]))).all()
        with count_statements() as counter:
            notify(users, "changes.release", "发布", "", "/changes")
        db.session.commit()
        return counter.statements

    few_statements, many_statements = statements(few), statements(many)

    def reads(found):  # the rows written are one per recipient and channel; the reads must not grow
        return [s for s in found if not s.lstrip().upper().startswith("INSERT")]
    assert len(reads(few_statements)) == len(reads(many_statements))
    reading = [s for s in many_statements if "notification_preferences" in s]
    assert len(reading) == 1 and reading[0].lstrip().upper().startswith("SELECT")
    assert _count(Notification) == 2 + 9


def test_no_recipients_reads_no_preferences(company, count_statements):
    with count_statements() as counter:
        notify([], "changes.release", "发布", "")
    assert not [s for s in counter.statements if "notification_preferences" in s]


def test_the_daily_digest_leaves_out_kinds_kept_in_the_app(company):
    head = company["head"]
    _email(head, is_digest=True)
    _prefer(head, "survey.reminder", "app")
    db.session.commit()
    notify([head], "survey.reminder", "问卷提醒", "")
    notify([head], "changes.release", "新版本发布", "")
    db.session.commit()
    assert _count(Notification) == 2  # both under the bell
    assert queue_digests(utcnow() + timedelta(minutes=1)) == 1
    digest = db.session.scalar(select(OutboxMessage))
    assert "新版本发布" in digest.body_markdown and "问卷提醒" not in digest.body_markdown


def test_a_digest_with_only_kinds_kept_in_the_app_is_not_sent(company):
    head = company["head"]
    _email(head, is_digest=True)
    _prefer(head, "survey.reminder", "app")
    db.session.commit()
    notify([head], "survey.reminder", "问卷提醒", "")
    db.session.commit()
    assert queue_digests(utcnow() + timedelta(minutes=1)) == 0


# --- the service -----------------------------------------------------------------------------
def test_choosing_the_default_again_removes_the_row(company):
    staff = company["staff"]
    assert save_preferences(staff, {"plan.behind": "off", "survey.reminder": "app", "changes.release": "all"}) == 2
    db.session.commit()
    assert preferences_of(staff) == {"plan.behind": "off", "survey.reminder": "app"}
    assert save_preferences(staff, {"plan.behind": "all", "survey.reminder": "app"}) == 1
    db.session.commit()
    assert preferences_of(staff) == {"survey.reminder": "app"}


def test_preferences_are_audited_and_named_in_words(company, app):
    save_preferences(company["staff"], {"plan.behind": "off"})
    db.session.commit()
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity == "notification_preferences"))
    assert entry is not None and entry.action == "create"
    with app.test_request_context(), force_locale("en"):
        assert entity_name("notification_preferences") == "Notification preference"
        assert field_label("notification_preferences", "mode") == "How you hear about it"
    with app.test_request_context(), force_locale("zh_CN"):
        assert entity_name("notification_preferences") == "通知偏好"
        assert field_label("notification_preferences", "mode") == "接收方式"


def test_the_audit_page_shows_the_kind_and_mode_in_words(client_as, company):
    save_preferences(company["staff"], {"plan.behind": "app"})
    db.session.commit()
    body = client_as("admin").get("/audit/?entity=notification_preferences").get_data(as_text=True)
    visible = re.sub(r' title="[^"]*"', "", body)
    assert "Plan behind target" in visible and "In the app only" in visible
    assert "plan.behind" not in visible


# --- the page ------------------------------------------------------------------------------------
def test_the_page_lists_the_kinds_by_area_with_the_users_choices(client_as, company):
    _prefer(company["staff"], "plan.behind", "app")
    _prefer(company["head"], "survey.reminder", "off")  # someone else's choice is not shown
    db.session.commit()
    page = client_as("staff").get("/notifications/channels?all=1")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "What you hear about" in body
    for area in ("Changes", "Training and support", "Surveys and requirements", "Plans, customers and leads",
                 "Retros", "Rollout", "Roles"):
        assert f'colspan="2" class="pt-2">{area}</th>' in body, area
    assert re.search(r'name="hear-plan.behind">\s*<option value="all">[^<]*</option>\s*'
                     r'<option value="app" selected>In the app only', body)
    assert re.search(r'name="hear-survey.reminder">\s*<option value="all" selected>', body)
    assert "You have changed 1 kind from the default." in body


def test_kinds_someone_waits_on_say_so_and_offer_no_off(client_as, company):
    body = client_as("staff").get("/notifications/channels?all=1").get_data(as_text=True)
    shown = REQUIRED_EVENTS & set(NOTIFICATION_EVENTS)  # a kind with no words yet is not listed
    assert {"changes.agenda", "quote.pending", "training.support_escalated", "roles.change_requested"} <= shown
    for event in shown:
        select_html = re.search(rf'<select[^>]*name="hear-{re.escape(event)}"[^>]*>(.*?)</select>', body, re.S)
        assert select_html is not None, event
        assert 'value="off"' not in select_html.group(1) and 'value="app"' in select_html.group(1)
        assert f'id="hear-{event}-note"' in body
    assert body.count("Cannot be turned off: someone waits for you to act on it.") == len(shown)
    plain = re.search(r'<select[^>]*name="hear-plan.behind"[^>]*>(.*?)</select>', body, re.S).group(1)
    assert 'value="off"' in plain


def test_the_page_reads_in_chinese(app, company):
    body = chinese_client(app, company["staff"]).get("/notifications/channels?all=1").get_data(as_text=True)
    for words in ("你会收到哪些通知", "应用内和我的渠道", "仅在应用内", "关闭", "评审会议程", "计划、客户和线索"):
        assert words in body, words


def test_a_user_saves_their_own_choices_only(client_as, company):
    staff, head = company["staff"], company["head"]
    _prefer(head, "plan.behind", "app")
    db.session.commit()
    client = client_as("staff")
    response = client.post("/notifications/preferences", data={
        "hear-plan.behind": "off", "hear-quote.pending": "app", "hear-survey.reminder": "all",
        # Not a way to reach someone else's choices: only hear-* fields count, for the signed-in user.
        "user_id": str(head.id), "csrf_token": "x"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/notifications/channels?saved=hear#hear")
    db.session.expire_all()
    assert _saved() == {(staff.id, "plan.behind", "off"), (staff.id, "quote.pending", "app"),
                        (head.id, "plan.behind", "app")}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="preferences-saved">What you hear about is saved.' in page


def test_signed_out_visitors_are_sent_to_sign_in(client, company):
    response = client.post("/notifications/preferences", data={"hear-plan.behind": "off"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert _count(NotificationPreference) == 0


BAD_CHOICES = [
    ({"hear-no.such_kind": "off"}, "“no.such_kind” is not a kind of notification you can choose."),
    ({"hear-plan.behind": "loud"}, "For “Plan behind target” choose “In the app and my channels”, "
                                   "“In the app only” or “Off”."),
    ({"hear-plan.behind": ""}, "For “Plan behind target” choose"),
    ({"hear-changes.agenda": "off"}, "“Review agenda” cannot be turned off: someone waits for you to act on it."),
    ({"hear-": "off"}, "“” is not a kind of notification you can choose."),
    ({"hear-" + "x" * 5000: "app"}, "is not a kind of notification you can choose."),
]


@pytest.mark.parametrize("data, message", BAD_CHOICES)
def test_bad_choices_are_refused_with_a_message_and_nothing_is_saved(client_as, company, data, message):
    staff = company["staff"]
    _prefer(staff, "survey.reminder", "app")
    db.session.commit()
    # A good choice beside the bad one is not saved either.
    client = client_as("staff")
    response = client.post("/notifications/preferences", data={"hear-lead.overdue": "off", **data})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in body and "Nothing was saved." in body
    assert 'data-testid="preference-error"' in body
    db.session.expire_all()
    assert _saved() == {(staff.id, "survey.reminder", "app")}
    # The page still shows the user's channels form, filled as before.
    assert f'value="{staff.email}"' in body


def test_the_refusal_reads_in_chinese(app, company):
    response = chinese_client(app, company["staff"]).post("/notifications/preferences",
                                                          data={"hear-changes.agenda": "off"})
    assert response.status_code == 422
    assert "“评审会议程”不能关闭" in response.get_data(as_text=True)


# --- only the kinds that can reach the user -------------------------------------------------------
def _listed(body):
    """The kinds the page offers a choice for."""
    return set(re.findall(r'<select[^>]*name="hear-([^"]+)"', body))


def test_a_rep_is_offered_the_sales_and_training_kinds_not_the_reviewers_or_trainers(client_as, company):
    body = client_as("staff").get("/notifications/channels").get_data(as_text=True)
    listed = _listed(body)
    assert {"lead.handed", "lead.overdue", "customer.transferred", "customer.pool_warning", "plan.behind",
            "quote.rejected", "training.assigned", "training.reminder", "survey.invited",
            "changes.approved"} <= listed
    for hidden in ("changes.agenda", "changes.emergency", "quote.pending", "plan.submitted",
                   "training.attendance_due", "training.draft_session", "roles.change_requested",
                   "rollout.milestone_overdue", "training.support_escalated", "processmaps.review_asked",
                   "processmaps.sent_back"):
        assert hidden not in listed, hidden
    assert "Review agenda" not in body and "Attendance to record" not in body
    hidden_count = len(NOTIFICATION_EVENTS) - len(listed)
    assert f"{hidden_count} other kinds are not." in body
    assert 'href="/notifications/channels?all=1#hear" data-testid="show-all-kinds">Show all kinds</a>' in body


def test_a_trainer_is_offered_attendance_and_not_the_sales_kinds(client_as, company):
    listed = _listed(client_as("trainer").get("/notifications/channels").get_data(as_text=True))
    assert {"training.attendance_due", "training.attendance_still_due", "training.no_sign_ups",
            "training.draft_session", "changes.release"} <= listed
    assert not {"lead.handed", "customer.transferred", "plan.behind", "quote.pending", "deal.won",
                "changes.agenda"} & listed


def test_heads_and_leads_are_offered_what_waits_on_them(client_as, company):
    head = _listed(client_as("head").get("/notifications/channels").get_data(as_text=True))
    assert {"quote.pending", "plan.submitted", "processmaps.review_asked", "processmaps.sent_back",
            "lead.escalated"} <= head
    assert "changes.agenda" not in head
    lead = _listed(client_as("lead").get("/notifications/channels").get_data(as_text=True))
    assert {"changes.agenda", "changes.emergency", "rollout.milestone_overdue", "training.support_escalated"} <= lead
    admin = _listed(client_as("admin").get("/notifications/channels").get_data(as_text=True))
    assert "roles.change_requested" in admin


def test_a_kind_received_or_set_is_listed_even_outside_the_users_roles(client_as, company):
    staff = company["staff"]
    # A finance colleague asked to approve a quote, a preference set from the full list.
    db.session.add(Notification(user_id=staff.id, event="quote.pending", subject="报价待审批"))
    _prefer(staff, "training.draft_session", "app")
    db.session.commit()
    listed = _listed(client_as("staff").get("/notifications/channels").get_data(as_text=True))
    assert {"quote.pending", "training.draft_session"} <= listed
    assert "changes.agenda" not in listed


def test_the_short_list_costs_one_statement_more_at_most(client_as, company, count_statements):
    client = client_as("staff")
    client.get("/notifications/channels")  # warm up (sign-in, caches)
    with count_statements() as full:
        client.get("/notifications/channels?all=1")
    with count_statements() as short:
        client.get("/notifications/channels")
    assert len(short.statements) <= len(full.statements) + 1


def test_all_lists_every_kind_and_saving_from_it_comes_back_to_it(client_as, company):
    client = client_as("staff")
    body = client.get("/notifications/channels?all=1").get_data(as_text=True)
    assert _listed(body) == set(NOTIFICATION_EVENTS)
    assert 'data-testid="show-all-kinds"' not in body and "Show only the kinds that can reach me" in body
    assert '<input type="hidden" name="all" value="1">' in body
    response = client.post("/notifications/preferences", data={"all": "1", "hear-training.draft_session": "off"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/notifications/channels?saved=hear&all=1#hear")
    db.session.expire_all()
    assert _saved() == {(company["staff"].id, "training.draft_session", "off")}


def test_saving_the_short_list_keeps_the_other_kinds_choices(client_as, company):
    staff, head = company["staff"], company["head"]
    # Stored while the rep was a head (or from the full list): not among the kinds the short list offers now.
    _prefer(staff, "changes.agenda", "app")
    _prefer(staff, "survey.reminder", "off")
    _prefer(head, "plan.behind", "app")
    db.session.commit()
    client = client_as("staff")
    body = client.get("/notifications/channels").get_data(as_text=True)
    posted = {f"hear-{event}": "all" for event in _listed(body) if event not in ("changes.agenda", "survey.reminder")}
    assert "hear-training.draft_session" not in posted and "hear-quote.pending" not in posted
    posted["hear-plan.behind"] = "app"
    response = client.post("/notifications/preferences", data=posted)
    assert response.status_code == 302
    db.session.expire_all()
    assert _saved() == {(staff.id, "changes.agenda", "app"), (staff.id, "survey.reminder", "off"),
                        (staff.id, "plan.behind", "app"), (head.id, "plan.behind", "app")}


def test_a_kind_left_off_the_short_list_is_still_checked(client_as, company):
    response = client_as("staff").post("/notifications/preferences", data={"hear-training.attendance_due": "off"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "“Attendance to record” cannot be turned off" in body and "Nothing was saved." in body
    db.session.expire_all()
    assert _saved() == set()


def test_the_short_list_reads_in_chinese(app, company):
    body = chinese_client(app, company["staff"]).get("/notifications/channels").get_data(as_text=True)
    assert "评审会议程" not in body and "显示全部类型" in body
