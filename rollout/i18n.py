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

# Babel parses zh_CN as zh_Hans_CN and looks for catalogues under that name.
LOCALE = "zh_Hans_CN"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None,
            "lazy_ngettext": (1, 2), "pgettext": ((1, "c"), 2)}
FEATURE_PACKAGES = ("surveys", "processmaps", "changes", "training")


def _sources(package: str) -> list[tuple[Path, list[tuple[str, str]]]]:
    """(folder, method map) pairs whose messages belong to ``package``'s catalogue."""
    templates = PROJECT_ROOT / "templates"
    if package == "rollout":
        template_map = [(f"{name}/**.html", "ignore") for name in FEATURE_PACKAGES] + [("**.html", "jinja2")]
        return [(PROJECT_ROOT / "rollout", [("translations/**", "ignore"), ("**.py", "python")]),
                (templates, template_map)]
    return [(PROJECT_ROOT / package, [("translations/**", "ignore"), ("**.py", "python")]),
            (templates / package, [("**.html", "jinja2")])]


def packages() -> list[str]:
    return ["rollout"] + [p for p in FEATURE_PACKAGES if (PROJECT_ROOT / p).is_dir()]


def po_path(package: str) -> Path:
    return PROJECT_ROOT / package / "translations" / LOCALE / "LC_MESSAGES" / "messages.po"


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


@click.group("translations")
def translations_group():
    """Manage the zh_CN translation catalogues."""


@translations_group.command("update")
def update_command():
    """Refresh every package's catalogue from its sources."""
    for package in packages():
        click.echo(f"{package}: {update(package)} messages")


@translations_group.command("compile")
def compile_command():
    """Compile the catalogues into the .mo files the app loads."""
    compile_all()


@translations_group.command("check")
def check_command():
    """Exit non-zero when any zh_CN message is missing or fuzzy."""
    problems = missing()
    for package, message in problems:
        click.echo(f"{package}: {message}")
    if problems:
        raise SystemExit(1)
    click.echo("zh_CN catalogue complete")
