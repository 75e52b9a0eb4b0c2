"""CSRF, uploads too large, security headers, error pages."""
from rollout.extensions import db


def test_security_headers_on_every_response(client, company):
    for path in ("/login", "/healthz", "/static/app.css", "/nowhere"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"]


def test_missing_csrf_token_keeps_what_was_typed(client_as, app, monkeypatch, company):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    client = client_as("admin")
    response = client.post("/admin/users/new", data={"username": "typed-by-hand", "display_name": "手写的名字",
                                                     "password": "should not echo"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'value="typed-by-hand"' in page and "手写的名字" in page
    assert "should not echo" not in page
    assert 'name="csrf_token"' in page


def test_oversized_upload_gets_413_page(client_as, app, monkeypatch, company):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1000)
    response = client_as("admin").post("/admin/users/new", data={"username": "x" * 5000})
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True).lower() or "过大" in response.get_data(as_text=True)


def test_not_found_page_is_friendly(client_as, company):
    response = client_as("staff").get("/no/such/page")
    assert response.status_code == 404
    assert "Back to the home page" in response.get_data(as_text=True) or "返回首页" in response.get_data(as_text=True)


def test_health_ok_and_unavailable(client, monkeypatch):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}

    def broken(*args, **kwargs):
        raise RuntimeError("database down")
    monkeypatch.setattr(db.session, "execute", broken)
    response = client.get("/healthz")
    assert response.status_code == 503


def test_undeclared_view_is_refused(app, company):
    from tests.conftest import login
    from flask import Blueprint
    probe = Blueprint("probe_undeclared", __name__)

    @probe.route("/probe-undeclared")
    def undeclared():
        return "should never be served"
    app.view_functions["probe_undeclared.undeclared"] = undeclared
    rule = app.url_rule_class("/probe-undeclared", endpoint="probe_undeclared.undeclared", methods=["GET"])
    app.url_map.add(rule)
    try:
        client = app.test_client()
        login(client, company["admin"])
        assert client.get("/probe-undeclared").status_code == 403
    finally:
        app.url_map._rules.remove(rule)
        app.url_map._rules_by_endpoint.pop("probe_undeclared.undeclared", None)
        app.url_map._remap = True
        del app.view_functions["probe_undeclared.undeclared"]


def test_huge_ids_in_urls_are_not_found(client_as, company):
    client = client_as("admin")
    assert client.get("/admin/users/99999999999999999999").status_code == 404
    assert client.get("/admin/users/2147483648").status_code == 404


def test_nul_characters_never_reach_a_form(app):
    """A NUL in any form field or query parameter is dropped before a view sees it (PostgreSQL refuses
    NUL in text; without this a NUL typed into any text field was a 500 there)."""
    from flask import request
    with app.test_request_context("/anything?q=a%00b", method="POST", data={"name": "周\x00会", "x\x00": "1"}):
        assert request.args["q"] == "ab"
        assert request.form["name"] == "周会" and request.form["x"] == "1"
