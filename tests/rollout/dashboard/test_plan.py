"""The rollout plan as its managers use it: milestones of every kind, phases whose dates change, one rule
for go-live dates, and the home page's adoption table on a phone."""
import io
import re
from datetime import date, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from rollout.accounts.models import Department
from rollout.audit.services import history_of
from rollout.dashboard import services
from rollout.dashboard.models import WAVE, RolloutMilestone, RolloutPhase
from rollout.errors import ServiceError
from rollout.extensions import db
from tests.conftest import chinese_client, log_in
from tests.rollout.dashboard.dates import today


def _phase(company, first=date(2030, 12, 6), last=date(2030, 12, 27), *keys):
    """A saved phase of these departments (sales by default), their go-live dates moved inside."""
    departments = [company["departments"][key] for key in keys or ("sales",)]
    moves = [move for move in services.go_live_moves(departments, first, last) if move.old_on is not None]
    phase, _ = services.save_phase(None, "第一批", WAVE, first, last, [d.id for d in departments],
                                   confirmed_moves=services.GoLiveMovesToConfirm.token_of(moves))
    db.session.commit()
    return phase


def _milestone_count() -> int:
    return db.session.scalar(select(func.count()).select_from(RolloutMilestone))


# --- milestones -----------------------------------------------------------------------------------------
def test_a_milestone_without_phase_can_be_marked_done_and_shows_overdue(company, client_as):
    late = services.save_milestone(None, "旧系统停用通知", today() - timedelta(days=3))
    db.session.commit()
    lead = client_as("lead")
    block = lead.get("/rollout/plan").get_data(as_text=True).split('data-testid="other-milestones"')[1]
    assert "旧系统停用通知" in block and ">Overdue</span>" in block  # capitalised, as on releases
    zh = client_as("lead").get("/rollout/plan", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert ">已逾期</span>" in zh.split('data-testid="other-milestones"')[1]
    assert f"/rollout/plan/milestones/{late.id}/done" in block and "Mark done" in block
    assert lead.post(f"/rollout/plan/milestones/{late.id}/done", data={"done": "y"}).status_code == 302
    assert db.session.get(RolloutMilestone, late.id).done_on == today()
    block = lead.get("/rollout/plan").get_data(as_text=True).split('data-testid="other-milestones"')[1]
    assert "Overdue" not in block and "Mark not done" in block
    # a second "done" (two people at once) keeps it done instead of flipping it back
    lead.post(f"/rollout/plan/milestones/{late.id}/done", data={"done": "y"})
    assert db.session.get(RolloutMilestone, late.id).done_on == today()
    lead.post(f"/rollout/plan/milestones/{late.id}/done", data={"done": "n"})
    assert db.session.get(RolloutMilestone, late.id).done_on is None
    assert client_as("head").post(f"/rollout/plan/milestones/{late.id}/done", data={"done": "y"}).status_code == 403


def test_the_mark_done_button_reads_as_an_action_in_chinese(app, company):
    services.save_milestone(None, "上线决策会", today() + timedelta(days=3))
    db.session.commit()
    page = chinese_client(app, company["lead"]).get("/rollout/plan").get_data(as_text=True)
    assert re.search(r'<button type="submit" class="[^"]*">标记完成</button>', page)
    assert ">已完成</button>" not in page


def test_milestones_can_be_edited_and_deleted_with_an_audit_trail(company, client_as):
    phase = _phase(company)
    milestone = services.save_milestone(None, "数据迁移较验", date(2030, 12, 8), phase.id)
    db.session.commit()
    lead = client_as("lead")
    form = lead.get(f"/rollout/plan/milestones/{milestone.id}").get_data(as_text=True)
    assert 'value="数据迁移较验"' in form and 'value="2030-12-08"' in form
    response = lead.post(f"/rollout/plan/milestones/{milestone.id}",
                         data={"title": "数据迁移校验", "due_on": "2030-12-09", "phase_id": phase.id})
    assert response.status_code == 302
    saved = db.session.get(RolloutMilestone, milestone.id)
    assert (saved.title, saved.due_on, saved.phase_id) == ("数据迁移校验", date(2030, 12, 9), phase.id)
    # it can also leave its phase for the other milestones (phase 0 is "none")
    assert lead.post(f"/rollout/plan/milestones/{milestone.id}", data={
        "title": "数据迁移校验", "due_on": "2031-02-01", "phase_id": "0"}).status_code == 302
    assert db.session.get(RolloutMilestone, milestone.id).phase_id is None
    plan = lead.get("/rollout/plan").get_data(as_text=True)
    assert re.search(rf'action="/rollout/plan/milestones/{milestone.id}/delete"[^>]*data-confirm=', plan)
    assert lead.post(f"/rollout/plan/milestones/{milestone.id}/delete").status_code == 302
    assert db.session.get(RolloutMilestone, milestone.id) is None
    actions = [entry.action for entry in history_of("rollout_milestones", milestone.id)]
    assert actions.count("update") == 2 and "delete" in actions and "create" in actions
    assert lead.post(f"/rollout/plan/milestones/{milestone.id}/delete").status_code == 404
    assert client_as("head").get(f"/rollout/plan/milestones/{milestone.id}").status_code == 403


def test_a_milestone_edit_with_bad_input_changes_nothing(company, client_as):
    phase = _phase(company)
    milestone = services.save_milestone(None, "培训完成", date(2030, 12, 10), phase.id)
    db.session.commit()
    lead = client_as("lead")
    for data, message in (
            ({"title": "培训完成", "due_on": "2031-01-05", "phase_id": phase.id}, "must lie within the phase"),
            ({"title": "", "due_on": "2030-12-11", "phase_id": phase.id}, "This field is required."),
            ({"title": "培训完成", "due_on": "12/11", "phase_id": phase.id}, "Not a valid date value."),
            ({"title": "培训完成", "due_on": "2030-12-11", "phase_id": "abc"}, "Invalid Choice"),
            ({"title": "x" * 201, "due_on": "2030-12-11", "phase_id": phase.id}, "200 characters")):
        response = lead.post(f"/rollout/plan/milestones/{milestone.id}", data=data)
        assert response.status_code == 422 and message in response.get_data(as_text=True), data
    saved = db.session.get(RolloutMilestone, milestone.id)
    assert (saved.title, saved.due_on) == ("培训完成", date(2030, 12, 10))


def test_a_milestone_date_must_lie_within_its_phase(company, client_as):
    phase = _phase(company, date(2027, 1, 4), date(2027, 1, 29))
    for day in (date(2030, 1, 1), date(2027, 1, 3), date(2027, 1, 30)):
        with pytest.raises(ServiceError) as error:
            services.save_milestone(None, "培训", day, phase.id)
        assert error.value.field == "due_on" and "2027-01-04 – 2027-01-29" in error.value.message
    for day in (date(2027, 1, 4), date(2027, 1, 29)):  # both ends belong to the phase
        services.save_milestone(None, f"培训{day.day}", day, phase.id)
    db.session.commit()
    response = client_as("lead").post("/rollout/plan/milestones", data={
        "title": "上线", "due_on": "2030-01-01", "phase_id": phase.id})
    assert response.status_code == 422 and "must lie within the phase" in response.get_data(as_text=True)
    assert _milestone_count() == 2


def test_an_exact_duplicate_milestone_is_refused(company, client_as):
    phase = _phase(company)
    lead = client_as("lead")
    data = {"title": "数据迁移校验", "due_on": "2030-12-08", "phase_id": phase.id}
    assert lead.post("/rollout/plan/milestones", data=data).status_code == 302
    again = lead.post("/rollout/plan/milestones", data={**data, "title": " 数据迁移校验 "})
    assert again.status_code == 422 and "already has this milestone" in again.get_data(as_text=True)
    # the same title on another day, or outside the phase, is another milestone
    assert lead.post("/rollout/plan/milestones", data={**data, "due_on": "2030-12-09"}).status_code == 302
    assert lead.post("/rollout/plan/milestones", data={**data, "phase_id": "0"}).status_code == 302
    assert lead.post("/rollout/plan/milestones", data={**data, "phase_id": "0"}).status_code == 422
    assert _milestone_count() == 3
    # editing a milestone into a copy of another is refused too
    other = db.session.scalar(select(RolloutMilestone).where(RolloutMilestone.due_on == date(2030, 12, 9)))
    response = lead.post(f"/rollout/plan/milestones/{other.id}", data=data)
    assert response.status_code == 422 and db.session.get(RolloutMilestone, other.id).due_on == date(2030, 12, 9)


def test_a_long_milestone_title_wraps(company, client_as):
    services.save_milestone(None, "很长的标题" * 40, today())
    db.session.commit()
    page = client_as("lead").get("/rollout/plan").get_data(as_text=True)
    item = page.split('data-testid="other-milestones"')[1].split('data-testid="milestone"')[1]
    assert 'class="text-break"' in item.split("很长的标题")[0]


def test_the_status_report_lists_milestones_without_phase(company, client_as):
    phase = _phase(company)
    services.save_milestone(None, "第一批培训", date(2030, 12, 8), phase.id)
    services.save_milestone(None, "旧系统只读", today() - timedelta(days=1))
    db.session.commit()
    response = client_as("lead").get("/rollout/report.pdf")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    assert "第一批培训" in text and "旧系统只读" in text and "Other milestones" in text


# --- phases and go-live dates ----------------------------------------------------------------------------
def test_shortening_a_phase_asks_before_moving_go_live_dates(company):
    sales, marketing = company["departments"]["sales"], company["departments"]["marketing"]
    sales.go_live_on, marketing.go_live_on = date(2030, 12, 20), date(2030, 12, 8)
    phase = _phase(company, date(2030, 12, 6), date(2030, 12, 27), "sales", "marketing")
    with pytest.raises(services.GoLiveMovesToConfirm) as question:
        services.save_phase(phase, "第一批", WAVE, date(2030, 12, 6), date(2030, 12, 10), [sales.id, marketing.id])
    assert question.value.moves == [services.GoLiveMove(sales, date(2030, 12, 20), date(2030, 12, 10))]
    db.session.rollback()
    assert db.session.get(Department, sales.id).go_live_on == date(2030, 12, 20)
    assert db.session.get(RolloutPhase, phase.id).ends_on == date(2030, 12, 27)
    # confirmed: the nearest day inside (the new last day), not the first day
    phase, moved = services.save_phase(phase, "第一批", WAVE, date(2030, 12, 6), date(2030, 12, 10),
                                       [sales.id, marketing.id], confirmed_moves=question.value.token)
    assert moved == question.value.moves
    assert (sales.go_live_on, marketing.go_live_on) == (date(2030, 12, 10), date(2030, 12, 8))
    assert services.plan_problems() == []


def test_a_confirmation_covers_only_the_moves_it_showed(company):
    sales = company["departments"]["sales"]
    sales.go_live_on = date(2030, 12, 20)
    phase = _phase(company)
    with pytest.raises(services.GoLiveMovesToConfirm) as first:
        services.save_phase(phase, "第一批", WAVE, date(2030, 12, 6), date(2030, 12, 10), [sales.id])
    db.session.rollback()
    with pytest.raises(services.GoLiveMovesToConfirm) as second:  # the range changed since: ask again
        services.save_phase(phase, "第一批", WAVE, date(2030, 12, 6), date(2030, 12, 12), [sales.id],
                            confirmed_moves=first.value.token)
    assert second.value.moves[0].new_on == date(2030, 12, 12)
    db.session.rollback()
    # a phase moved later takes its dates to its new first day
    phase, moved = services.save_phase(phase, "第一批", WAVE, date(2031, 1, 5), date(2031, 1, 20), [sales.id],
                                       confirmed_moves=f"{sales.id}:2031-01-05")
    assert db.session.get(Department, sales.id).go_live_on == date(2031, 1, 5)


def test_the_phase_form_lists_the_moves_and_saves_once_confirmed(company, client_as):
    sales = company["departments"]["sales"]
    sales.go_live_on = date(2030, 12, 20)
    phase = _phase(company)
    lead = client_as("lead")
    data = {"name": "第一批", "kind": "wave", "starts_on": "2030-12-06", "ends_on": "2030-12-10",
            "department_ids": [sales.id]}
    asked = lead.post(f"/rollout/plan/phases/{phase.id}", data=data)
    page = asked.get_data(as_text=True)
    assert asked.status_code == 422 and "销售部: 2030-12-20 → 2030-12-10" in page
    assert db.session.get(RolloutPhase, phase.id).ends_on == date(2030, 12, 27)
    assert db.session.get(Department, sales.id).go_live_on == date(2030, 12, 20)
    token = re.search(r'name="confirm_moves" value="([^"]+)"', page).group(1)
    saved = lead.post(f"/rollout/plan/phases/{phase.id}", data={**data, "confirm_moves": token},
                      follow_redirects=True)
    assert saved.status_code == 200 and "销售部 now goes live on 2030-12-10." in saved.get_data(as_text=True)
    assert db.session.get(RolloutPhase, phase.id).ends_on == date(2030, 12, 10)
    assert db.session.get(Department, sales.id).go_live_on == date(2030, 12, 10)


def test_a_new_phase_asks_too_when_it_takes_a_dated_department(company, client_as):
    sales = company["departments"]["sales"]  # goes live on 2026-12-01 (company fixture)
    response = client_as("lead").post("/rollout/plan/phases", data={
        "name": "第一批", "kind": "wave", "starts_on": "2030-12-06", "ends_on": "2030-12-10",
        "department_ids": [sales.id]})
    assert response.status_code == 422 and "2026-12-01 → 2030-12-06" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(RolloutPhase)) == 0


