"""Property-based fuzzing of every form POST: never a 500, whatever arrives.

For every POST route, as an administrator (who passes most access checks and
so reaches the deepest code), hypothesis sends random Unicode, huge strings,
negative and huge numbers, wrong types, missing and repeated fields. 50
examples per route in `make test`; `make soak` (SOAK=1) sends 1,000.
"""
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from rollout.accounts.models import User
from rollout.demo import load_demo
from rollout.extensions import db
from tests.conftest import english_client, login
from tests.reliability.routes import fill_url, form_fields

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or (1000 if os.environ.get("SOAK") else 50))
# 410: a sign-in link that is expired, used or made up.
ACCEPTED = {200, 201, 204, 302, 303, 400, 401, 403, 404, 405, 409, 410, 413, 422, 429}
# Routes that end the session or are covered by their own tests.
SKIPPED = {"accounts.logout", "accounts.login"}

values = st.one_of(
    st.text(max_size=40),
    st.text(min_size=2000, max_size=5000, alphabet=st.characters(codec="utf-8")),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", " ", "\x00", "0", "-1", "1e308", "NaN", "2024-02-30", "9999-99-99", "true",
                     "[]", "{}", "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd",
                     "１２３", "报价审批", "\u202e", "=cmd|' /C calc'!A0"]),
)


def _post_routes(app):
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods and rule.endpoint not in SKIPPED and rule.endpoint != "static":
            yield rule


@pytest.fixture(scope="module")
def fuzz_setup(app):
    with app.app_context():
        load_demo(force=True)
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        admin_id = admin.id
        plans = []
        client = english_client(app)
        login(client, admin)
        for rule in sorted(_post_routes(app), key=lambda r: r.rule):
            url = fill_url(rule)
            fields = {}
            if "GET" in rule.methods:
                page = client.get(url)
                if page.status_code == 200:
                    fields = form_fields(page.get_data(as_text=True))
            plans.append((rule.endpoint, url, sorted(fields)))
        db.session.remove()
    yield admin_id, plans


def test_every_post_route_survives_fuzzing(app, fuzz_setup):
    admin_id, plans = fuzz_setup
    assert plans, "no POST routes found"
    client = english_client(app)
    failures = []
    for endpoint, url, fields in plans:
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(data=st.data())
        def probe(data):
            names = fields + data.draw(st.lists(st.sampled_from(["x", "id", "page", "next"]), max_size=2))
            chosen = data.draw(st.lists(st.sampled_from(names), unique=True)) if names else []
            payload = []
            for name in chosen:
                for _ in range(data.draw(st.integers(min_value=1, max_value=2))):  # repeated fields
                    payload.append((name, data.draw(values)))
            login(client, db.session.get(User, admin_id))
            response = client.post(url, data=MultiDict(payload))
            assert response.status_code in ACCEPTED, (endpoint, url, payload[:5], response.status_code)

        started = time.perf_counter()
        try:
            probe()
        except Exception as error:  # collect every route's failure, not just the first
            failures.append(f"{endpoint}: {type(error).__name__}: {str(error)[:400]}")
        if os.environ.get("FUZZ_TIMINGS"):
            print(f"{time.perf_counter() - started:7.2f}s {endpoint}", flush=True)
    # The demo data is not emptied between probes; the app_ctx fixture clears it afterwards.
    assert not failures, "\n".join(failures)
