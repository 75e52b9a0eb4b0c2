"""Training figures for readiness and the matrix: counted by the database and from people read as
columns, with the same results as person by person and a statement count that does not grow."""
from datetime import timedelta

import pytest

from rollout.extensions import db
from rollout.timeutil import local_today
from training import services
from training.models import Course, CourseCompletion, Track


@pytest.fixture
def tracks(company, course, factory):
    """Required tracks for staff (in 销售部 and company-wide, one without courses) and for heads in 销售部,
    an optional track, and people with completions, two roles, a seed flag and a closed account."""
    sales = company["departments"]["sales"]
    everyone = Track(name="全员-系统入门", tier="basic", role="staff")
    empty = Track(name="空轨道", tier="basic", role="staff")
    heads = Track(name="经理-进阶", tier="advanced", role="head", department=sales)
    optional = Track(name="选修", tier="basic", role="staff", is_required=False)
    intro, practice = Course(track=everyone, position=1, title="登录"), Course(track=everyone, position=2, title="录入")
    coaching = Course(track=heads, position=1, title="辅导")
    extra = Course(track=optional, position=1, title="选修课")
    db.session.add_all([everyone, empty, heads, optional, intro, practice, coaching, extra])
    db.session.flush()
    both = factory.user("head", "staff", department=company["departments"]["sales2"], username="both")
    seed = factory.user("staff", department=company["departments"]["finance"], username="seed", is_seed_user=True)
    closed = factory.user("staff", department=company["departments"]["sales1"], username="closed")
    closed.is_active_account = False
    done = {company["staff"]: [course, intro, practice, extra], company["staff2"]: [intro],
            company["head"]: [coaching], both: [coaching], closed: [course, intro, practice]}
    db.session.add_all([CourseCompletion(user_id=user.id, course_id=c.id) for user, cs in done.items() for c in cs])
    db.session.commit()
    return {"course": course, "everyone": everyone, "empty": empty, "heads": heads, "both": both, "seed": seed}


def test_required_completion_counts_people_trained_on_every_required_track(company, tracks):
    departments = company["departments"]
    sales, marketing, finance = departments["sales"].id, departments["marketing"].id, departments["finance"].id
    # 销售部: head did his one track (trained); staff 2 of 3 (the empty track is never complete), staff2 0 of 3,
    # both 1 of 4: not trained. The closed account does not count; people with no required track neither.
    assert services.required_completion_by_department([sales, marketing, finance]) == {
        sales: (1, 4, 25), marketing: (0, 1, 0), finance: (0, 2, 0)}
    assert services.required_completion(departments["sales1"].id) == (0, 1, 0)
    assert services.required_completion(departments["company"].id) == (1, 7, 14)


def test_counts_agree_with_the_obligations_person_by_person(company, tracks):
    tree = services.DepartmentTree()
    ids = [row.id for row in tree.departments()] + [company["departments"]["sales2"].id]
    expected = {}
    for department_id in ids:
        people: dict[int, bool] = {}
        for o in services.obligations():
            if o.user.department_id in tree.subtree(department_id):
                people[o.user.id] = people.get(o.user.id, True) and o.is_complete
        trained = sum(people.values())
        expected[department_id] = (trained, len(people), round(100 * trained / len(people)) if people else 0)
    assert services.required_completion_by_department(ids) == expected


def test_obligations_read_people_with_their_department_and_roles(company, tracks):
    items = services.obligations()
    mine = {o.track.name: o for o in items if o.user.username == "both"}
    assert set(mine) == {"销售代表-基础", "全员-系统入门", "空轨道", "经理-进阶"}
    assert mine["经理-进阶"].is_complete and not mine["空轨道"].is_complete and mine["空轨道"].total_courses == 0
    assert mine["全员-系统入门"].user.department.name == "销售二组"
    assert mine["全员-系统入门"].user.roles == {"head", "staff"}
    assert "closed" not in {o.user.username for o in items}
    assert "选修" not in {o.track.name for o in items}
    staff = {o.track.name: (o.completed_courses, o.total_courses) for o in items if o.user.username == "staff"}
    assert staff == {"销售代表-基础": (1, 1), "全员-系统入门": (2, 2), "空轨道": (0, 0)}


def test_seed_users_due_earlier_in_the_person_rows(company, tracks):
    company["departments"]["finance"].go_live_on = local_today() + timedelta(days=30)
    db.session.commit()
    due = {(o.user.username, o.track.name): o.due_on for o in services.obligations()}
    go_live = local_today() + timedelta(days=30)
    assert due[("finance", "全员-系统入门")] == go_live - timedelta(days=7)
    assert due[("seed", "全员-系统入门")] == go_live - timedelta(days=14)


def test_matrix_lists_overdue_people_with_their_team(client_as, company, tracks):
    company["departments"]["sales"].go_live_on = local_today() + timedelta(days=2)  # due 5 days ago
    db.session.commit()
    matrix = services.completion_matrix({company["departments"]["sales"].id})
    cell = matrix.cells[(company["departments"]["sales"].id, tracks["everyone"].id)]
    assert (cell.completed, cell.required) == (1, 3)
    overdue = {(o.user.username, o.track.name) for o in matrix.overdue}
    assert ("staff2", "全员-系统入门") in overdue and ("both", "空轨道") in overdue
    assert ("head", "经理-进阶") not in overdue  # completed
    page = client_as("head").get("/training/matrix").get_data(as_text=True)
    overdue_table = page.split('data-testid="overdue"')[1]
    assert "销售二组" in overdue_table and company["staff2"].display_name in overdue_table


def test_readiness_training_figures_take_a_fixed_number_of_statements(company, tracks, factory, count_statements):
    tree = services.DepartmentTree()
    ids = [row.id for row in tree.departments()]
    db.session.commit()  # each measurement opens its own transaction
    with count_statements() as small:
        services.required_completion_by_department(ids)
    for n in range(6):
        user = factory.user("staff", "head", department=company["departments"]["sales1"])
        db.session.add(CourseCompletion(user_id=user.id, course_id=tracks["course"].id))
    db.session.commit()
    with count_statements() as large:
        counts = services.required_completion_by_department(ids)
    assert large.count == small.count
    assert counts[company["departments"]["sales"].id][:2] == (1, 4 + 6)
