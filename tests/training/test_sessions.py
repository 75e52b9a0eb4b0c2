"""Session pages: creating with validation and clash warnings, capacity, sign-up, attendance, PDF, calendar."""
from datetime import timedelta

from sqlalchemy import func, select

from rollout.extensions import db
from rollout.timeutil import to_local, utcnow
from training.models import Enrolment, TrainingSession


def _form(start, hours=2, **extra):
    local = to_local(start).replace(tzinfo=None)
    data = {"title": "报价审批演练", "kind": "drill", "starts_at": local.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (local + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M"), "capacity": "10",
            "location": "培训室A", "course_id": "0", "trainer_id": "0"}
    data.update(extra)
    return data


def _count():
    return db.session.scalar(select(func.count()).select_from(TrainingSession))


def test_trainer_creates_a_session(client_as, company, course):
    start = utcnow().replace(second=0, microsecond=0) + timedelta(days=2)
    response = client_as("trainer").post("/training/sessions/new", data=_form(
        start, course_id=str(course.id), trainer_id=str(company["trainer"].id), target_roles=["staff"],
        department_ids=[str(company["departments"]["sales"].id)]))
    assert response.status_code == 302
    session = db.session.scalar(select(TrainingSession))
    assert session.starts_at == start and session.status == "scheduled"
    assert session.target_role_list == ["staff"] and [d.code for d in session.departments] == ["sales"]


def test_session_cannot_end_before_it_starts(client_as, company):
    start = utcnow() + timedelta(days=2)
    response = client_as("trainer").post("/training/sessions/new", data=_form(start, hours=-1))
    assert response.status_code == 422
    assert "cannot end before it starts" in response.get_data(as_text=True)
    assert _count() == 0


def test_clash_of_room_is_shown_before_saving(client_as, company, make_session, factory):
    existing = make_session(location="培训室A")
    other_trainer = factory.user("trainer", department=company["departments"]["marketing"])
    client = client_as("lead")
    data = _form(existing.starts_at + timedelta(minutes=30), location="培训室a", trainer_id=str(other_trainer.id))
    response = client.post("/training/sessions/new", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'data-testid="clashes"' in page and existing.title in page
    assert _count() == 1
    response = client.post("/training/sessions/new", data={**data, "confirm_clash": "y"})
    assert response.status_code == 302 and _count() == 2


def test_clash_of_trainer_in_another_room(client_as, company, make_session):
    existing = make_session(location="培训室A")
    response = client_as("trainer").post("/training/sessions/new", data=_form(
        existing.starts_at, location="会议室3", trainer_id=str(company["trainer"].id)))
    assert response.status_code == 422 and _count() == 1
    # back to back is no clash
    response = client_as("trainer").post("/training/sessions/new", data=_form(
        existing.ends_at, location="培训室A", trainer_id=str(company["trainer"].id)))
    assert response.status_code == 302


def test_capacity_cannot_drop_below_enrolled(client_as, company, make_session):
    session = make_session(capacity=3)
    for key in ("staff", "staff2"):
        db.session.add(Enrolment(session_id=session.id, user_id=company[key].id, status="enrolled"))
    db.session.commit()
    response = client_as("trainer").post(f"/training/sessions/{session.id}/edit",
                                         data=_form(session.starts_at, capacity="1", location="别处",
                                                    trainer_id=str(company["trainer"].id)))
    assert response.status_code == 422
    assert "cannot be below the 2 people already enrolled" in response.get_data(as_text=True)
    db.session.expire_all()
    assert session.capacity == 3 and session.location == "培训室A"


def test_more_capacity_promotes_from_waitlist(client_as, company, make_session):
    session = make_session(capacity=1)
    db.session.add(Enrolment(session_id=session.id, user_id=company["staff"].id, status="enrolled"))
    db.session.add(Enrolment(session_id=session.id, user_id=company["staff2"].id, status="waitlisted",
                             waitlisted_at=utcnow()))
    db.session.commit()
    response = client_as("trainer").post(f"/training/sessions/{session.id}/edit",
                                         data=_form(session.starts_at, capacity="2",
                                                    trainer_id=str(company["trainer"].id)))
    assert response.status_code == 302
    assert set(db.session.scalars(select(Enrolment.status))) == {"enrolled"}


def test_self_sign_up_and_double_sign_up_message(client_as, company, make_session):
    session = make_session(capacity=1)
    client = client_as("staff")
    assert client.post(f"/training/sessions/{session.id}/enrol").status_code == 302
    response = client.post(f"/training/sessions/{session.id}/enrol", follow_redirects=True)
    assert "already signed up" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Enrolment)) == 1
    page = client_as("staff2").post(f"/training/sessions/{session.id}/enrol", follow_redirects=True)
    assert "waitlist" in page.get_data(as_text=True)


