"""Required tracks per role, due dates from go-live (seed users earlier), the matrix, export, reminders."""
from datetime import date, timedelta
from io import BytesIO

from openpyxl import load_workbook
from sqlalchemy import select

from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.timeutil import local_today, utcnow
from training import services
from training.models import Course, CourseCompletion, Enrolment, Track


def test_required_tracks_follow_role_and_department(company, course):
    manager_track = Track(name="销售经理-进阶", tier="advanced", role="head", department=company["departments"]["sales"])
    admin_track = Track(name="系统管理员", tier="admin", role="admin")
    db.session.add_all([manager_track, admin_track, Course(track=manager_track, position=1, title="团队计划"),
                        Course(track=admin_track, position=1, title="权限")])
    db.session.commit()
    pairs = {(o.user.username, o.track.name) for o in services.obligations()}
    assert ("staff", "销售代表-基础") in pairs and ("staff2", "销售代表-基础") in pairs  # teams of 销售部
    assert ("other_staff", "销售代表-基础") not in pairs  # 市场部 staff are no sales reps
    assert ("head", "销售经理-进阶") in pairs and ("other_head", "销售经理-进阶") not in pairs
    assert ("admin", "系统管理员") in pairs


def test_due_relative_to_go_live_and_seed_users_earlier(company, course, factory):
    seed = factory.user("staff", department=company["departments"]["sales1"], is_seed_user=True)
    due = {o.user.id: o.due_on for o in services.obligations()}
    go_live = date(2026, 12, 1)  # 销售部 in the company fixture; teams inherit it
    assert due[company["staff"].id] == go_live - timedelta(days=7)
    assert due[seed.id] == go_live - timedelta(days=14)


def test_matrix_counts_and_overdue(company, course):
    db.session.add(CourseCompletion(user_id=company["staff"].id, course_id=course.id))
    db.session.commit()
    matrix = services.completion_matrix(today=date(2026, 11, 30))
    sales = company["departments"]["sales"].id
    cell = matrix.cells[(sales, course.track.id)]
    assert (cell.completed, cell.required, cell.percent) == (1, 2, 50)
    assert [o.user.username for o in matrix.overdue] == ["staff2"]
    assert services.required_completion(sales) == (1, 2, 50)
    assert services.required_completion(company["departments"]["marketing"].id) == (0, 0, 0)


def test_matrix_page_head_sees_own_department(client_as, company, course):
    page = client_as("head").get("/training/matrix").get_data(as_text=True)
    assert "销售部" in page and "市场部" not in page
    assert "市场部" in client_as("lead").get("/training/matrix").get_data(as_text=True)
    assert client_as("staff").get("/training/matrix").status_code == 403


def test_export_xlsx_and_csv(client_as, company, course):
    client = client_as("lead")
    response = client.get("/training/matrix/export?fmt=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("Department", "Track", "Tier")
    assert ("销售部", "销售代表-基础") in {row[:2] for row in rows[1:]}
    csv = client.get("/training/matrix/export?fmt=csv&kind=overdue")
    assert csv.status_code == 200 and csv.data.startswith("\ufeff".encode())
    assert client_as("staff").get("/training/matrix/export").status_code == 403


def test_remind_command_sessions_soon_and_overdue(app, runner, company, make_session, course):
    session = make_session(days=0)
    session.starts_at = utcnow() + timedelta(hours=3)
    session.ends_at = session.starts_at + timedelta(hours=1)
    db.session.add(Enrolment(session_id=session.id, user_id=company["staff"].id, status="enrolled"))
    company["departments"]["sales"].go_live_on = date.today() - timedelta(days=1)
    db.session.commit()
    result = runner.invoke(args=["training", "remind"])
    assert result.exit_code == 0, result.output
    assert "1 session" in result.output
    events = sorted(db.session.scalars(select(Notification.event).where(
        Notification.user_id == company["staff"].id)))
    assert events == ["training.overdue", "training.reminder"]
    again = runner.invoke(args=["training", "remind"])
    assert "0 session(s); 0 overdue" in again.output


def test_index_shows_my_required_track_and_state(client_as, company, course):
    page = client_as("staff").get("/training/").get_data(as_text=True)
    assert "销售代表-基础" in page and f'data-testid="state-{course.track.id}"' in page


def test_matrix_statement_count_does_not_grow(client_as, company, course, factory, count_statements):
    from rollout import figures
    client = client_as("lead")
    client.get("/training/matrix")
    figures.clear()  # measure the computation, not the cached copy
    with count_statements() as small:
        client.get("/training/matrix")
    for _ in range(8):
        user = factory.user("staff", department=company["departments"]["sales2"])
        db.session.add(CourseCompletion(user_id=user.id, course_id=course.id))
    db.session.commit()
    with count_statements() as large:
        assert client.get("/training/matrix").status_code == 200
    assert large.count == small.count
    with count_statements() as repeat:
        assert client.get("/training/matrix").status_code == 200
    assert repeat.count < large.count  # nothing written since: the matrix is reused


def test_home_page_marks_overdue_training(client_as, company, course):
    sales = company["departments"]["sales"]
    sales.go_live_on = local_today() + timedelta(days=3)  # due a week before: four days ago
    db.session.commit()
    training = client_as("staff").get("/").get_data(as_text=True).split('data-testid="home-training"')[1]
    assert "销售代表-基础" in training and ">Overdue<" in training.split("</div>")[0]
    sales.go_live_on = local_today() + timedelta(days=30)
    db.session.commit()
    training = client_as("staff2").get("/").get_data(as_text=True).split('data-testid="home-training"')[1]
    assert "销售代表-基础" in training and ">overdue<" not in training.split("</div>")[0]
