"""Rollout plan, readiness, adoption, rankings, the status report and the home page per role."""
import io
import re
from datetime import date, datetime, time, timedelta

import pytest
from flask_babel import refresh
from pypdf import PdfReader
from sqlalchemy import insert, select

from rollout.accounts.models import Department
from rollout.audit.models import AuditEntry
from rollout.dashboard import services
from rollout.dashboard.models import EVERYONE, PILOT, WAVE, RankingPublication, ReadinessSetting, RolloutPhase
from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.timeutil import local_to_utc, utcnow
from tests.rollout.dashboard.dates import today
from tests.rollout.dashboard.helpers import complete_required_training


# --- rollout plan ------------------------------------------------------------------------------
def test_phase_keeps_go_live_dates_inside(company):
    sales, marketing = company["departments"]["sales"], company["departments"]["marketing"]
    sales.go_live_on = date(2030, 1, 20)
    phase, moved = services.save_phase(None, "第一批", WAVE, date(2030, 1, 10), date(2030, 1, 31),
                                       [sales.id, marketing.id])
    assert sales.go_live_on == date(2030, 1, 20)  # already inside: kept
    assert marketing.go_live_on == date(2030, 1, 10)  # had none: the first day, without asking
    assert moved == [services.GoLiveMove(marketing, None, date(2030, 1, 10))]
    with pytest.raises(ServiceError) as error:
        services.set_go_live(sales, date(2030, 3, 1))
    assert error.value.field == "go_live_on"
    services.set_go_live(sales, date(2030, 1, 25))
    assert sales.go_live_on == date(2030, 1, 25)
    assert services.plan_problems() == []
    marketing.go_live_on = date(2031, 1, 1)  # edited elsewhere (the admin department form)
    assert len(services.plan_problems()) == 1


def test_phase_rules(company):
    sales, finance = company["departments"]["sales"], company["departments"]["finance"]
    sales1 = company["departments"]["sales1"]
    with pytest.raises(ServiceError):
        services.save_phase(None, "x", WAVE, date(2030, 2, 1), date(2030, 1, 1), [])
    pilot, _ = services.save_phase(None, "试点", PILOT, date(2030, 1, 1), date(2030, 1, 20), [sales1.id])
    with pytest.raises(ServiceError, match="already in the phase"):
        services.save_phase(None, "第一批", WAVE, date(2030, 2, 1), date(2030, 2, 20), [sales1.id])
    with pytest.raises(ServiceError, match="pilot must start before"):
        services.save_phase(None, "第一批", WAVE, date(2029, 12, 1), date(2029, 12, 20), [sales.id])
    with pytest.raises(ServiceError, match="already has a phase of this kind"):
        services.save_phase(None, "再试点", PILOT, date(2030, 1, 2), date(2030, 1, 5), [finance.id])
    services.save_phase(None, "全员", EVERYONE, date(2030, 3, 1), date(2030, 3, 31), [finance.id])
    with pytest.raises(ServiceError, match="after every wave"):
        services.save_phase(None, "晚一批", WAVE, date(2030, 4, 1), date(2030, 4, 20), [sales.id])
    with pytest.raises(ServiceError):
        services.save_phase(None, "公司", WAVE, date(2030, 2, 1), date(2030, 2, 2), [company["departments"]["company"].id])