def test_head_assigns_own_department_only(client_as, company, make_session):
    session = make_session()
    head = client_as("head")
    assert head.post(f"/training/sessions/{session.id}/assign",
                     data={"user_id": company["staff2"].id}).status_code == 302
    assert head.post(f"/training/sessions/{session.id}/assign",
                     data={"user_id": company["other_staff"].id}).status_code == 403
    enrolment = db.session.scalar(select(Enrolment))
    assert enrolment.user_id == company["staff2"].id and enrolment.assigned_by_id == company["head"].id
    assert client_as("staff").post(f"/training/sessions/{session.id}/assign",
                                   data={"user_id": company["staff2"].id}).status_code == 403


def test_attendance_form_and_sign_in_sheet(client_as, company, make_session):
    session = make_session(days=-1)
    session.starts_at, session.ends_at = utcnow() - timedelta(hours=2), utcnow() - timedelta(hours=1)
    db.session.add(Enrolment(session_id=session.id, user_id=company["staff"].id, status="enrolled"))
    db.session.commit()
    enrolment = db.session.scalar(select(Enrolment))
    trainer = client_as("trainer")
    page = trainer.get(f"/training/sessions/{session.id}").get_data(as_text=True)
    assert f'name="attendance-{enrolment.id}"' in page
    assert trainer.post(f"/training/sessions/{session.id}/attendance",
                        data={f"attendance-{enrolment.id}": "present"}).status_code == 302
    db.session.expire_all()
    assert enrolment.attendance == "present"
    assert client_as("staff").post(f"/training/sessions/{session.id}/attendance",
                                   data={f"attendance-{enrolment.id}": "absent"}).status_code == 403
    pdf = trainer.get(f"/training/sessions/{session.id}/sign-in-sheet.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    from io import BytesIO

    from pypdf import PdfReader
    text = PdfReader(BytesIO(pdf.data)).pages[0].extract_text()
    assert company["staff"].display_name in text
    # Named in the reader's language (an English reader gets no Chinese file name).
    assert "filename*=UTF-8''Sign-in%20sheet-" in pdf.headers["Content-Disposition"]


def test_calendar_per_session_and_cancellation(client_as, company, make_session):
    session = make_session()
    client = client_as("staff")
    ics = client.get(f"/training/sessions/{session.id}/calendar.ics")
    assert ics.status_code == 200 and ics.mimetype == "text/calendar"
    body = ics.get_data(as_text=True)
    assert f"UID:training-session-{session.id}@rollout-desk" in body and "SEQUENCE:0" in body
    # The link opens the session at the address the reader uses, not a configured default.
    assert f"URL:http://localhost/training/sessions/{session.id}" in body.replace("\r\n ", "")
    client.post(f"/training/sessions/{session.id}/enrol")
    assert client_as("trainer").post(f"/training/sessions/{session.id}/status/cancel").status_code == 302
    body = client.get(f"/training/sessions/{session.id}/calendar.ics").get_data(as_text=True)
    assert "METHOD:CANCEL" in body and "STATUS:CANCELLED" in body and "SEQUENCE:1" in body
    feed = client.get("/training/calendar.ics").get_data(as_text=True)
    assert f"training-session-{session.id}@rollout-desk" in feed and "STATUS:CANCELLED" in feed


def test_personal_feed_lists_only_my_sessions(company, make_session):
    from training.enrolment import feed_items
    mine, other = make_session(title="我的"), make_session(title="别人的", location="培训室B")
    db.session.add(Enrolment(session_id=mine.id, user_id=company["staff"].id, status="enrolled"))
    db.session.commit()
    assert [item.summary for item in feed_items(company["staff"])] == ["我的"]
    assert {item.summary for item in feed_items(company["trainer"])} == {"我的", "别人的"}
    assert other.id


def test_draft_needs_trainer_and_time_to_be_scheduled(client_as, company):
    draft = TrainingSession(title="变更培训", kind="lecture", status="draft", capacity=20)
    db.session.add(draft)
    db.session.commit()
    client = client_as("trainer")
    response = client.post(f"/training/sessions/{draft.id}/status/schedule", follow_redirects=True)
    assert "start time is required" in response.get_data(as_text=True)
    db.session.expire_all()
    assert draft.status == "draft"
    start = utcnow() + timedelta(days=3)
    response = client.post(f"/training/sessions/{draft.id}/edit", data=_form(
        start, title="变更培训", trainer_id=str(company["trainer"].id), schedule="1"))
    assert response.status_code == 302
    db.session.expire_all()
    assert draft.status == "scheduled"
    assert client_as("staff").get(f"/training/sessions/{draft.id}").status_code == 200


def test_drafts_are_hidden_from_staff(client_as, company):
    draft = TrainingSession(title="变更培训", kind="lecture", status="draft", capacity=20)
    db.session.add(draft)
    db.session.commit()
    assert client_as("staff").get(f"/training/sessions/{draft.id}").status_code == 404
    assert client_as("staff").get("/training/sessions/new").status_code == 403


def test_session_list_statement_count_does_not_grow(client_as, company, make_session, count_statements):
    client = client_as("staff")
    make_session()
    client.get("/training/sessions")
    with count_statements() as small:
        assert client.get("/training/sessions").status_code == 200
    for day in range(4, 14):
        session = make_session(days=day, location=f"室{day}")
        db.session.add(Enrolment(session_id=session.id, user_id=company["staff2"].id, status="enrolled"))
    db.session.commit()
    with count_statements() as large:
        page = client.get("/training/sessions").get_data(as_text=True)
    assert "室13" in page
    assert large.count == small.count


def test_out_of_range_dates_and_ids_are_refused(client_as, company, make_session):
    client = client_as("trainer")
    response = client.post("/training/sessions/new", data={
        "title": "远古", "kind": "lecture", "starts_at": "0001-01-01T00:00", "ends_at": "0001-01-01T02:00",
        "capacity": "5", "course_id": "0", "trainer_id": str(company["trainer"].id)})
    assert response.status_code == 422 and _count() == 0
    session = make_session()
    assert client.post(f"/training/sessions/{session.id}/assign",
                       data={"user_id": str(10**20)}).status_code == 303
    assert client.get(f"/training/sessions/new?course_id={10**20}").status_code == 200


def test_people_missing_the_prerequisite_see_why_instead_of_a_sign_up_button(client_as, company, make_session,
                                                                                course):
    from training.models import Course, CourseCompletion
    advanced = Course(track=course.track, position=2, title="报价进阶", prerequisite=course)
    db.session.add(advanced)
    session = make_session()
    session.course = advanced
    db.session.commit()
    page = client_as("staff").get(f"/training/sessions/{session.id}").get_data(as_text=True)
    assert 'data-testid="needs-prerequisite"' in page and f"/training/courses/{course.id}" in page
    assert f'/training/sessions/{session.id}/enrol"' not in page
    db.session.add(CourseCompletion(course_id=course.id, user_id=company["staff"].id, completed_at=utcnow()))
    db.session.commit()
    page = client_as("staff").get(f"/training/sessions/{session.id}").get_data(as_text=True)
    assert 'data-testid="needs-prerequisite"' not in page and f'/training/sessions/{session.id}/enrol"' in page


def test_sign_up_a_colleague_lists_the_sessions_audience_first(client_as, company, make_session):
    session = make_session()
    session.target_roles = "staff"
    session.departments = [company["departments"]["sales1"]]
    db.session.commit()
    page = client_as("trainer").get(f"/training/sessions/{session.id}").get_data(as_text=True)
    audience, others = page.split('<optgroup label="Everyone else">')
    assert 'label="For this session"' in audience and company["staff"].display_name in audience
    assert company["staff2"].display_name not in audience and company["staff2"].display_name in others


def test_a_session_for_its_audience_only_admits_no_one_else(client_as, company, make_session):
    from training.enrolment import enrol
    session = make_session(target_roles="staff", is_audience_only=True)
    session.departments = [company["departments"]["sales1"]]
    db.session.commit()
    outsider = client_as("other_staff")
    page = outsider.get(f"/training/sessions/{session.id}").get_data(as_text=True)
    assert 'data-testid="not-in-audience"' in page and f'/training/sessions/{session.id}/enrol"' not in page
    refused = outsider.post(f"/training/sessions/{session.id}/enrol", follow_redirects=True)
    assert "Only the people this session is for may sign up" in refused.get_data(as_text=True)
    assert client_as("head").post(f"/training/sessions/{session.id}/enrol").status_code == 303  # not a staff role
    assert client_as("staff").post(f"/training/sessions/{session.id}/enrol").status_code == 302
    assert {e.user_id for e in db.session.scalars(select(Enrolment))} == {company["staff"].id}
    # A trainer may still sign anyone up.
    enrol(session.id, company["other_staff"], assigned_by=company["trainer"])
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Enrolment)) == 2


def test_the_session_form_saves_whether_only_the_audience_may_sign_up(client_as, company):
    start = utcnow().replace(second=0, microsecond=0) + timedelta(days=2)
    response = client_as("trainer").post("/training/sessions/new", data=_form(
        start, target_roles=["staff"], department_ids=[str(company["departments"]["sales"].id)],
        trainer_id=str(company["trainer"].id), is_audience_only="y"))
    assert response.status_code == 302
    assert db.session.scalar(select(TrainingSession)).is_audience_only is True
