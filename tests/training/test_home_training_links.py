"""The home page's open training items lead to the track, where the courses to take are listed."""
from datetime import timedelta

from rollout.extensions import db
from rollout.timeutil import local_today


def test_open_training_links_to_its_track(client_as, company, course):
    company["departments"]["sales"].go_live_on = local_today() + timedelta(days=3)
    db.session.commit()
    client = client_as("staff")
    block = client.get("/").get_data(as_text=True).split('data-testid="home-training"')[1].split("</ul>")[0]
    link = f'href="/training/tracks/{course.track.id}"'
    assert f'<a {link}>销售代表-基础</a>' in block
    assert client.get(f"/training/tracks/{course.track.id}").status_code == 200