def test_plan_pages_and_access(company, client_as):
    sales = company["departments"]["sales"]
    lead = client_as("lead")
    new_phase = {"name": "第一批", "kind": "wave", "starts_on": "2030-01-10", "ends_on": "2030-01-31",
                 "department_ids": [sales.id]}
    asked = lead.post("/rollout/plan/phases", data=new_phase)  # 销售部's go-live 2026-12-01 would move
    assert asked.status_code == 422 and "2026-12-01 → 2030-01-10" in asked.get_data(as_text=True)
    response = lead.post("/rollout/plan/phases", data={**new_phase, "confirm_moves": f"{sales.id}:2030-01-10"})
    assert response.status_code == 302
    phase = db.session.scalar(select(RolloutPhase))
    assert phase.department_ids == {sales.id}
    bad = lead.post("/rollout/plan/phases", data={"name": "反了", "kind": "wave", "starts_on": "2030-03-10",
                                                   "ends_on": "2030-03-01"})
    assert bad.status_code == 422 and "cannot end before it starts" in bad.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count()).select_from(RolloutPhase)) == 1
    outside = lead.post(f"/rollout/departments/{sales.id}/go-live", data={"go_live_on": "2031-01-01"})
    assert outside.status_code == 422 and "within the phase" in outside.get_data(as_text=True)
    assert db.session.get(Department, sales.id).go_live_on == date(2030, 1, 10)
    before = lead.post("/rollout/plan/milestones", data={"title": "数据迁移校验", "due_on": "2030-01-05",
                                                          "phase_id": phase.id})
    assert before.status_code == 422 and "must lie within the phase" in before.get_data(as_text=True)
    assert lead.post("/rollout/plan/milestones", data={"title": "数据迁移校验", "due_on": "2030-01-12",
                                                        "phase_id": phase.id}).status_code == 302
    page = client_as("head").get("/rollout/plan").get_data(as_text=True)
    assert "数据迁移校验" in page and "第一批" in page
    assert client_as("head").post("/rollout/plan/phases", data={"name": "x"}).status_code == 403
    assert client_as("staff").get("/rollout/plan").status_code == 403


# --- readiness ---------------------------------------------------------------------------------------
def _only_blocking(*keys):
    for item in services.READINESS_ITEMS:
        services.save_readiness_setting(item.key, None, item.key in keys)


def test_ready_only_when_every_blocking_item_passes(app, company, factory):
    from rollout.retros.services import create_retro
    sales = company["departments"]["sales"]
    _only_blocking("permissions", "retro")
    entry = services.readiness({sales.id})[0]
    assert not entry.is_ready
    assert {i.key for i in entry.blocking_open} == {"permissions", "retro"}
    for user in db.session.scalars(select(company["staff"].__class__).where(
            company["staff"].__class__.department_id.in_([sales.id, company["departments"]["sales1"].id,
                                                           company["departments"]["sales2"].id]))):
        user.roles_reviewed_at = utcnow() - timedelta(days=3)
    create_retro(company["departments"]["sales1"], "回顾", today() - timedelta(days=3), "mad_sad_glad", company["head"])
    with app.test_request_context():
        entry = services.readiness({sales.id})[0]
    permissions = next(i for i in entry.items if i.key == "permissions")
    assert permissions.status == "pass" and permissions.evidence_url == f"/departments/{sales.id}/roles"
    assert next(i for i in entry.items if i.key == "retro").evidence_url.startswith("/retros")
    assert entry.is_ready
    # an old retro no longer counts once the threshold shrinks
    services.save_readiness_setting("retro", 1, True)
    assert not services.readiness({sales.id})[0].is_ready


def test_missing_module_function_shows_not_available(company, monkeypatch):
    original = services.optional_function
    monkeypatch.setattr(services, "optional_function",
                        lambda module, name: None if name == "required_completion" else original(module, name))
    _only_blocking("training")
    entry = services.readiness({company["departments"]["sales"].id})[0]
    training = next(i for i in entry.items if i.key == "training")
    assert training.status == "unavailable" and "not available" in training.detail
    assert not entry.is_ready


def test_readiness_links_only_to_evidence_the_viewer_may_open(company, client_as):
    """A head sees the readiness of their department, but the import and user lists are an admin's."""
    def links(role):
        table = client_as(role).get("/rollout/").get_data(as_text=True).split('class="table-responsive"')[1]
        return set(re.findall(r'href="(/[^"?]*)', table.split("</table>")[0]))

    admin, head = links("admin"), links("head")
    roles = f"/departments/{company['departments']['sales'].id}/roles"
    assert {"/imports/", roles, "/training/matrix"} <= admin
    assert {"/training/matrix", roles} <= head and "/imports/" not in head  # a head reviews their roles
    for path in head:
        assert client_as("head").get(path).status_code == 200


