"""Tracks and courses: forms with bad input, prerequisites, attachments, quiz page."""
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
