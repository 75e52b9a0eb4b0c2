"""Quiz: every question must be answered; after grading each answer shows whether it was right."""
import re

import pytest
from sqlalchemy import func, select

from rollout.extensions import db
from training import enrolment as enrolments
from training.models import QuizAttempt, QuizQuestion


@pytest.fixture
def questions(course):
    course.pass_mark = 100
    rows = [QuizQuestion(course=course, position=1, prompt="低于几折需要经理审批？", options_text="9 折\n8 折",
                         correct_option=1),
            QuizQuestion(course=course, position=2, prompt="报价有效期多少天？", options_text="7 天\n30 天\n90 天",
                         correct_option=1),
            QuizQuestion(course=course, position=3, prompt="谁批准特价？", options_text="销售经理\n财务",
                         correct_option=0)]
    db.session.add_all(rows)
    db.session.commit()
    return rows


def attempts():
    return db.session.scalar(select(func.count()).select_from(QuizAttempt))


def test_service_refuses_unanswered_questions(company, course, questions):
    with pytest.raises(enrolments.QuizIncomplete) as refused:
        enrolments.grade_quiz(course, company["staff"], {questions[0].id: 1, questions[1].id: None})
    assert refused.value.missing == [2, 3]
    # an option that does not exist is no answer either
    with pytest.raises(enrolments.QuizIncomplete) as refused:
        enrolments.grade_quiz(course, company["staff"], {questions[0].id: 1, questions[1].id: 7, questions[2].id: 0})
    assert refused.value.missing == [2]
    assert attempts() == 0


def test_empty_quiz_is_refused_and_nothing_recorded(client_as, course, questions):
    staff = client_as("staff")
    response = staff.post(f"/training/courses/{course.id}/quiz", data={})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-testid="quiz-missing"' in page and "1, 2, 3" in page
    assert 'data-testid="quiz-result"' not in page and "0%" not in page
    assert attempts() == 0


def test_partly_answered_quiz_keeps_the_given_answers(client_as, course, questions):
    staff = client_as("staff")
    response = staff.post(f"/training/courses/{course.id}/quiz",
                          data={f"q{questions[0].id}": "1", f"q{questions[2].id}": "abc"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and attempts() == 0
    assert re.search(r'value="1" checked', page)  # the answer given to question 1 is still chosen
    assert "2, 3" in page
    assert page.count(" checked") == 1


def test_graded_quiz_shows_right_and_wrong_answers(client_as, course, questions):
    staff = client_as("staff")
    response = staff.post(f"/training/courses/{course.id}/quiz", data={
        f"q{questions[0].id}": "1", f"q{questions[1].id}": "0", f"q{questions[2].id}": "0"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and attempts() == 1
    assert 'data-testid="quiz-result"' in page and "67%" in page
    assert re.findall(r'data-result="(\w+)"', page) == ["right", "wrong", "right"]
    assert page.count(" checked") == 3


def test_unanswered_questions_are_listed_the_chinese_way(app, company, course, questions):
    from tests.conftest import chinese_client
    page = chinese_client(app, company["staff"]).post(f"/training/courses/{course.id}/quiz", data={}).text
    assert "第 1、2、3 题" in page
