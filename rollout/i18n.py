"""Translation catalogues: each package owns one, extracted from its code and templates.

`rollout translations update` refreshes every catalogue from the sources,
`rollout translations compile` writes the .mo files Flask-Babel loads, and
`rollout translations check` lists untranslated or fuzzy zh_CN messages.
"""
from __future__ import annotations

import io
from pathlib import Path

import click
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from rollout.config import PROJECT_ROOT


def language_of(user) -> str:
    """The language ``user`` reads: their saved choice, else their browser's at their last sign-in,
    else the company's default (Chinese).

    For text written outside the reader's own request (notifications, scheduled jobs, the CLI).
    """
    from flask import current_app
    chosen = (user.locale or getattr(user, "browser_locale", None)) if user is not None else None
    return chosen or current_app.config["BABEL_DEFAULT_LOCALE"]


# Babel parses zh_CN as zh_Hans_CN and looks for catalogues under that name.
LOCALE = "zh_Hans_CN"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None,
            "lazy_ngettext": (1, 2), "pgettext": ((1, "c"), 2)}
#: Catalogue units: name → (source folders, template folders, catalogue folder).
#: Each unit owns one catalogue so modules are translated independently.
UNITS = {
    "core": (["rollout"], [""], "rollout"),
    "output": (["rollout/notify", "rollout/reports"], ["notify", "reports"], "rollout/notify"),
    "plans": (["rollout/plans"], ["plans"], "rollout/plans"),
    "imports": (["rollout/imports"], ["imports"], "rollout/imports"),
    "retros": (["rollout/retros"], ["retros"], "rollout/retros"),
    "dashboard": (["rollout/dashboard"], ["dashboard"], "rollout/dashboard"),
    "surveys": (["surveys"], ["surveys"], "surveys"),
    "processmaps": (["processmaps"], ["processmaps"], "processmaps"),
    "changes": (["changes"], ["changes"], "changes"),
    "training": (["training"], ["training"], "training"),
}


def _owned_elsewhere(unit: str) -> tuple[set[str], set[str]]:
    """Source and template folders that other units own (skipped by the core unit)."""
    sources, templates = set(), set()
    for name, (unit_sources, unit_templates, _) in UNITS.items():
        if name != unit:
            sources.update(unit_sources)
            templates.update(t for t in unit_templates if t)
    return sources, templates


def _sources(unit: str) -> list[tuple[Path, list[tuple[str, str]]]]:
    """(folder, method map) pairs whose messages belong to ``unit``'s catalogue."""
    unit_sources, unit_templates, _ = UNITS[unit]
    other_sources, other_templates = _owned_elsewhere(unit)
    result = []
    for source in unit_sources:
        nested = [o[len(source) + 1:] for o in other_sources if o.startswith(source + "/")]
        method_map = [("translations/**", "ignore")] + [(f"{n}/**", "ignore") for n in nested] + [("**.py", "python")]
        result.append((PROJECT_ROOT / source, method_map))
    for template in unit_templates:
        folder = PROJECT_ROOT / "templates" / template if template else PROJECT_ROOT / "templates"
        nested = [o for o in other_templates] if not template else []
        result.append((folder, [(f"{n}/**", "ignore") for n in nested] + [("**.html", "jinja2")]))
    return result


def packages() -> list[str]:
    """Catalogue units whose sources exist."""
    return [name for name, (sources, _, _) in UNITS.items() if (PROJECT_ROOT / sources[0]).is_dir()]


def translation_folders() -> list[Path]:
    return [PROJECT_ROOT / UNITS[name][2] / "translations" for name in packages()]


def po_path(unit: str) -> Path:
    return PROJECT_ROOT / UNITS[unit][2] / "translations" / LOCALE / "LC_MESSAGES" / "messages.po"


def extract(package: str) -> Catalog:
    """The message template of one package, straight from its sources."""
    template = Catalog(project="Rollout Desk", fuzzy=False)
    options = {"extensions": "jinja2.ext.do,jinja2.ext.loopcontrols", "trimmed": "true"}
    for folder, method_map in _sources(package):
        if not folder.is_dir():
            continue
        for filename, lineno, message, comments, context in extract_from_dir(
                str(folder), method_map, keywords=KEYWORDS, options_map={"**.html": options}):
            template.add(message, None, [(str(Path(folder.name) / filename), lineno)],
                         auto_comments=comments, context=context)
    return template


def read_catalog(package: str) -> Catalog:
    path = po_path(package)
    if not path.exists():
        return Catalog(locale=LOCALE, project="Rollout Desk", fuzzy=False)
    with path.open("rb") as handle:
        return read_po(handle, locale=LOCALE)


def update(package: str) -> int:
    """Bring a package's .po up to date with its sources; return the number of messages."""
    catalog = read_catalog(package)
    catalog.update(extract(package), no_fuzzy_matching=True)
    path = po_path(package)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    catalog.fuzzy = False
    write_po(buffer, catalog, omit_header=False, sort_output=True, width=100, ignore_obsolete=True)
    path.write_bytes(buffer.getvalue())
    return len(catalog)


def compile_all() -> None:
    for package in packages():
        if not po_path(package).exists():
            continue
        catalog = read_catalog(package)
        with po_path(package).with_suffix(".mo").open("wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)


def missing() -> list[tuple[str, str]]:
    """(package, msgid) of every message in the sources without a finished zh_CN translation."""
    problems = []
    for package in packages():
        catalog = read_catalog(package)
        for message in extract(package):
            if not message.id:
                continue
            found = catalog.get(message.id, context=message.context)
            text = found.string if found else None
            if found is None or found.fuzzy or not text or (isinstance(text, tuple) and not all(text)):
                problems.append((package, message.id if isinstance(message.id, str) else message.id[0]))
    return problems


def conflicts() -> dict[str, dict[str, list[str]]]:
    """Messages that two catalogues translate differently: {msgid: {translation: [packages]}}.

    The app loads every catalogue into one table, so only one of the translations would show,
    everywhere; a message whose meaning differs by module needs a context (pgettext) or its own words.
    """
    seen: dict[str, dict[str, list[str]]] = {}
    for package in packages():
        for message in read_catalog(package):
            if message.id and not message.context and message.string:
                msgid = message.id if isinstance(message.id, str) else message.id[0]
                text = message.string if isinstance(message.string, str) else message.string[0]
                seen.setdefault(msgid, {}).setdefault(text, []).append(package)
    return {msgid: texts for msgid, texts in seen.items() if len(texts) > 1}


@click.group("translations")
def translations_group():
    """Manage the zh_CN translation catalogues."""


@translations_group.command("update")
@click.argument("units", nargs=-1)
def update_command(units):
    """Refresh catalogues from their sources (all units, or the ones named)."""
    for unit in units or packages():
        if unit not in UNITS:
            raise click.ClickException(f"unknown unit {unit!r}; one of {', '.join(UNITS)}")
        click.echo(f"{unit}: {update(unit)} messages")


@translations_group.command("compile")
def compile_command():
    """Compile the catalogues into the .mo files the app loads."""
    compile_all()


@translations_group.command("check")
def check_command():
    """Exit non-zero when any zh_CN message is missing, fuzzy, or translated differently by two catalogues."""
    problems = missing()
    for unit, message in problems:
        click.echo(f"{unit}: {message}")
    clashes = conflicts()
    for message, texts in clashes.items():
        click.echo(f"{message!r} is translated differently: " + "; ".join(
            f"{text} ({', '.join(units)})" for text, units in texts.items()))
    if problems or clashes:
        raise SystemExit(1)
    click.echo("zh_CN catalogue complete")