def test_readiness_settings_page(company, client_as):
    client = client_as("lead")
    assert client.get("/rollout/settings").status_code == 200
    bad = client.post("/rollout/settings", data={"threshold_training": "150", "blocking_training": "y"})
    assert bad.status_code == 422 and "between 0 and 100" in bad.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count()).select_from(ReadinessSetting)) == 0
    words = client.post("/rollout/settings", data={"threshold_training": "八十"})
    assert words.status_code == 422 and "Enter a whole number." in words.get_data(as_text=True)
    assert client.post("/rollout/settings", data={"threshold_faq": "0"}).status_code == 302  # zero is a number
    assert services.readiness_settings()["faq"].threshold == 0
    good = client.post("/rollout/settings", data={"threshold_training": "80", "blocking_training": "y",
                                                   "threshold_faq": "3"})
    assert good.status_code == 302
    settings = services.readiness_settings()
    assert (settings["training"].threshold, settings["training"].is_blocking) == (80, True)
    assert (settings["faq"].threshold, settings["faq"].is_blocking) == (3, False)
    assert client_as("head").post("/rollout/settings", data={}).status_code == 403


def test_head_sees_only_own_department(company, client_as):
    page = client_as("head").get("/rollout/").get_data(as_text=True)
    assert "销售部" in page and "财务部" not in page
    assert "财务部" in client_as("lead").get("/rollout/").get_data(as_text=True)
    assert client_as("staff").get("/rollout/").status_code == 403


# --- adoption ------------------------------------------------------------------------------------------------
def _login(user, day: date):
    db.session.execute(insert(AuditEntry), [{"created_at": local_to_utc(datetime.combine(day, time(9))),
                                             "user_id": user.id, "username": user.username, "action": "login",
                                             "entity": "session", "entity_id": user.username}])


def _activities(user, count: int, at: datetime):
    from rollout.plans.models import Activity
    from rollout.plans.services import create_customer
    customer = create_customer(f"客户{user.id}-{at:%m%d%H%M}-{count}", user, check_duplicates=False)
    db.session.add_all([Activity(kind="call", user_id=user.id, department_id=user.department_id,
                                 customer_id=customer.id, occurred_at=at, created_at=at) for _ in range(count)])


def test_weekly_active_users_and_entries(company, factory):
    pytest.importorskip("rollout.plans.models")
    sales = company["departments"]["sales"]
    staff, staff2 = company["staff"], company["staff2"]
    monday = today() - timedelta(days=today().weekday())
    _login(staff, monday)
    _login(staff, monday)  # twice in a week is still one active user
    _login(staff2, monday - timedelta(days=7))
    _activities(staff, 8, local_to_utc(datetime.combine(monday, time(10))))
    db.session.commit()
    data = services.adoption({sales.id})
    entry = data.departments[0]
    assert entry.active_users[-1] == 1 and entry.active_users[-2] == 1
    ranking = entry.ranking
    assert ranking[0].user_id == staff.id and ranking[0].recent_entries == 8
    # This week counts for the days it has had: on a Monday, a seventh of a week.
    weeks = services.RANKING_WEEKS - 1 + services.this_weeks_share(today())
    assert entry.entries_per_rep_per_week == round(8 / 2 / weeks, 1)


def test_deals_and_quotes_a_rep_records_count_as_entries_beside_follow_ups(company):
    pytest.importorskip("rollout.plans.models")
    from rollout.plans import services as plans
    sales = company["departments"]["sales"]
    staff, staff2 = company["staff"], company["staff2"]
    customer = plans.create_customer("甲公司", staff)
    deal = plans.create_opportunity(customer, staff, "年度合同", "10000")
    plans.create_quote(customer, staff, "软件许可报价", "10000", opportunity=deal)
    other = plans.create_customer("乙公司", staff2)
    plans.create_opportunity(other, staff2, "试点", "5000")
    db.session.commit()
    weekly = {rep.user_id: rep.weekly for rep in services.adoption({sales.id}).departments[0].reps}
    # This week: one deal and one quote for staff, one deal for staff2; nothing before.
    assert weekly[staff.id][-1] == 2 and weekly[staff2.id][-1] == 1
    assert sum(weekly[staff.id][:-1]) == 0


