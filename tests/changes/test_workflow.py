"""The transition table, windows with cutoffs, decisions, deferrals, emergencies and standard changes."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from changes import services, signals
from changes.models import ChangeRequest, ChangeTransition
from rollout.errors import NotAllowed, ServiceError
from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.timeutil import local_today


def _transition_count(change) -> int:
    return db.session.scalar(select(func.count()).select_from(ChangeTransition)
                             .where(ChangeTransition.request_id == change.id))


def test_create_change_request_validates_and_flushes(company):
    change = services.create_change_request(company["staff"], "  新增字段 ", "描述", "原因")
    assert change.id is not None and change.state == "draft" and change.title == "新增字段"
    assert change.department_id == company["departments"]["sales1"].id
    with pytest.raises(ServiceError) as error:
        services.create_change_request(company["staff"], "", "描述", "原因")
    assert error.value.field == "title"
    with pytest.raises(ServiceError) as error:
        services.create_change_request(company["staff"], "标题", "描述", "原因", kind="whatever")
    assert error.value.field == "kind"


def test_submission_before_cutoff_goes_to_that_window(company, new_request, make_window):
    window = make_window(3)
    change = new_request()
    services.submit(change, company["staff"], "请评审")
    assert change.state == "submitted" and change.window_id == window.id
    step = change.transitions[-1]
    assert (step.from_state, step.to_state, step.actor_id, step.comment) == (
        "draft", "submitted", company["staff"].id, "请评审")
    assert step.created_at is not None


def test_submission_after_cutoff_goes_to_the_following_window(company, new_request, make_window):
    make_window(0.5, cutoff_hours=24)  # cutoff already passed
    following = make_window(7)
    change = new_request()
    services.submit(change, company["staff"])
    assert change.window_id == following.id


def test_transition_not_in_table_is_refused_and_nothing_changes(company, new_request):
    change = new_request()
    with pytest.raises(NotAllowed) as error:
        services.transition(change, "implemented", company["lead"], "直接上线")
    assert "cannot become" in error.value.message
    assert change.state == "draft" and _transition_count(change) == 0


def test_only_allowed_roles_make_each_move(company, on_agenda):
    change, window = on_agenda()
    assert change.state == "awaiting_window"
    with pytest.raises(NotAllowed):
        services.decide(change, "approved", "我同意", company["staff"], window)
    with pytest.raises(NotAllowed):
        services.decide(change, "approved", "我同意", company["head"], window)
    assert change.state == "awaiting_window"
    services.decide(change, "approved", "同意", company["lead"], window)
    assert change.state == "approved" and change.decided_at is not None


def test_staff_cannot_assess_even_their_own_request(company, new_request, make_window):
    make_window(3)
    change = new_request()
    services.submit(change, company["staff"])
    with pytest.raises(NotAllowed):
        services.assess(change, company["staff"])
    assert change.state == "submitted"


def test_the_requester_hears_their_request_is_assessed_and_on_which_agenda(company, on_agenda):
    from rollout.notify.models import Notification
    change, window = on_agenda()
    told = db.session.scalar(select(Notification).where(Notification.event == "changes.assessed"))
    assert told.user_id == change.requester_id and told.link == f"/changes/{change.id}"
    assert window.title in told.body_markdown


def test_decision_needs_a_reason(company, on_agenda):
    change, window = on_agenda()
    before = _transition_count(change)
    with pytest.raises(ServiceError) as error:
        services.decide(change, "rejected", "  ", company["lead"], window)
    assert error.value.field == "comment"
    assert change.state == "awaiting_window" and _transition_count(change) == before


def test_deferred_request_rolls_to_next_window_with_history(company, on_agenda, make_window):
    first = make_window(3)
    second = make_window(10)
    change, _window = on_agenda(window=first)
    services.decide(change, "deferred", "等待财务口径", company["lead"], first)
    assert change.state == "deferred" and change.window_id == second.id and change.deferral_count == 1
    services.decide(change, "approved", "财务已确认", company["lead"], second)
    decisions = [(t.to_state, t.window_id) for t in change.transitions if t.to_state in services.DECISIONS]
    assert decisions == [("deferred", first.id), ("approved", second.id)]


def test_deferral_without_a_later_window_is_refused_whole(company, on_agenda):
    change, window = on_agenda()
    before = _transition_count(change)
    with pytest.raises(ServiceError) as error:
        services.decide(change, "deferred", "下次再议", company["lead"], window)
    assert "no review window after" in error.value.message
    assert change.state == "awaiting_window" and change.deferral_count == 0
    assert _transition_count(change) == before


def test_requester_is_notified_of_every_decision(company, on_agenda, make_window):
    first, second = make_window(3), make_window(10)
    change, _ = on_agenda(window=first)
    services.decide(change, "deferred", "等待口径", company["lead"], first)
    services.decide(change, "rejected", "不做", company["lead"], second)
    subjects = db.session.scalars(select(Notification.subject).where(
        Notification.user_id == company["staff"].id, Notification.event != "changes.assessed")
        .order_by(Notification.id)).all()
    assert len(subjects) == 2 and "已推迟" in subjects[0] and "已驳回" in subjects[1]


def test_decision_signal_is_sent(company, on_agenda):
    change, window = on_agenda()
    received = []

    def listener(sender, **kwargs):
        received.append((sender, kwargs))

    signals.change_decided.connect(listener)
    try:
        services.decide(change, "approved", "同意", company["lead"], window)
    finally:
        signals.change_decided.disconnect(listener)
    assert received == [(change, {"outcome": "approved", "reason": "同意"})]


def test_standard_change_is_approved_at_submission(company, new_request):
    change = new_request(kind="standard")
    services.submit(change, company["staff"])
    assert change.state == "approved" and change.window_id is None
    assert [t.to_state for t in change.transitions] == ["submitted", "approved"]
    assert change.transitions[-1].actor_id is None  # the system approved it


def test_only_a_routine_change_may_be_standard(company, new_request, client_as):
    """Approved without review, a standard change may not change permissions or carry more than low risk."""
    risky = new_request(kind="standard", has_permission_change=True)
    with pytest.raises(ServiceError) as refused:
        services.submit(risky, company["staff"])
    assert refused.value.field == "kind" and "cannot change permissions" in refused.value.message
    assert risky.state == "draft"
    short_notice = new_request(kind="standard", title="客户列表增加字段", has_data_field_change=True,
                               wanted_on=local_today() + timedelta(days=1))
    with pytest.raises(ServiceError) as refused:
        services.submit(short_notice, company["staff"])
    assert "must be low risk; this one is Medium risk" in refused.value.message
    db.session.rollback()
    # From the form: nothing is saved, and the page says why on the kind field.
    client = client_as("staff")
    before = db.session.scalar(select(func.count()).select_from(ChangeRequest))
    response = client.post("/changes/new", data={
        "title": "销售可导出全部客户", "description": "开放导出。", "reason": "方便。", "kind": "standard",
        "has_permission_change": "y", "submit_now": "1"})
    assert response.status_code == 422 and "cannot change permissions" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ChangeRequest)) == before


def test_emergency_is_decided_at_once_by_a_lead_and_reviewed_at_the_next_window(company, new_request,
                                                                                make_window):
    window = make_window(3)
    change = new_request(kind="emergency")
    services.submit(change, company["staff"])
    leads_told = db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == company["lead"].id, Notification.event == "changes.emergency"))
    assert leads_told == 1
    with pytest.raises(NotAllowed):
        services.decide(change, "approved", "我自己批", company["staff"])
    services.decide(change, "approved", "立即修复", company["lead"])
    assert change.state == "approved" and change.window_id == window.id
    assert change in services.emergencies_to_review(window)
    services.move(change, "implementing", company["lead"], "修复中")
    with pytest.raises(ServiceError):
        services.post_review(change, window, "", company["lead"])
    services.post_review(change, window, "处理得当", company["lead"])
    assert change.post_reviewed_at is not None and change.post_review_comment == "处理得当"
    with pytest.raises(ServiceError):
        services.post_review(change, window, "再看一次", company["lead"])


def test_an_emergency_decision_not_yet_reviewed_again_moves_to_the_next_window_on_closing(company, new_request,
                                                                                        make_window):
    first, second = make_window(3), make_window(10)
    reviewed, unreviewed = new_request(kind="emergency", title="已复核"), new_request(kind="emergency", title="未复核")
    for change in (reviewed, unreviewed):
        services.submit(change, company["staff"])
        services.decide(change, "approved", "立即修复", company["lead"])
    services.post_review(reviewed, first, "处理得当", company["lead"])
    moved = services.close_window(first, "纪要", company["lead"])
    assert moved == [unreviewed]
    assert reviewed.window_id == first.id and services.emergencies_to_review(second) == [unreviewed]
    services.post_review(unreviewed, second, "补充复核", company["lead"])
    assert unreviewed.post_reviewed_at is not None


def test_an_emergency_still_to_review_and_no_later_window_keeps_the_window_open(company, new_request, make_window):
    window = make_window(3)
    change = new_request(kind="emergency")
    services.submit(change, company["staff"])
    services.decide(change, "approved", "立即修复", company["lead"])
    with pytest.raises(ServiceError) as error:
        services.close_window(window, "纪要", company["lead"])
    assert change.reference in error.value.message and window.closed_at is None


def test_a_wanted_date_in_the_past_is_refused_when_saving_and_when_submitting(company, new_request):
    from rollout.timeutil import local_today
    yesterday = local_today() - timedelta(days=1)
    with pytest.raises(ServiceError) as error:
        new_request(wanted_on=yesterday)
    assert error.value.field == "wanted_on" and yesterday.isoformat() in error.value.message
    db.session.rollback()
    change = new_request(wanted_on=local_today())
    change.wanted_on = yesterday  # saved on time, submitted after the date passed
    with pytest.raises(ServiceError):
        services.submit(change, company["staff"])
    assert change.state == "draft"


def test_normal_change_cannot_be_approved_without_a_window(company, new_request, make_window):
    change = new_request()
    services.submit(change, company["staff"])
    with pytest.raises(NotAllowed):
        services.decide(change, "approved", "直接批", company["lead"])


def test_cancelled_from_any_state_before_implementing_and_never_after(company, new_request):
    for state in services.CANCELLABLE:
        change = new_request()
        change.state = state
        services.cancel(change, company["staff"], "不需要了")
        assert change.state == "cancelled", state
    for state in ("implementing", "implemented", "reviewed", "closed", "rejected"):
        change = new_request()
        change.state = state
        with pytest.raises(NotAllowed):
            services.cancel(change, company["staff"], "不需要了")
        assert change.state == state


def test_someone_else_cannot_cancel_my_request(company, new_request):
    change = new_request()
    with pytest.raises(NotAllowed):
        services.cancel(change, company["staff2"], "")
    with pytest.raises(NotAllowed):
        services.cancel(change, company["head"], "")
    services.cancel(change, company["lead"], "重复")
    assert change.state == "cancelled"


def test_every_table_move_names_known_states_and_roles():
    from changes.models import KINDS, STATES
    known_roles = {"admin", "lead", "trainer", "head", "staff", services.REQUESTER, services.SYSTEM}
    for (from_state, to_state), move in services.TRANSITIONS.items():
        assert from_state in STATES and to_state in STATES
        assert move.roles <= known_roles and move.kinds <= set(KINDS)


def test_agenda_is_ordered_by_risk_then_age(company, new_request, make_window):
    window = make_window(3)
    old_low = new_request(title="旧的低风险")
    high = new_request(title="高风险", has_permission_change=True, has_data_field_change=True)
    new_low = new_request(title="新的低风险")
    for offset, change in enumerate((old_low, high, new_low)):
        services.submit(change, company["staff"])
        change.submitted_at = change.submitted_at + timedelta(minutes=offset)
    db.session.flush()
    assert [c.title for c in services.agenda(window)] == ["高风险", "旧的低风险", "新的低风险"]


def test_closing_a_window_records_minutes_and_rolls_undecided_items(company, on_agenda, make_window):
    first, second = make_window(3), make_window(10)
    change, _ = on_agenda(window=first)
    with pytest.raises(ServiceError) as error:
        services.close_window(first, "  ", company["lead"])
    assert error.value.field == "minutes" and first.closed_at is None
    moved = services.close_window(first, "## 结论\n- 下次再议", company["lead"])
    assert moved == [change] and change.window_id == second.id
    assert first.is_closed and first.minutes_markdown.startswith("## 结论") and first.sequence == 1
    told = db.session.scalar(select(Notification).where(Notification.event == "changes.carried_over"))
    assert told.user_id == change.requester_id and change.reference in told.subject
    assert services.window_name(second) in told.body_markdown
    with pytest.raises(ServiceError):
        services.decide(change, "approved", "同意", company["lead"], first)


def test_closing_with_undecided_items_and_no_later_window_names_them(company, on_agenda):
    change, window = on_agenda()
    with pytest.raises(ServiceError) as error:
        services.close_window(window, "纪要", company["lead"])
    assert change.reference in error.value.message
    assert window.closed_at is None and change.window_id == window.id


def test_requests_without_a_window_are_placed_when_windows_appear(company, new_request):
    from datetime import time

    from rollout.timeutil import local_today
    change = new_request()
    services.submit(change, company["staff"])
    assert change.window_id is None
    services.save_cadence("变更评审会", weekday=(local_today().weekday() + 3) % 7, every_n_weeks=1,
                          starts_on=local_today(), start_time=time(14, 0))
    assert change.window_id is not None
    assert change.window.cutoff_at >= change.submitted_at


def test_has_review_window(company, make_window):
    assert services.has_review_window() is False
    make_window(3)
    assert services.has_review_window(company["departments"]["sales"].id) is True


def test_reviewers_get_the_agenda(company, on_agenda):
    change, window = on_agenda()
    count = services.send_agenda(window)
    assert count == 2  # admin and lead
    body = db.session.scalar(select(Notification.body_markdown).where(
        Notification.user_id == company["lead"].id, Notification.event == "changes.agenda"))
    assert change.reference in body and window.agenda_sent_at is not None


def test_due_agendas_go_out_once_after_the_cutoff(company, on_agenda, make_window):
    soon = make_window(1, cutoff_hours=30)  # starts tomorrow; its submissions closed 6 hours ago
    still_open = make_window(1.5, cutoff_hours=2)  # a request may still join its agenda
    make_window(9)
    on_agenda(window=soon)
    assert services.send_due_agendas(48) == 1
    assert soon.agenda_sent_at is not None and still_open.agenda_sent_at is None
    assert services.send_due_agendas(48) == 0



def test_cli_sends_due_agendas_once(runner, company, on_agenda, make_window):
    soon = make_window(1, cutoff_hours=30)
    on_agenda(window=soon)
    result = runner.invoke(args=["changes", "send-agendas", "--within-hours", "48"])
    assert result.exit_code == 0 and "1 agenda sent." in result.output
    assert runner.invoke(args=["changes", "send-agendas"]).output.strip() == "0 agendas sent."
    # Sent by a scheduled job, outside any request: the notification still links to the window.
    from rollout.notify.models import Notification
    links = db.session.scalars(select(Notification.link).where(Notification.event == "changes.agenda")).all()
    assert links and set(links) == {f"/changes/windows/{soon.id}"}
