"""Route × role matrix: generated from the URL map, so a new route without a rule fails here.

``EXPECTED`` states, independently of rollout/access.py, which roles may
perform each action. Every route must declare an action; anonymous users are
sent to login on every non-public route; a role outside the expected set gets
403 on every route of that action (with dummy ids, before any lookup).
"""
import re

import pytest

from rollout import access
from rollout.accounts.models import ROLES
from tests.public_routes import PUBLIC_ENDPOINTS

A, L, T, H, S = "admin", "lead", "trainer", "head", "staff"
EVERYONE = {A, L, T, H, S}

EXPECTED = {
    # core
    "home.view": EVERYONE,
    "notifications.view": EVERYONE,
    "profile.edit": EVERYONE,
    "users.view": {A, L, H},
    "users.manage": {A},
    "departments.manage": {A},
    "roles.review": {A, H},
    "audit.view": {A, H},
    "data.export": {A, L, H},
    "data.import": {A, L},
    "outbox.manage": {A},
    "channels.manage": {A},
}
# Module tables add their expectations in their own test packages (tests/<module>/expected_access.py).


def _module_expectations():
    import importlib
    import pkgutil

    import tests
    combined = {}
    for module_info in pkgutil.walk_packages(tests.__path__, "tests."):
        if module_info.name.endswith(".expected_access"):
            combined.update(importlib.import_module(module_info.name).EXPECTED)
    return combined


ALL_EXPECTED = {**EXPECTED, **_module_expectations()}


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        yield rule, app.view_functions[rule.endpoint]


def _url(rule) -> str:
    # Dummy values for every converter: the access check runs before any lookup.
    def replace(match):
        converter = match.group(1) or "default"
        return "999999" if converter in ("int", "float") else "zz-not-there"
    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>", replace, rule.rule)


def test_every_route_declares_a_known_action(app):
    missing, unknown = [], []
    for rule, view in _routes(app):
        action = access.action_of(view)
        if action is None:
            missing.append(rule.rule)
        elif action != access.PUBLIC and action not in access.RULES:
            unknown.append((rule.rule, action))
    assert not missing, f"routes without @require: {missing}"
    assert not unknown, f"routes naming unknown actions: {unknown}"


def test_every_action_has_an_expectation(app):
    assert set(access.RULES) - set(ALL_EXPECTED) == set(), "add the new actions to EXPECTED"


@pytest.mark.parametrize("action", sorted(access.RULES))
def test_roles_allowed_match_expectation(action):
    allowed = {role for role in ROLES if role in access.RULES[action]}
    assert allowed == ALL_EXPECTED[action]


PUBLIC_ENDPOINTS_ALLOWED = {"accounts.login", "accounts.set_language", "dashboard.healthz"}


def test_only_known_routes_are_public(app):
    public = {rule.endpoint for rule, view in _routes(app) if access.action_of(view) == access.PUBLIC}
    expected_public = PUBLIC_ENDPOINTS_ALLOWED | PUBLIC_ENDPOINTS
    assert public <= expected_public, f"unexpected public routes: {public - expected_public}"


def test_anonymous_users_are_sent_to_login(app, company):
    client = app.test_client()
    for rule, view in _routes(app):
        if access.action_of(view) == access.PUBLIC:
            continue
        method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        response = client.open(_url(rule), method=method)
        assert response.status_code in (302, 401), (rule.rule, response.status_code)
        if response.status_code == 302:
            assert "/login" in response.headers["Location"], rule.rule


@pytest.mark.parametrize("role", ROLES)
def test_denied_roles_get_403_on_every_route(app, company, role, factory):
    user = factory.user(role, department=company["departments"]["sales1"], username=f"matrix-{role}")
    from tests.conftest import login
    client = app.test_client()
    login(client, user)
    checked = 0
    for rule, view in _routes(app):
        action = access.action_of(view)
        if action == access.PUBLIC:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            login(client, user)  # an allowed POST (logout) may have ended the session
            response = client.open(_url(rule), method=method)
            if role in ALL_EXPECTED[action]:
                assert response.status_code != 403 or rule.arguments, (rule.rule, method, role)
                assert response.status_code != 500, (rule.rule, method, role)
            else:
                assert response.status_code == 403, (rule.rule, method, role, response.status_code)
            checked += 1
    assert checked > 0


def test_may_open_follows_the_action_of_the_page(app, company):
    with app.test_request_context("/", base_url="http://localhost/desk/"):
        assert access.may_open(company["lead"], "/desk/imports/?page=2")
        assert not access.may_open(company["staff"], "/desk/imports/")
        assert access.may_open(company["staff"], "/desk/login")  # public
        assert not access.may_open(company["admin"], "/desk/no-such-page")
        assert not access.may_open(company["admin"], "/desk/imports/upload")  # no page to open: POST only
