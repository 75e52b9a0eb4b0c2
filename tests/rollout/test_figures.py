"""The per-worker cache of computed figures and report bodies (rollout.figures)."""
import re

from rollout import figures
from rollout.extensions import db


def test_cached_body_gets_a_fresh_csrf_token_per_session(client_as, app, monkeypatch, company, count_statements):
    """A cached report body holds a placeholder; each session's page carries that session's token."""
    from tests.surveys.conftest import build_survey
    build_survey(company["lead"])
    db.session.commit()
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)

    def form_token(client):
        db.session.remove()
        with count_statements() as counter:
            page = client.get("/surveys/coverage").get_data(as_text=True)
        assert "placeholder" not in page
        token = re.search(r'action="/surveys/coverage/invite".*?name="csrf_token" value="([^"]+)"', page, re.S)
        return token.group(1), counter.count

    first, second = client_as("lead"), client_as("lead")
    (first_token, computed), (second_token, reused) = form_token(first), form_token(second)
    assert reused < computed  # the second session's view is the cached body
    assert first_token != second_token
    for client, token in ((first, first_token), (second, second_token)):
        response = client.post("/surveys/coverage/invite", data={"csrf_token": token, "survey_id": "0"})
        assert response.status_code == 303  # past the CSRF check: "choose an open survey"
    assert second.post("/surveys/coverage/invite", data={"csrf_token": first_token}).status_code == 400


def test_a_write_or_a_new_day_starts_a_new_entry(company, monkeypatch):
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    assert figures.cached("k", compute) == figures.cached("k", compute) == 1
    company["staff"].display_name = "改了名字"
    db.session.commit()  # an audited write moves the data version
    assert figures.cached("k", compute) == 2
    monkeypatch.setattr(figures.time, "monotonic", lambda: 10.0 ** 9)  # past the lifetime
    assert figures.cached("k", compute) == 3


def test_a_body_holding_a_real_token_is_used_once_not_kept(app, company, monkeypatch):
    """csrf_token() gives a placeholder while rendering for the cache; a form that renders the real
    token itself (as WTForms does) makes the body unfit to keep."""
    from flask_login import login_user
    from flask_wtf.csrf import generate_csrf
    sources = {"placeholder.html": "<input value='{{ csrf_token() }}'>",
               "real.html": "<input value='{{ real_token() }}'>"}
    renders = []

    def render(name, **context):
        renders.append(name)
        return app.jinja_env.from_string(sources[name]).render(real_token=generate_csrf, **context)
    monkeypatch.setattr(figures, "render_template", render)
    with app.test_request_context("/report"):
        login_user(db.session.get(type(company["lead"]), company["lead"].id))
        token = generate_csrf()
        for name in ("placeholder.html", "placeholder.html", "real.html", "real.html"):
            assert figures.cached_page_body(name, dict) == f"<input value='{token}'>"
    assert renders == ["placeholder.html", "real.html", "real.html"]