def test_check_go_live_is_the_one_rule_for_go_live_dates(company):
    sales, finance = company["departments"]["sales"], company["departments"]["finance"]
    _phase(company, date(2030, 12, 6), date(2030, 12, 27), "sales")
    for department, day, words in (
            (company["departments"]["company"], date(2030, 12, 8), "per department or team"),
            (sales, None, "needs a go-live date"),
            (sales, date(2030, 12, 5), "2030-12-06 – 2030-12-27"),
            (sales, date(2030, 12, 28), "2030-12-06 – 2030-12-27")):
        with pytest.raises(ServiceError) as error:
            services.check_go_live(department, day)
        assert error.value.field == "go_live_on" and words in error.value.message
    services.check_go_live(sales, date(2030, 12, 27))
    services.check_go_live(finance, None)  # in no phase: any date or none
    services.check_go_live(finance, date(2035, 1, 1))
    services.check_go_live(company["departments"]["company"], None)
    services.check_go_live(Department(name="新部门", kind="department"), date(2035, 1, 1))  # not saved yet


def test_the_change_date_form_uses_the_rule_and_reports_unreadable_dates(company, client_as):
    sales = company["departments"]["sales"]
    _phase(company, date(2030, 12, 6), date(2030, 12, 27), "sales")
    lead = client_as("lead")
    for value, message in (("2030-12-28", "must lie within the phase"), ("abc", "Not a valid date value."),
                           ("", "This field is required.")):
        response = lead.post(f"/rollout/departments/{sales.id}/go-live", data={"go_live_on": value})
        assert response.status_code == 422 and message in response.get_data(as_text=True), value
    assert db.session.get(Department, sales.id).go_live_on == date(2030, 12, 6)


