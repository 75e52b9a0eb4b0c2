"""An adoption chart with nothing to draw says so in words instead of drawing an empty 0–1 axis."""
from rollout.dashboard import services
from tests.rollout.dashboard.dates import today
from tests.rollout.dashboard.helpers import log_in_on


def _wau(page: str) -> str:
    return page.split('data-testid="wau-chart"')[1].split('<div class="col-xl-6">')[0]


def test_no_logins_yet_is_said_in_words(company, client_as):
    page = client_as("lead").get("/rollout/adoption").get_data(as_text=True)
    wau = _wau(page)
    assert 'data-testid="chart-empty"' in wau and "<svg" not in wau
    assert "Weekly active users" in wau and "nobody in these departments has signed in" in wau


def test_a_login_draws_the_chart(company, client_as):
    log_in_on(company["staff"], today())
    wau = _wau(client_as("lead").get("/rollout/adoption").get_data(as_text=True))
    assert "<svg" in wau and 'data-testid="chart-empty"' not in wau


def test_the_empty_chart_reads_in_chinese(company, app):
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        data, charts = services.cached_adoption(with_charts=True)
        assert "还没有数据" in str(charts["active_chart"]) and "<svg" not in str(charts["active_chart"])


def test_no_data_yet_escapes_what_it_is_given():
    from rollout.reports.charts import no_data_yet
    box = no_data_yet("<b>标题</b>", "<script>x</script>")
    assert "<b>" not in box and "<script>" not in box and "&lt;b&gt;标题" in box


def test_only_values_above_zero_count_as_figures():
    assert not services._has_figures({"a": [0, 0.0, None], "b": []})
    assert services._has_figures({"a": [0, None], "b": [0.1]})


def test_the_pdf_report_with_empty_charts(company, client_as):
    response = client_as("lead").get("/rollout/report.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")


def test_without_departments_every_chart_says_so(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        _data, charts = services.cached_adoption(with_charts=True)
    assert all("there are no departments to show" in str(chart) for chart in charts.values())


def test_the_active_users_axis_counts_whole_people_from_zero(company, client_as):
    log_in_on(company["staff"], today())
    wau = _wau(client_as("lead").get("/rollout/adoption").get_data(as_text=True))
    assert ">0</text>" in wau and ">1</text>" in wau and ">0.5</text>" not in wau and ">0.2</text>" not in wau
