"""Tracks and courses: forms with bad input, prerequisites, attachments, quiz page."""
import re
from io import BytesIO

from sqlalchemy import func, select

from rollout.extensions import db
from training.models import Course, CourseAttachment, CourseCompletion, QuizAttempt, QuizQuestion, Track


def test_trainer_creates_track_and_courses(client_as, company):
    client = client_as("trainer")
    response = client.post("/training/tracks/new", data={
        "name": "销售经理-进阶", "tier": "advanced", "role": "head", "department_id": company["departments"]["sales"].id,
        "is_required": "y", "due_days_before_go_live": "14", "seed_lead_days": "7"})
    assert response.status_code == 302
    track = db.session.scalar(select(Track))
    assert (track.role, track.department_id, track.due_days_before_go_live) == ("head", company["departments"]["sales"].id, 14)
    for title in ("团队计划", "漏斗报表"):
        assert client.post(f"/training/tracks/{track.id}/courses/new", data={
            "title": title, "duration_minutes": "60", "prerequisite_id": "0"}).status_code == 302
    assert [c.position for c in track.courses] == [1, 2]


def test_track_bad_input_writes_nothing(client_as, company):
    client = client_as("trainer")
    for data in ({"name": "", "tier": "basic", "role": "staff", "due_days_before_go_live": "7"},
                 {"name": "x", "tier": "expert", "role": "staff", "due_days_before_go_live": "7"},
                 {"name": "x", "tier": "basic", "role": "staff", "due_days_before_go_live": "-3"}):
        assert client.post("/training/tracks/new", data={"department_id": "0", **data}).status_code == 422
    assert db.session.scalar(select(func.count()).select_from(Track)) == 0
    assert client_as("staff").post("/training/tracks/new", data={"name": "x"}).status_code == 403


def test_zero_days_means_due_on_the_go_live_day(client_as, company):
    client = client_as("trainer")
    response = client.post("/training/tracks/new", data={
        "name": "销售代表-上线日", "tier": "basic", "role": "staff", "department_id": "0", "is_required": "y",
        "due_days_before_go_live": "0", "seed_lead_days": "0"})
    assert response.status_code == 302
    track = db.session.scalar(select(Track))
    assert (track.due_days_before_go_live, track.seed_lead_days) == (0, 0)
    # and the edit form shows the 0 back
    assert re.search(r'<input[^>]*name="due_days_before_go_live"[^>]*value="0"', client.get(
        f"/training/tracks/{track.id}/edit").get_data(as_text=True))
    empty = client.post(f"/training/tracks/{track.id}/edit", data={
        "name": track.name, "tier": "basic", "role": "staff", "department_id": "0", "due_days_before_go_live": ""})
    assert empty.status_code == 422 and "This field is required." in empty.get_data(as_text=True)


def test_zero_in_other_number_fields_gets_the_range_not_required(client_as, company, course, make_session):
    client = client_as("trainer")
    cases = [
        (f"/training/courses/{course.id}/edit", {"title": course.title, "duration_minutes": "0",
                                                 "prerequisite_id": "0"}, "between 1 and 1440"),
        (f"/training/courses/{course.id}/questions", {"prompt": "几折要审批？", "options_text": "9 折\n8 折",
                                                      "correct_option": "0"}, "at least 1"),
        ("/training/sessions/new", {"title": "报价审批", "kind": "lecture", "capacity": "0", "course_id": "0",
                                    "trainer_id": "0"}, "between 1 and 10000"),
    ]
    for url, data, message in cases:
        page = client.post(url, data=data)
        text = page.get_data(as_text=True)
        assert page.status_code == 422 and message in text and "This field is required." not in text, url


def test_examples_are_in_the_pages_language(client_as, company):
    client = client_as("trainer")
    page = client.get("/training/tracks/new").get_data(as_text=True)
    assert "For example Sales rep – basics" in page and "销售代表" not in page
    assert 'placeholder="Search, e.g. quote approval"' in client.get("/training/faq").get_data(as_text=True)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    assert "例如：销售代表-基础" in client.get("/training/tracks/new").get_data(as_text=True)
    assert 'placeholder="搜索，例如：报价审批"' in client.get("/training/faq").get_data(as_text=True)


def test_prerequisite_cycle_refused(client_as, company, course):
    second = Course(track=course.track, position=2, title="进阶", prerequisite=course)
    db.session.add(second)
    db.session.commit()
    response = client_as("trainer").post(f"/training/courses/{course.id}/edit", data={
        "title": course.title, "duration_minutes": "60", "prerequisite_id": str(second.id)})
    assert response.status_code == 422
    assert "cannot require itself" in response.get_data(as_text=True)
    db.session.expire_all()
    assert course.prerequisite_id is None


def test_attachment_upload_and_download(client_as, company, course):
    client = client_as("trainer")
    response = client.post(f"/training/courses/{course.id}/attachments",
                           data={"file": (BytesIO(b"slides"), "报价审批要点.md")}, content_type="multipart/form-data")
    assert response.status_code == 302
    item = db.session.scalar(select(CourseAttachment))
    assert item.filename == "报价审批要点.md" and item.size == 6
    download = client_as("staff").get(f"/training/attachments/{item.id}")
    assert download.status_code == 200 and download.data == b"slides"
    assert "filename*=UTF-8''%E6%8A%A5" in download.headers["Content-Disposition"]
    assert client_as("staff").post(f"/training/courses/{course.id}/attachments",
                                   data={"file": (BytesIO(b"x"), "x.txt")},
                                   content_type="multipart/form-data").status_code == 403


def test_question_validation_and_quiz_page(client_as, company, course):
    trainer = client_as("trainer")
    bad = trainer.post(f"/training/courses/{course.id}/questions",
                       data={"prompt": "折扣低于几折要审批？", "options_text": "9 折\n8 折", "correct_option": "3"})
    assert bad.status_code == 422 and db.session.scalar(select(func.count()).select_from(QuizQuestion)) == 0
    assert trainer.post(f"/training/courses/{course.id}/questions", data={
        "prompt": "折扣低于几折要审批？", "options_text": "9 折\n8 折", "correct_option": "1"}).status_code == 302
    question = db.session.scalar(select(QuizQuestion))
    staff = client_as("staff")
    assert "折扣低于几折要审批？" in staff.get(f"/training/courses/{course.id}/quiz").get_data(as_text=True)
    page = staff.post(f"/training/courses/{course.id}/quiz", data={f"q{question.id}": "0"}).get_data(as_text=True)
    assert 'data-testid="quiz-result"' in page and "100%" in page
    attempt = db.session.scalar(select(QuizAttempt))
    assert attempt.is_passed and attempt.user_id == company["staff"].id
    # passed but not attended: not complete yet
    assert db.session.scalar(select(func.count()).select_from(CourseCompletion)) == 0
