"""XSS: a corpus of hostile strings entered through the real forms, then every page that shows
them opened in Chromium. No script may run and no payload may become live markup."""
import re

import pytest
from sqlalchemy import select

from tests.conftest import TEST_PASSWORD

MARK = "window.__xss=1"
PAYLOADS = [
    f"<script>{MARK}</script>",
    f"<SCRIPT SRC=data:text/javascript,{MARK}></SCRIPT>",
    f'<img src=x onerror="{MARK}">',
    f"<img src=x onerror={MARK}//",
    f'<svg onload="{MARK}">',
    f'<svg><script>{MARK}</script></svg>',
    f'<svg><animate onbegin="{MARK}" attributeName=x dur=1s>',
    f'<body onload="{MARK}">',
    f'<iframe src="javascript:{MARK}"></iframe>',
    f'<iframe srcdoc="<script>parent.{MARK}</script>"></iframe>',
    f'<a href="javascript:{MARK}">click</a>',
    f'<a href="JaVaScRiPt:{MARK}">click</a>',
    f'<a href="&#106;avascript:{MARK}">click</a>',
    f'" onmouseover="{MARK}" x="',
    f"' onfocus='{MARK}' autofocus='",
    f'"><script>{MARK}</script>',
    f"'><img src=x onerror={MARK}>",
    f'</textarea><script>{MARK}</script>',
    f'</title><script>{MARK}</script>',
    f'<details open ontoggle="{MARK}">',
    f'<input autofocus onfocus="{MARK}">',
    f'<math><mtext><table><mglyph><style><img src=x onerror="{MARK}">',
    f'<object data="javascript:{MARK}"></object>',
    f'<embed src="data:text/html,<script>{MARK}</script>">',
    f'<meta http-equiv="refresh" content="0;url=javascript:{MARK}">',
    f"[click me](javascript:{MARK})",
    f"[click](JAVASCRIPT:{MARK})",
    f"![img](x\" onerror=\"{MARK})",
    f"<div style=\"background:url(javascript:{MARK})\">x</div>",
    "[a](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX194c3M9MTwvc2NyaXB0Pg==)",
    f"javascript:{MARK}",
    f"{{{{7*7}}}}<img src=x onerror={MARK}>",
    f"<form><button formaction=javascript:{MARK}>x</button></form>",
    # Inside inline SVG: an SVG link, and a Graphviz HTML-like label that would become one.
    f'<svg><a xlink:href="javascript:{MARK}"><text y="20">x</text></a></svg>',
    f'<<TABLE HREF="javascript:{MARK}"><TR><TD>x</TD></TR></TABLE>>',
]
#: Live markup that would only exist if a payload was not escaped.
LIVE_MARKUP = ("script:not([src]), [onerror], [onload], [onmouseover], [onfocus], [ontoggle], [onbegin], "
               "iframe, object, embed, a[href^='javascript' i], button[formaction], meta[http-equiv='refresh' i]")


#: Attributes that run script or load a URL: live when they survive with a javascript: value.
URL_ATTRIBUTES = ("href", "xlink:href", "src", "action", "formaction", "data")
#: Finds what only an unescaped payload could have made: the selector above, plus any event
#: handler attribute and any javascript: URL, in HTML and in inline SVG (xlink:href) alike.
FIND_LIVE_MARKUP = """selector => {
  const found = Array.from(document.querySelectorAll(selector));
  for (const element of document.querySelectorAll('*')) {
    for (const attribute of element.attributes) {
      const name = attribute.name.toLowerCase();
      const value = attribute.value.replace(/[\\s\\u0000-\\u001f]/g, '').toLowerCase();
      if (name.startsWith('on') || (%s.includes(name) && value.startsWith('javascript:'))) {
        found.push(element);
      }
    }
  }
  return found.map(e => e.outerHTML.slice(0, 100));
}""" % list(URL_ATTRIBUTES)


