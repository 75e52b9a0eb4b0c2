"""Normalising names, phones and emails so duplicates are found however they were typed."""
from __future__ import annotations

import re
import unicodedata

import phonenumbers

# Legal-form suffixes that do not distinguish one company from another.
_COMPANY_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "集团公司", "集团", "公司",
                     "co., ltd.", "co.,ltd.", "co. ltd.", "co ltd", "ltd.", "ltd", "inc.", "inc", "limited")
_SPACES = re.compile(r"\s+")


def clean_text(value: str | None) -> str:
    """NFKC (full-width letters and digits to half-width), trimmed, inner whitespace folded."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", str(value)).replace("\u3000", " ")
    return _SPACES.sub(" ", text).strip()


def company_key(name: str | None) -> str:
    """A comparison key for a company name: case-folded, no spaces or punctuation, no legal suffix."""
    text = clean_text(name).casefold()
    text = re.sub(r"[\s\-_.,，。()（）·]", "", text)
    changed = True
    while changed and text:
        changed = False
        for suffix in _COMPANY_SUFFIXES:
            bare = re.sub(r"[\s.,]", "", suffix)
            if text.endswith(bare) and len(text) > len(bare):
                text = text[: -len(bare)]
                changed = True
    return text


def phone_key(phone: str | None, region: str = "CN") -> str:
    """E.164 form of a phone number, or '' when it cannot be parsed (extensions dropped)."""
    text = clean_text(phone)
    if not text:
        return ""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_key(email: str | None) -> str:
    return clean_text(email).lower()
