"""Counts of one on the training pages read in the singular in English."""
from rollout.extensions import db
from training.models import Course, Track


def test_a_one_minute_course_due_a_day_before_go_live(client_as, company):
    track = Track(name="销售代表-速成", tier="basic", role="staff", department=company["departments"]["sales"],
                  due_days_before_go_live=1, seed_lead_days=1)
    course = Course(track=track, position=1, title="登录系统", duration_minutes=1)
    db.session.add_all([track, course])
    db.session.commit()
    client = client_as("staff")
    track_page = client.get(f"/training/tracks/{track.id}").get_data(as_text=True)
    assert "Due 1 day before the department goes live; seed users 1 day earlier." in track_page
    assert "1 minute</div>" in track_page
    assert "1 minute</span>" in client.get(f"/training/courses/{course.id}").get_data(as_text=True)
    assert "1 day before go-live</td>" in client.get("/training/tracks").get_data(as_text=True)
