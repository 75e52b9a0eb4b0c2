"""An edit page is titled apart from the page it edits, so tabs and history tell them apart."""
import re

from rollout.extensions import db
from training import faq


def _title(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    return re.search(r"<title>(.*?)</title>", response.text, re.S).group(1).strip()


def test_edit_pages_are_titled_apart(client_as, company, course, make_session):
    article = faq.save_article(None, "报价怎么加赠品", "在产品行选赠品。", company["trainer"])
    session = make_session()
    db.session.commit()
    client = client_as("trainer")
    pairs = [(f"/training/tracks/{course.track.id}", f"/training/tracks/{course.track.id}/edit"),
             (f"/training/courses/{course.id}", f"/training/courses/{course.id}/edit"),
             (f"/training/sessions/{session.id}", f"/training/sessions/{session.id}/edit"),
             (f"/training/faq/{article.id}", f"/training/faq/{article.id}/edit")]
    for shown, edit in pairs:
        assert _title(client, shown) != _title(client, edit)
        assert _title(client, edit).startswith("Edit: ")
