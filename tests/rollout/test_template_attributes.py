"""Words that screen readers and tooltips show are translated like the rest of the page."""
import re
from pathlib import Path

from rollout.config import PROJECT_ROOT
from tests.conftest import login

#: Attributes read aloud or shown to the user.
USER_FACING = re.compile(r'\b(aria-label|aria-description|aria-roledescription|aria-valuetext|placeholder|title|alt)'
                         r'="([^"]*)"')
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", flags=re.S)


def _literal_words(value: str) -> str:
    """What is left of an attribute value once its Jinja expressions are taken out (URLs allowed)."""
    text = JINJA.sub("", value)
    return "" if re.fullmatch(r"\s*(https?://\S*)?\s*", text) else text.strip()


def test_no_template_has_literal_english_in_user_facing_attributes():
    offenders = []
    for path in sorted(Path(PROJECT_ROOT, "templates").rglob("*.html")):
        source = path.read_text(encoding="utf-8")
        for match in USER_FACING.finditer(source):
            words = _literal_words(match.group(2))
            if re.search(r"[A-Za-z]{2,}", words):
                line = source.count("\n", 0, match.start()) + 1
                offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{line}: {match.group(1)}=\"{words}\"")
    assert offenders == []


def test_the_check_finds_literal_english():
    assert _literal_words("breadcrumb") == "breadcrumb"
    assert _literal_words("{{ _('Breadcrumb') }}") == ""
    assert _literal_words("https://oapi.dingtalk.com/robot/send") == ""


def test_breadcrumb_landmark_is_named_in_the_reader_language(app, company):
    english = app.test_client()
    english.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(english, company["admin"])
    page = english.get("/imports/templates").get_data(as_text=True)
    assert '<nav aria-label="Breadcrumb"><ol class="breadcrumb">' in page
    chinese = app.test_client()
    chinese.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    login(chinese, company["admin"])
    page = chinese.get("/imports/templates").get_data(as_text=True)
    assert '<nav aria-label="导航路径"><ol class="breadcrumb">' in page
    assert 'aria-label="breadcrumb"' not in page


def test_audit_filter_placeholder_is_translated(app, company):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    login(client, company["admin"])
    page = client.get("/audit/").get_data(as_text=True)
    assert 'placeholder="记录 ID"' in page
