"""Fill zh_CN msgstr values of one package's catalogue from a JSON mapping {msgid: msgstr}.

Usage: python tools/fill_translations.py PACKAGE MAPPING.json
Developers use it after `rollout translations update` to add translations in bulk.
"""
import io
import json
import sys

from babel.messages.pofile import read_po, write_po

sys.path.insert(0, ".")
from rollout.i18n import LOCALE, po_path  # noqa: E402


def main(package: str, mapping_file: str) -> None:
    mapping = json.loads(open(mapping_file, encoding="utf-8").read())
    path = po_path(package)
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=LOCALE)
    filled = 0
    for message in catalog:
        key = message.id if isinstance(message.id, str) else message.id[0]
        if key in mapping:
            value = mapping[key]
            message.string = tuple(value) if isinstance(message.id, tuple) and isinstance(value, list) else (
                (value,) * len(message.id) if isinstance(message.id, tuple) else value)
            message.flags.discard("fuzzy")
            filled += 1
    catalog.fuzzy = False
    buffer = io.BytesIO()
    write_po(buffer, catalog, sort_output=True, width=100, ignore_obsolete=True)
    path.write_bytes(buffer.getvalue())
    print(f"{package}: filled {filled} messages")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