def test_the_plan_explains_a_department_without_date_in_a_phase(company, client_as):
    finance = company["departments"]["finance"]
    _phase(company, date(2030, 12, 6), date(2030, 12, 27), "finance")
    finance = db.session.get(Department, finance.id)
    finance.go_live_on = None  # cleared elsewhere
    db.session.commit()
    page = client_as("lead").get("/rollout/plan").get_data(as_text=True)
    assert "财务部 has no go-live date but is in the phase 第一批." in page
    assert "goes live on —" not in page and "goes live on None" not in page


def test_the_department_list_says_how_to_choose_several(app, company, client_as):
    assert "Hold Ctrl (⌘ on a Mac) and click to choose several." in client_as("lead").get("/rollout/plan").get_data(
        as_text=True)
    assert "按住 Ctrl" in chinese_client(app, company["lead"]).get("/rollout/plan").get_data(as_text=True)


# --- the home page on a phone -------------------------------------------------------------------------------
@pytest.mark.browser
def test_home_adoption_table_fits_a_phone(page, live_server, company):
    db.session.commit()
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, "lead")
    table = page.locator("[data-testid=home-adoption-table]")
    box = table.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    first_row = table.locator("tbody tr").first
    assert re.search(r"(expected|目标) \d+", first_row.inner_text())  # the expected rate, under the actual one
    header_height = table.locator("thead").bounding_box()["height"]
    assert header_height < 3 * table.locator("tbody tr").first.bounding_box()["height"]
    page.set_viewport_size({"width": 1280, "height": 900})
    assert table.locator("th").nth(3).is_visible()


def test_the_demo_plan_agrees_with_its_rules(app):
    from rollout.demo import load_demo
    load_demo(force=True)
    assert services.plan_problems() == []
    assert [m.title for m in services.unplanned_milestones()] == ["通知客户启用新的报价单模板"]


def test_a_link_to_a_milestone_stops_below_the_top_and_marks_it(company, client_as):
    """A reminder links to /rollout/plan#milestone-N: the row has that id, keeps a margin from the top edge
    when scrolled to, and is highlighted as the link's target."""
    late = services.save_milestone(None, "旧系统停用通知", today() - timedelta(days=3))
    db.session.commit()
    page = client_as("lead").get("/rollout/plan").get_data(as_text=True)
    row = page.split(f'id="milestone-{late.id}"')[0].rsplit("<li", 1)[1]
    assert 'class="milestone ' in row
    style = page.split("<style>")[1].split("</style>")[0]
    assert ".milestone { scroll-margin-top:" in style and ".milestone:target {" in style
