"""Phone cleaning: the fast refusal of numbers too short for the region agrees with phonenumbers."""
import phonenumbers
import pytest

from rollout.cleaning import clean_phone


@pytest.mark.parametrize("raw, value, error", [
    ("13800138000", "13800138000", None),
    ("+86 138-0013-8000", "13800138000", None),
    ("021-62345678转8", "021-62345678 转8", None),
    ("+1 202 555 0143", "+1 202-555-0143", None),
    ("0044 20 7946 0958", "+44 20 7946 0958", None),
    ("1234", "1234", "invalid phone number"),
    ("95555", "95555", "invalid phone number"),
    ("0123456", "0123456", "invalid phone number"),
])
def test_phones_are_cleaned_or_flagged(raw, value, error):
    cleaned = clean_phone(raw)
    assert (cleaned.value, cleaned.error) == (value, error)


@pytest.mark.parametrize("digits", ["1", "12", "110", "120", "9555", "95555", "123456", "012345", "+1", "001"])
def test_short_numbers_are_refused_as_phonenumbers_would(digits):
    try:
        valid = phonenumbers.is_valid_number(phonenumbers.parse(digits, "CN"))
    except phonenumbers.NumberParseException:
        valid = False
    assert clean_phone(digits).error == (None if valid else "invalid phone number")