def payload_groups(limit: int, payloads=PAYLOADS, prefix: str = "") -> list[list[str]]:
    """Whole payloads in as few groups as fit ``limit`` characters once joined (see ``packed``).
    Payloads that do not fit the field at all are left out."""
    groups: list[list[str]] = []
    for payload in payloads:
        if len(prefix) + len(payload) > limit:
            continue
        if groups and len(prefix) + len(" ".join(groups[-1])) + 1 + len(payload) <= limit:
            groups[-1].append(payload)
        else:
            groups.append([payload])
    return groups


def packed(limit: int, payloads=PAYLOADS, prefix: str = "") -> list[str]:
    """Payloads joined into strings of at most ``limit`` characters, each starting with ``prefix``:
    several payloads share one record, so fewer pages need opening."""
    return [prefix + " ".join(group) for group in payload_groups(limit, payloads, prefix)]


def log_in(page, live_server, username: str) -> None:
    page.context.clear_cookies()  # whoever was logged in before is gone
    page.goto(live_server + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("form [type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url


def open_pages(page, live_server, username: str, paths) -> tuple[list[str], list[str], list[str]]:
    """Open every path in Chromium as ``username``; returns the problems found, the paths whose page
    showed a payload as text, and the messages of any dialog a script opened."""
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, live_server, username)
    problems, shown = [], []
    for path in paths:
        response = page.goto(live_server + path)
        if response.status not in (200,):
            problems.append(f"{path}: HTTP {response.status}")
            continue
        page.mouse.move(10, 10)
        if "__xss" in page.inner_text("body"):  # the payload is on the page, as text
            shown.append(path)
        if page.evaluate("typeof window.__xss") != "undefined":
            problems.append(f"{path}: script ran")
        live = page.evaluate(FIND_LIVE_MARKUP, LIVE_MARKUP)
        live = [html for html in live if re.search(r"__xss|javascript|onerror|onload", html, re.I)]
        if live:
            problems.append(f"{path}: live markup {live[:3]}")
    return problems, shown, dialogs


def _enter_payloads(client_as):
    """Every payload into customer names, change requests and FAQ articles (text and Markdown)."""
    from changes.models import ChangeRequest
    from rollout.extensions import db
    from rollout.plans.models import Customer
    from training.models import FaqArticle
    staff, lead = client_as("staff"), client_as("lead")
    for n, payload in enumerate(PAYLOADS):
        staff.post("/customers/new", data={"name": f"客户{n:02d} {payload}"[:200], "address": payload[:300]})
        staff.post("/changes/new", data={"title": f"变更{n:02d} {payload}"[:200], "description": payload,
                                        "reason": payload, "kind": "normal", "urgency": "medium", "impact": "low"})
        lead.post("/training/faq/new", data={"title": f"问答{n:02d} {payload}"[:200], "body_markdown": payload,
                                             "tags": "xss"})
    customers = db.session.scalars(select(Customer.id)).all()
    changes = db.session.scalars(select(ChangeRequest.id)).all()
    articles = db.session.scalars(select(FaqArticle.id)).all()
    db.session.commit()  # outside a request the test's session holds SQLite's write lock: let go
    # The forms must have taken (nearly) all of them, or the browser has nothing to look at.
    assert len(changes) == len(PAYLOADS) and len(articles) == len(PAYLOADS), (len(changes), len(articles))
    assert len(customers) >= len(PAYLOADS) // 2, len(customers)
    return customers, changes, articles


@pytest.mark.browser
def test_no_payload_runs_in_the_browser(live_server, page, client_as, company):
    customers, changes, articles = _enter_payloads(client_as)
    pages = ["/customers", "/changes/", "/changes/all", "/training/faq", "/training/faq?q=xss"]
    pages += [f"/customers/{i}" for i in customers] + [f"/changes/{i}" for i in changes]
    pages += [f"/training/faq/{i}" for i in articles]

    problems, shown, dialogs = open_pages(page, live_server, "staff", pages)
    assert not dialogs, dialogs
    assert not problems, "\n".join(problems)
    assert len(shown) >= len(PAYLOADS), f"payloads shown as text on only {len(shown)} pages"