def test_not_logged_in_since_go_live(company):
    sales = company["departments"]["sales"]
    sales.go_live_on = today() - timedelta(days=10)
    staff, staff2 = company["staff"], company["staff2"]
    staff.last_login_at = utcnow()
    staff2.last_login_at = local_to_utc(datetime.combine(today() - timedelta(days=20), time(9)))
    db.session.commit()
    names = {p.user_id for p in services.adoption({sales.id}).departments[0].not_logged_in}
    assert staff2.id in names and staff.id not in names
    sales.go_live_on = today() + timedelta(days=10)  # not live yet: nobody is missing
    assert services.adoption({sales.id}).departments[0].not_logged_in == []


def test_use_before_and_after_training(company):
    pytest.importorskip("training.models")
    sales = company["departments"]["sales"]
    staff = company["staff"]
    monday = today() - timedelta(days=today().weekday())
    trained_on = monday - timedelta(weeks=3)
    complete_required_training(staff, trained_on)
    for weeks_ago, count in ((5, 1), (4, 1), (2, 6), (1, 4)):
        _activities(staff, count, local_to_utc(datetime.combine(monday - timedelta(weeks=weeks_ago), time(10))))
    db.session.commit()
    before, after = services.adoption({sales.id}).departments[0].before_after
    assert before is not None and after is not None and after > before
    # After: weeks 2 and 1 ago, and this week for the part of it lived (no entries yet).
    assert after == round((6 + 4) / (2 + services.this_weeks_share(today())), 1)


def test_ranking_publication_and_visibility(company, client_as, factory):
    sales = company["departments"]["sales"]
    team_head = factory.user("head", department=company["departments"]["sales1"], username="team1.head")
    db.session.commit()
    assert client_as("staff").post(f"/rollout/adoption/{sales.id}/publish").status_code == 403
    assert client_as("other_head").post(f"/rollout/adoption/{sales.id}/publish").status_code == 403
    # A team's head does not publish the whole department's ranking.
    assert client_as(team_head).post(f"/rollout/adoption/{sales.id}/publish").status_code == 403
    assert client_as("staff").get(f"/rollout/ranking/{sales.id}").get_data(as_text=True).count("<tr") == 0
    response = client_as("head").post(f"/rollout/adoption/{sales.id}/publish")
    assert response.status_code == 302
    publication = db.session.scalar(select(RankingPublication))
    assert {row["user_id"] for row in publication.entries} == {company["staff"].id, company["staff2"].id}
    page = client_as("staff").get("/rollout/ranking").get_data(as_text=True)
    assert company["staff2"].display_name in page
    assert client_as("other_staff").get(f"/rollout/ranking/{sales.id}").status_code == 403


def test_expected_rate_is_editable_by_leads_only(company, client_as):
    sales = company["departments"]["sales"]
    assert client_as("lead").post(f"/rollout/adoption/{sales.id}", data={"entries_per_week": 15}).status_code == 302
    assert services.adoption({sales.id}).departments[0].expected_per_week == 15
    assert client_as("lead").post(f"/rollout/adoption/{sales.id}",
                                  data={"entries_per_week": -3}).status_code == 422
    # zero is a rate (a department that only logs in): accepted, not "required"
    assert client_as("lead").post(f"/rollout/adoption/{sales.id}", data={"entries_per_week": "0"}).status_code == 302
    assert services.adoption({sales.id}).departments[0].expected_per_week == 0
    for bad, message in (("abc", "Enter a whole number."), ("2.5", "Enter a whole number."),
                         ("", "This field is required."), ("1001", "Give between 0 and 1000 entries per week.")):
        response = client_as("lead").post(f"/rollout/adoption/{sales.id}", data={"entries_per_week": bad})
        page = response.get_data(as_text=True)
        assert response.status_code == 422 and message in page, bad
        others = {"Enter a whole number.", "This field is required.", "Give between 0 and 1000 entries per week.",
                  "Not a valid integer value."} - {message}
        assert not any(other in page for other in others), bad  # one clear message, not two
    assert services.adoption({sales.id}).departments[0].expected_per_week == 0
    assert client_as("head").post(f"/rollout/adoption/{sales.id}", data={"entries_per_week": 1}).status_code == 403
    assert services.adoption({sales.id}).departments[0].expected_per_week == 0


