"""Helpers for tests that walk every route: real ids from the demo data, form field names."""
from __future__ import annotations

import re
from html.parser import HTMLParser

from sqlalchemy import inspect as sa_inspect, select

from rollout.extensions import db

_PARAM = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _model_for_parameter(name: str):
    """Guess the model an URL parameter such as ``customer_id`` refers to."""
    stem = name[:-3] if name.endswith("_id") else name
    candidates = {}
    for mapper in db.Model.registry.mappers:
        table = mapper.local_table.name
        cls = mapper.class_
        for key in {table, table.rstrip("s"), table[:-2] if table.endswith("es") else table,
                    re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()}:
            candidates.setdefault(key, cls)
    if stem in candidates:
        return candidates[stem]
    # A suffix match: "version" → process_versions, "session" → training_sessions
    for key, cls in candidates.items():
        if key.endswith("_" + stem):
            return cls
    return None


def first_id(name: str):
    model = _model_for_parameter(name)
    if model is None:
        return 1
    primary = sa_inspect(model).primary_key
    if len(primary) != 1:
        return 1
    value = db.session.scalar(select(primary[0]).order_by(primary[0]).limit(1))
    return value if value is not None else 1


def fill_url(rule) -> str:
    """The rule's URL with real ids from the database where they can be guessed."""
    def replace(match):
        converter, name = match.group(1) or "default", match.group(2)
        if converter in ("int", "float"):
            return str(first_id(name))
        if name in ("token",):
            return "not-a-real-token"
        if name in ("fmt", "format", "kind"):
            return "xlsx"
        return "x"
    return _PARAM.sub(replace, rule.rule)


class _FieldCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in ("input", "select", "textarea") and attributes.get("name"):
            kind = attributes.get("type", tag)
            if kind not in ("submit", "button", "hidden") or attributes["name"] != "csrf_token":
                self.fields.setdefault(attributes["name"], kind)


def form_fields(html: str) -> dict[str, str]:
    """Names and types of the form fields on a page."""
    collector = _FieldCollector()
    collector.feed(html)
    collector.fields.pop("csrf_token", None)
    return collector.fields
