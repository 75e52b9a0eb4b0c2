"""Matching file columns to target fields by name, with Chinese and English synonyms."""
from __future__ import annotations

import re
import unicodedata

from rollout.imports.targets import TargetField

# Decorations around a column name that say nothing about its meaning: (必填), *, ：
_DECORATION = re.compile(r"[（(][^)）]*[)）]|[*＊:：#\s_\-./]")


def normalise_header(text: str) -> str:
    """A column name reduced for comparison: NFKC, case-folded, without brackets, stars and spaces."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    bare = _DECORATION.sub("", text)
    return bare or text.strip()


def _names(target_field: TargetField) -> list[str]:
    return [normalise_header(str(name)) for name in (target_field.name, str(target_field.label),
                                                       *target_field.synonyms)]


def auto_map(headers: list[str], fields: list[TargetField]) -> dict[int, str]:
    """{column index: field name}: exact (normalised) names first, then a name contained in the header."""
    mapping: dict[int, str] = {}
    taken: set[str] = set()
    normalised = [normalise_header(h) for h in headers]
    for index, header in enumerate(normalised):
        for target_field in fields:
            if target_field.name not in taken and header in _names(target_field):
                mapping[index], taken = target_field.name, taken | {target_field.name}
                break
    for index, header in enumerate(normalised):
        if index in mapping or len(header) < 2:
            continue
        for target_field in fields:
            if target_field.name in taken:
                continue
            if any(len(name) >= 2 and name in header for name in _names(target_field)):
                mapping[index], taken = target_field.name, taken | {target_field.name}
                break
    return mapping


def is_known_header(text: str, fields: list[TargetField]) -> bool:
    """Does a cell look like the name of one of the fields (used to find the header row)?"""
    header = normalise_header(text)
    return any(header in _names(target_field) for target_field in fields)


def mapping_from_template(headers: list[str], columns: dict[str, str], fields: list[TargetField]) -> dict[int, str]:
    """Apply a saved template {column name: field, or "" for a column not imported}; columns it does not
    name are matched automatically."""
    known = {f.name for f in fields}
    by_name = {normalise_header(name): field_name for name, field_name in columns.items()
               if field_name in known or field_name == ""}
    mapping = {index: by_name[normalise_header(h)] for index, h in enumerate(headers)
               if by_name.get(normalise_header(h))}
    taken = set(mapping.values())
    for index, field_name in auto_map(headers, [f for f in fields if f.name not in taken]).items():
        if index not in mapping and normalise_header(headers[index]) not in by_name:
            mapping[index] = field_name
    return mapping