def test_dashboard_statement_count_is_fixed(company, factory, client_as, count_statements):
    client = client_as("lead")
    sales1 = company["departments"]["sales1"]

    def measure(path):
        db.session.remove()
        with count_statements() as counter:
            assert client.get(path).status_code == 200
        return counter.count

    small = {path: measure(path) for path in ("/rollout/", "/rollout/adoption", "/")}
    from rollout.retros.services import create_retro
    for n in range(12):
        user = factory.user("staff", department=sales1)
        _login(user, today() - timedelta(days=n))
        create_retro(sales1, f"回顾{n}", today() - timedelta(days=n), "mad_sad_glad", user)
        if _has_plans():
            _activities(user, 3, utcnow() - timedelta(days=n))
    db.session.commit()
    large = {path: measure(path) for path in small}
    assert small == large


def _has_plans() -> bool:
    try:
        import rollout.plans.models  # noqa: F401
    except ImportError:
        return False
    return True


def test_status_report_pdf(company, client_as):
    response = client_as("lead").get("/rollout/report.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    pages = PdfReader(io.BytesIO(response.data)).pages
    first, rest = pages[0].mediabox, pages[1].mediabox
    assert first.width > first.height and rest.width < rest.height  # the wide readiness table, then portrait
    assert "Go-live readiness" in pages[0].extract_text() and "Rollout plan" in pages[1].extract_text()
    assert client_as("staff").get("/rollout/report.pdf").status_code == 403
    assert client_as("trainer").get("/rollout/report.pdf").status_code == 403


# --- home page per role ---------------------------------------------------------------------------------------
def test_home_page_per_role(company, client_as, factory):
    lead_page = client_as("lead").get("/").get_data(as_text=True)
    assert 'data-testid="home-readiness"' in lead_page and 'data-testid="home-adoption"' in lead_page
    staff_page = client_as("staff").get("/").get_data(as_text=True)
    assert 'data-testid="home-readiness"' not in staff_page
    assert 'data-testid="home-training"' in staff_page
    if _has_plans():
        assert 'data-testid="home-plan"' in staff_page and 'data-testid="home-overdue"' in staff_page
    trainer_page = client_as("trainer").get("/").get_data(as_text=True)
    assert 'data-testid="home-sessions"' in trainer_page and 'data-testid="home-adoption"' not in trainer_page
    seed = factory.user("staff", department=company["departments"]["sales1"], is_seed_user=True)
    seed_page = client_as(seed).get("/").get_data(as_text=True)
    assert 'data-testid="home-support"' in seed_page
    assert 'data-testid="home-support"' not in staff_page


def test_healthz_is_unchanged(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_cached_figures_are_reused_until_something_is_written(company, client_as, count_statements):
    """Readiness and adoption are computed once per data version: a repeat view reuses them,
    and any write (here a go-live date, then a login) shows up on the next view."""
    client = client_as("lead")
    sales_id, rep_id = company["departments"]["sales"].id, company["staff"].id
    go_live = today() + timedelta(days=40)

    def view(path):
        db.session.remove()
        with count_statements() as counter:
            page = client.get(path)
        assert page.status_code == 200
        main = page.get_data(as_text=True).split("<main", 1)[1]  # the head carries a fresh CSRF token
        return main, counter.count

    first, computed = view("/rollout/")
    again, reused = view("/rollout/")
    assert again == first and reused < computed
    assert go_live.isoformat() not in first
    services.set_go_live(db.session.get(Department, sales_id), go_live)
    db.session.commit()
    changed, recomputed = view("/rollout/")
    assert go_live.isoformat() in changed and recomputed == computed
    # the adoption page and the home page follow writes the same way
    assert view("/rollout/adoption")[1] > view("/rollout/adoption")[1]
    before = services.cached_adoption({sales_id})[0].departments[0].active_users[-1]
    _login(db.session.get(type(company["staff"]), rep_id), today())
    db.session.commit()
    assert services.cached_adoption({sales_id})[0].departments[0].active_users[-1] == before + 1


def test_the_home_page_says_what_waits_for_the_readers_approval(company, client_as):
    pytest.importorskip("rollout.plans.services")
    from rollout.plans import services as plans
    plan = plans.create_plan(company["head"], "quarter", today(), "rep", {"signed_amount": "1000"},
                             user_id=company["staff"].id)
    plans.transition_plan(plan, "submit", company["head"])
    db.session.commit()
    lead = client_as("lead").get("/").text
    assert 'data-testid="home-approvals"' in lead and "1 plan" in lead and "/plans?status=submitted" in lead
    # The head wrote it: it does not wait for him; nothing waits for a rep.
    assert 'data-testid="home-approvals"' not in client_as("head").get("/").text
    assert 'data-testid="home-approvals"' not in client_as("staff").get("/").text


def test_the_weekly_active_users_chart_says_this_week_has_only_begun(app, company):
    today = date(2026, 11, 30)  # a Monday
    _login(company["staff"], today - timedelta(days=7))  # something to draw: an empty chart is words only
    db.session.commit()
    with app.test_request_context():
        chart = str(services.active_users_chart(services.adoption(today=today)))
    assert "11-30（本周）" in chart and "11-23<" in chart  # the company language outside a browser


def test_the_last_week_label_is_shown_whole_in_both_languages(app, company):
    """The label of this week is centred on the right edge: it is neither cut by "…" nor by the edge."""
    today = date(2026, 11, 30)
    _login(company["staff"], today - timedelta(days=7))
    db.session.commit()
    for language, label in (("zh-CN", "11-30（本周）"), ("en", "11-30 (this week)")):
        with app.test_request_context(headers={"Accept-Language": language}):
            refresh()  # the locale is kept for the app context, which outlives this request
            chart = str(services.active_users_chart(services.adoption(today=today)))
        assert f">{label}</text>" in chart and "…" not in chart
        # the plot ends at least half the label's width before the right edge of the 720-wide drawing
        plot_x, plot_width = _plot_box(chart)
        assert 720 - (plot_x + plot_width) >= services._label_width(label) / 2


def _plot_box(svg: str) -> tuple[float, float]:
    x = float(re.search(r'<g transform="translate\(([\d.]+), [\d.]+\)" class="plot">', svg).group(1))
    width = float(re.search(r'class="plot">\s*<rect x="0" y="0" width="([\d.]+)"', svg).group(1))
    return x, width


def test_a_department_without_staff_is_not_said_to_need_zero_seed_users(app, company, factory):
    from rollout.accounts.models import Department as Dept
    empty = Dept(name="法务部", code="legal", kind="department", parent=company["departments"]["company"])
    db.session.add(empty)
    db.session.commit()
    with app.test_request_context():
        entry = next(e for e in services.readiness() if e.department.id == empty.id)
    seeds = next(item for item in entry.items if item.key == "seed_users")
    assert seeds.status == "fail" and seeds.detail == "尚无员工"  # no staff yet, in the company language


def test_a_rep_without_required_training_is_not_told_it_is_all_done(client_as, company):
    page = client_as("staff").get("/").get_data(as_text=True)
    block = page[page.index('data-testid="home-training"'):][:1500]
    assert "No training is required of you yet." in block and "All required training is done." not in block


def test_the_audit_trail_names_a_changed_readiness_threshold_by_its_item(company, client_as):
    client = client_as("admin")
    assert client.post("/rollout/settings", data={"threshold_faq": "3"}).status_code == 302
    page = client.get("/audit/?entity=readiness_settings").get_data(as_text=True)
    assert "“FAQ seeded”" in page and "#faq" not in page
