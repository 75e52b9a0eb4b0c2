"""Messages an import keeps (why a row was rejected, why a run stopped), kept as message ids with
their values and put into words when shown: each reader sees them in their own language,
whoever ran the import.

A kept message is plain data (JSON, and cheap to send from the planning process): text shown as
it is, or ``{"id": msgid, "values": {...}}`` whose values are kept messages too; a plural adds
``"plural"`` and ``"n"``, a message with a context adds ``"context"``.  Only rejected rows make
them, never the rows that go in.
"""
from __future__ import annotations

import json

from flask_babel import get_locale, gettext, ngettext, pgettext
from flask_babel.speaklater import LazyString


def kept(message) -> object:
    """``message`` as plain data: a lazy message keeps its id and values, anything else its text."""
    if isinstance(message, LazyString):
        # flask_babel's lazy strings keep the function and the arguments they were made with.
        function, args, values = message._func, message._args, message._kwargs
        data = None
        if function is gettext and len(args) == 1:
            data = {"id": args[0]}
        elif function is ngettext and len(args) == 3:
            data = {"id": args[0], "plural": args[1], "n": args[2]}
        elif function is pgettext and len(args) == 2:
            data = {"context": args[0], "id": args[1]}
        if data is None:
            return str(message)
        if values:
            data["values"] = {name: kept(value) for name, value in values.items()}
        return data
    if message is None or isinstance(message, (str, int, float, dict)):
        return message
    return str(message)  # dates, decimals: their text


def in_words(message) -> str:
    """A kept message (or a list of them, a row's reasons) in the current language."""
    if isinstance(message, list) and len(message) == 1:
        return in_words(message[0])
    if isinstance(message, list):
        # One sentence: each reason without its full stop, separated as the language separates clauses.
        locale = get_locale()
        separator = "；" if locale is not None and locale.language == "zh" else "; "
        return separator.join(in_words(part).rstrip("。.") for part in message)
    if not isinstance(message, dict):
        return "" if message is None else str(message)
    values = {name: in_words(value) if isinstance(value, (dict, list)) else value
              for name, value in (message.get("values") or {}).items()}
    try:
        if "plural" in message:
            return ngettext(message["id"], message["plural"], message["n"], **values)
        if "context" in message:
            return pgettext(message["context"], message["id"], **values)
        return gettext(message["id"], **values)
    except (KeyError, TypeError, ValueError):  # a translation whose placeholders do not match its message's
        return message["id"]


def stored(reasons: list) -> str:
    """The text kept in a database column: the reasons as written now (for anyone reading the table)
    and as message ids (for the pages and the error report, in their reader's language)."""
    return json.dumps({"text": in_words(reasons), "reasons": reasons}, ensure_ascii=False)


def shown(text: str | None) -> str:
    """A kept column's text in the current language; text kept before messages had ids is shown as it is."""
    if text and text.startswith("{"):
        try:
            return in_words(json.loads(text)["reasons"])
        except (ValueError, KeyError, TypeError):
            pass
    return text or ""
