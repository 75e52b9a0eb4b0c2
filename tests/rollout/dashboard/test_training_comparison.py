"""Before/after training: the adoption table and the chart beside it say the same thing — a department
with nothing to compare shows "—" (explained under the table), not "0.0 / 0.0" next to "no data yet"."""
from datetime import datetime, time, timedelta

import pytest

from rollout.dashboard import services
from rollout.extensions import db
from rollout.timeutil import local_to_utc
from tests.rollout.dashboard.dates import today
from tests.rollout.dashboard.helpers import complete_required_training


def _entry(before_after) -> services.DepartmentAdoption:
    return services.DepartmentAdoption(department=None, active_users=[], people=1, reps=[], expected_per_week=10,
                                       not_logged_in=[], before_after=before_after)


@pytest.mark.parametrize("before_after, shown", [
    ((None, None), (None, None)),  # no trained reps
    ((0.0, 0.0), (None, None)),  # trained reps without a single entry
    ((None, 0.0), (None, None)),  # trained before the weeks shown, no entries since
    ((6.1, 0.0), (6.1, 0.0)),  # entries before, none after: a real drop, shown
    ((None, 2.5), (None, 2.5)),
])
def test_nothing_to_compare_is_shown_as_nothing(before_after, shown):
    assert _entry(before_after).training_comparison == shown


def _row_cells(page: str, department: str) -> list[str]:
    row = page.split(f">{department}</a></td>")[1].split("</tr>")[0]
    return [cell.split(">", 1)[1].split("<")[0] for cell in row.split("<td")[1:]]


def test_trained_reps_without_entries_read_as_no_data_in_table_and_chart(company, client_as):
    pytest.importorskip("training.models")
    sales = company["departments"]["sales"]
    complete_required_training(company["staff"], today() - timedelta(weeks=3))
    db.session.commit()
    assert services.adoption({sales.id}).departments[0].before_after == (0.0, 0.0)  # the raw figures
    lead = client_as("lead")
    page = lead.get("/rollout/adoption", headers={"Accept-Language": "en"}).get_data(as_text=True)
    cells = _row_cells(page, sales.name)
    assert cells[4:6] == ["—", "—"] and "0.0 / 0.0" not in page
    assert "No data yet: the comparison appears once trained reps have recorded" in page
    assert 'data-testid="no-comparison-note"' in page and "“—” before/after training: nothing to compare" in page
    page = client_as("head").get("/rollout/adoption", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "培训前/后为“—”：还没有可对比的数据" in page and "还没有数据" in page


def test_a_department_with_figures_shows_them_and_no_note(company, client_as):
    pytest.importorskip("training.models")
    pytest.importorskip("rollout.plans.models")
    from tests.rollout.dashboard.test_dashboard import _activities
    sales = company["departments"]["sales"]
    staff = company["staff"]
    monday = today() - timedelta(days=today().weekday())
    complete_required_training(staff, monday - timedelta(weeks=3))
    _activities(staff, 4, local_to_utc(datetime.combine(monday - timedelta(weeks=5), time(10))))
    db.session.commit()
    page = client_as("head").get("/rollout/adoption", headers={"Accept-Language": "en"}).get_data(as_text=True)
    before, after = _row_cells(page, sales.name)[4:6]
    assert float(before) > 0 and after == "0.0"  # a real drop to nothing is a figure, not "—"
    assert 'data-testid="no-comparison-note"' not in page
    training_chart = page.split('<div class="svg-chart">')[2].split("</div>")[0]
    assert "<svg" in training_chart and "before and after training" in training_chart
