"""Normalising names, phones and emails so duplicates are found however they were typed."""
from __future__ import annotations

import functools
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
    text = str(value)
    # Nothing to trim, fold or convert, the usual case for keys of values an import has cleaned.
    # Printable means no whitespace but the ASCII space and no control or zero-width characters
    # (the full-width and no-break spaces are not printable).  Written out, not a shared helper:
    # this and tidy_text run on every imported row, and a call costs as much as the test.
    if (text.isprintable() and text[:1] != " " and text[-1:] != " " and "  " not in text
            and (text.isascii() or unicodedata.is_normalized("NFKC", text))):
        return text
    text = unicodedata.normalize("NFKC", text).replace("\u3000", " ")
    return _SPACES.sub(" ", text).strip()


_COMPANY_PUNCTUATION = re.compile(r"[\s\-_.,，。()（）·]")
#: The suffixes as they look after punctuation is removed, longest first.
_BARE_SUFFIXES = tuple(sorted({re.sub(r"[\s.,]", "", suffix) for suffix in _COMPANY_SUFFIXES}, key=len, reverse=True))


def company_key(name: str | None) -> str:
    """A comparison key for a company name: case-folded, no spaces or punctuation, no legal suffix."""
    return strip_legal_suffixes(name_key(name))


#: The suffixes by their last character, each with its place in _BARE_SUFFIXES: a name can only
#: end with the suffixes that end in its own last character.
_SUFFIXES_BY_LAST: dict[str, list[tuple[int, str]]] = {}
for _place, _bare in enumerate(_BARE_SUFFIXES):
    _SUFFIXES_BY_LAST.setdefault(_bare[-1], []).append((_place, _bare))


#: The first suffix the passes below would drop, matched on the reversed text: longest first,
#: never the whole text.
_LAST_SUFFIX_REVERSED = re.compile("(?:" + "|".join(re.escape(bare[::-1]) for bare in _BARE_SUFFIXES) + ")(?=.)",
                                   re.DOTALL)


def strip_legal_suffixes(text: str) -> str:
    """company_key from a name_key: legal suffixes dropped from the end, in passes, longest first.

    Each pass tries the suffixes in order (longest first) and drops every one the text ends with
    at its turn, never the whole text; passes repeat while one drops something.  Only the
    suffixes ending in the text's current last character are tried (one dictionary look-up
    instead of a dozen comparisons: it runs on every imported row).
    """
    # The usual name ends with one legal suffix or none: one regular expression answers that
    # case (a third of the passes' cost); names with more go through the passes.
    found = _LAST_SUFFIX_REVERSED.match(text[::-1])
    if found is None:
        return text
    rest = text[: len(text) - found.end()]
    if not rest.endswith(_BARE_SUFFIXES):
        return rest
    while text.endswith(_BARE_SUFFIXES):  # one C call answers "any suffix left?"
        dropped, place = False, 0
        while text:
            for candidate_place, bare in _SUFFIXES_BY_LAST.get(text[-1], ()):
                if candidate_place >= place and len(text) > len(bare) and text.endswith(bare):
                    text, dropped, place = text[: -len(bare)], True, candidate_place + 1
                    break
            else:
                break
        if not dropped:
            break
    return text


def names_nothing(name: str | None) -> bool:
    """True for a “name” that is only punctuation, or only a legal form (有限公司, Co., Ltd.)."""
    bare = re.sub(r"[\W_]+", "", (name or "").lower())
    return not bare or bare in _BARE_SUFFIXES


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


# --- cleaning rules for imports ---------------------------------------------------
# Each rule returns a Cleaned(value, rules, error): the cleaned value, the names of
# the rules that changed something (shown as before → after in the import preview)
# and a message when the value cannot be used.  The common cases take fast paths
# (plain regular expressions) because an import runs them on every cell.
from typing import NamedTuple  # noqa: E402
from datetime import date, datetime, timedelta  # noqa: E402
from decimal import Decimal  # noqa: E402

RULE_TRIM = "trim"
RULE_NFKC = "nfkc"
RULE_PHONE = "phone"
RULE_EMAIL = "email"
RULE_DATE = "date"
RULE_AMOUNT = "amount"
RULE_NUMBER = "number"

#: Whitespace a spreadsheet hides: full-width space, no-break space, zero-width characters.
_EDGE_SPACES = " \t\r\n\u3000\u00a0\u200b\ufeff"
_INNER_SPACES = re.compile(r"[\s\u3000\u00a0\u200b]+")


#: Full-width letters and digits to their ASCII forms. Punctuation stays as typed: （），！ are how
#: Chinese is written, and a person's text is theirs.
_FULL_WIDTH_ALNUM = {code: code - 0xFEE0 for code in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B),
                                                     *range(0xFF41, 0xFF5B))}


def clean_line(value: str | None) -> str:
    """One line a person typed (a name, an address): trimmed, full-width spaces too, inner
    whitespace folded, full-width letters and digits made half-width, punctuation kept."""
    if value is None:
        return ""
    return _INNER_SPACES.sub(" ", str(value).translate(_FULL_WIDTH_ALNUM)).strip(_EDGE_SPACES)


def clean_note(value: str | None) -> str:
    """Free text a person typed, over several lines: only the edges trimmed and line ends made
    "\n"; everything else is kept exactly as typed."""
    if value is None:
        return ""
    return str(value).replace("\r\n", "\n").replace("\r", "\n").strip(_EDGE_SPACES)


class Cleaned(NamedTuple):
    """A cleaned cell: the value to store, the rules that changed it, an error if unusable.

    A named tuple rather than a dataclass: an import builds one per cell, and tuples are the
    cheapest immutable records Python makes.
    """
    value: object
    rules: tuple[str, ...] = ()
    error: str | None = None


#: Cleaned from a (value, rules, error) tuple at C speed: the generated Cleaned() costs half as
#: much again, and the fast paths below run on nearly every imported cell.
_cleaned = functools.partial(tuple.__new__, Cleaned)


#: A full-width letter or digit (what tidy_text makes half-width).
_FULL_WIDTH_ALNUM_CHAR = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")


def tidy_text(raw: str | None) -> Cleaned:
    """Trim (full-width spaces too), fold inner whitespace, full-width letters and digits to half-width.

    Punctuation stays as typed: （北京）, ，and 。 are how Chinese is written.
    """
    if raw is None:
        return Cleaned(None)
    text = str(raw)
    # Nothing to trim, fold or convert: the same test as in clean_text.
    if (text and text.isprintable() and text[0] != " " and text[-1] != " " and "  " not in text
            and (text.isascii() or unicodedata.is_normalized("NFKC", text)
                 or not _FULL_WIDTH_ALNUM_CHAR.search(text))):
        return _cleaned((text, (), None))
    return _tidy_changed(text, lambda line: line.translate(_FULL_WIDTH_ALNUM))


def tidy_note(raw: str | None) -> Cleaned:
    """Free text over several lines (notes, follow-up outcomes): line breaks kept, each line tidied."""
    if raw is None:
        return Cleaned(None)
    text = str(raw)
    if "\n" not in text and "\r" not in text:
        return tidy_text(text)
    lines = [tidy_text(line) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    value = "\n".join(line.value or "" for line in lines).strip("\n")
    rules = tuple(dict.fromkeys(rule for line in lines for rule in line.rules))
    if value != text and RULE_TRIM not in rules:
        rules = (RULE_TRIM, *rules)  # blank lines or line ends at the edges
    return Cleaned(value or None, rules)


def tidy_value(raw: str | None) -> Cleaned:
    """tidy_text for a value to be read (phone, email, date, amount): full NFKC, since ＋86, ＠, （1,234）
    and 2024／1／5 mean the same as their ASCII forms there."""
    if raw is None:
        return Cleaned(None)
    text = str(raw)
    if (text and text.isprintable() and text[0] != " " and text[-1] != " " and "  " not in text
            and (text.isascii() or unicodedata.is_normalized("NFKC", text))):
        return _cleaned((text, (), None))
    return _tidy_changed(text, lambda line: unicodedata.normalize("NFKC", line))


def _tidy_changed(text: str, convert) -> Cleaned:
    """A line trimmed and folded, then converted (full-width to half-width)."""
    rules = []
    stripped = _INNER_SPACES.sub(" ", text.strip(_EDGE_SPACES)).strip()
    if stripped != text:
        rules.append(RULE_TRIM)
    normal = convert(stripped)
    if normal != stripped:
        rules.append(RULE_NFKC)
        normal = _INNER_SPACES.sub(" ", normal).strip()
    return Cleaned(normal or None, tuple(rules))


_MOBILE = re.compile(r"1[3-9]\d{9}")
#: Chinese landline: area code (010, 02x or a three-digit code) and a 7–8 digit local number.
_LANDLINE = re.compile(r"0(10|2\d|[3-9]\d{2})([2-9]\d{6,7})")
#: A landline as clean_phone writes it (0AA-NNNNNNNN): the usual way people type one.
_LANDLINE_AS_WRITTEN = re.compile(r"0(?:10|2\d|[3-9]\d{2})-[2-9]\d{6,7}")
_PHONE_NOISE = re.compile(r"[\s\-()（）.·/]+")
_EXTENSION = re.compile(r"\s*(?:转|分机|ext\.?|extension|x|#|,|，)\s*(\d{1,6})\s*$", re.IGNORECASE)
#: 021-64381234-808: an extension after a hyphen, taken only when what is before it is a whole landline.
_HYPHEN_EXTENSION = re.compile(r"(.*\d)\s*-\s*(\d{1,6})")
_COUNTRY_PREFIX = re.compile(r"^(?:\+|00)86")
#: What people write before a number in a contact cell: 手机：, 电话, M:, Mobile, Tel.
_PHONE_LABEL = re.compile(r"^(?:手机号码|手机号|手机|移动电话|联系电话|电话号码|办公电话|电话|座机|固话|"
                          r"mobile|mob|cell|phone|tel|m|t|p)\s*[:：.]?\s*(?=[+(（\d])", re.IGNORECASE)
#: Between two numbers in one cell (a comma also comes before an extension: split only between numbers).
_NUMBER_SEPARATORS = re.compile(r"[;；、|/,，]")
_DIGIT = re.compile(r"\d")


#: Company service numbers (400 and 800 numbers), ten digits, dialled the same from everywhere.
_SERVICE_NUMBER = re.compile(r"[48]00\d{7}")


def clean_phone(raw: str | None, region: str = "CN") -> Cleaned:
    """Chinese mobiles as 11 digits, landlines as 0AA-NNNNNNNN, +86 dropped, labels (手机：) dropped,
    extensions kept.

    Foreign numbers keep their international form; anything else is flagged, and so is a cell with
    two numbers (the first is shown as it would be kept: which one to keep is the user's choice).
    """
    if type(raw) is str and (len(raw) == 11 and _MOBILE.fullmatch(raw) or _LANDLINE_AS_WRITTEN.fullmatch(raw)):
        return _cleaned((raw, (), None))  # already as this writes it
    base = tidy_value(raw)
    if base.value is None:
        return base
    numbers = [part for part in _NUMBER_SEPARATORS.split(base.value) if len(_DIGIT.findall(part)) >= 7]
    if len(numbers) > 1:
        first = _clean_number(numbers[0].strip(), base, region)
        return Cleaned(first.value, first.rules, first.error or "two phone numbers")
    return _clean_number(base.value, base, region)


def _written(local: str, extension: str) -> str | None:
    """A Chinese number (its digits without +86) as clean_phone writes it, or None if it is none."""
    suffix = f" 转{extension}" if extension else ""
    if _MOBILE.fullmatch(local):
        return local + suffix
    if _SERVICE_NUMBER.fullmatch(local):  # 400/800 numbers have no area code: written 400-800-1234
        return f"{local[:3]}-{local[3:6]}-{local[6:]}" + suffix
    landline = _LANDLINE.fullmatch(local)
    if landline:
        return f"0{landline.group(1)}-{landline.group(2)}" + suffix
    return None


def _local_digits(text: str) -> str:
    digits = _PHONE_NOISE.sub("", text)
    local = _COUNTRY_PREFIX.sub("", digits)
    if local.startswith("86") and len(local) == 13 and _MOBILE.fullmatch(local[2:]):
        local = local[2:]
    return local


def _clean_number(text: str, base: Cleaned, region: str) -> Cleaned:
    """clean_phone of one number in the cell ``base`` (tidied)."""
    text = _PHONE_LABEL.sub("", text, count=1)
    extension = ""
    match = _EXTENSION.search(text)
    if match and len(_PHONE_NOISE.sub("", text[: match.start()])) >= 7:
        extension, text = match.group(1), text[: match.start()]
    if text.endswith(".0") and text[:-2].isdigit():  # a number cell read as float text
        text = text[:-2]
    value = _written(_local_digits(text), extension)
    if value is None and not extension:
        hyphenated = _HYPHEN_EXTENSION.fullmatch(text)
        if hyphenated and _LANDLINE.fullmatch(_local_digits(hyphenated.group(1))):
            value = _written(_local_digits(hyphenated.group(1)), hyphenated.group(2))
    if value is not None:
        return _cleaned((value, base.rules + ((RULE_PHONE,) if value != base.value else ()), None))
    digits = _PHONE_NOISE.sub("", text)
    international = digits.startswith(("+", "00"))
    if not international and len(digits) < _shortest_national_number(region):
        # Too short for any number of the region (often a stray count or code in the column):
        # known without phonenumbers' parse, which costs a hundred times more.
        return Cleaned(base.value, base.rules, "invalid phone number")
    try:
        number = phonenumbers.parse(("+" + digits[2:]) if digits.startswith("00") else digits, region)
    except phonenumbers.NumberParseException:
        return Cleaned(base.value, base.rules, "invalid phone number")
    if not phonenumbers.is_valid_number(number):
        return Cleaned(base.value, base.rules, "invalid phone number")
    if number.country_code == 86:
        # Whatever phonenumbers read past (letters, odd separators): written as the cleaning writes it,
        # mobiles as 11 digits.
        value = _written(_national(number), "")
        if value is None:
            return Cleaned(base.value, base.rules, "invalid phone number")
    else:
        value = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    if extension or number.extension:
        value += f" 转{extension or number.extension}"
    return Cleaned(value, base.rules + ((RULE_PHONE,) if value != base.value else ()))


def _national(number) -> str:
    """A Chinese number's digits as dialled at home: mobiles as they are, landlines with their leading zero."""
    national = str(number.national_number)
    return national if _MOBILE.fullmatch(national) or _SERVICE_NUMBER.fullmatch(national) else "0" + national


@functools.cache
def _shortest_national_number(region: str) -> int:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    lengths = metadata.general_desc.possible_length if metadata else ()
    return min(lengths, default=0)


def phone_key_of(cleaned_phone: str | None) -> str:
    """Duplicate key of a phone already cleaned by clean_phone (fast for mobiles)."""
    if not cleaned_phone:
        return ""
    if len(cleaned_phone) == 11 and cleaned_phone.isdigit():
        return "+86" + cleaned_phone
    number = cleaned_phone.split(" 转")[0]
    if number.startswith("0") and "-" in number:  # 0AA-NNNNNNNN as clean_phone writes it
        return "+86" + number[1:].replace("-", "")
    return phone_key(number)


# The WHATWG "valid e-mail address" pattern: what browsers accept in type=email.
_EMAIL = re.compile(r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
                    r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.[a-z]{2,}$")


def clean_email(raw: str | None) -> Cleaned:
    """Lower-cased and validated; internationalised addresses go through email-validator."""
    base = tidy_value(raw)
    if base.value is None:
        return base
    text = base.value.lower().replace(" ", "")
    rules = base.rules + ((RULE_EMAIL,) if text != base.value else ())
    if _EMAIL.match(text) and ".." not in text:
        return _cleaned((text, rules, None))
    if not text.isascii() and "@" in text:
        from email_validator import EmailNotValidError, validate_email
        try:
            validate_email(text, check_deliverability=False)
            return Cleaned(text, rules)
        except EmailNotValidError:
            pass
    return Cleaned(base.value, base.rules, "invalid email address")


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})[日号]?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
_EXCEL_EPOCH = date(1899, 12, 30)


def excel_serial_to_date(serial: float) -> date:
    """An Excel date serial (1900 system) as a date."""
    return _EXCEL_EPOCH + timedelta(days=int(serial))


def clean_date(raw: str | None) -> Cleaned:
    """Dates from 2024-01-05, 2024/1/5, 2024.1.5, 2024年1月5日, 20240105 or an Excel serial."""
    if isinstance(raw, datetime):
        return Cleaned(raw.date(), (RULE_DATE,))
    if isinstance(raw, date):
        return Cleaned(raw)
    base = tidy_value(raw)
    if base.value is None:
        return base
    text = base.value
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            year, month, day = (int(part) for part in match.groups())
            try:
                value = date(year, month, day)
            except ValueError:
                return Cleaned(text, base.rules, "not a real date")
            if not 1900 <= year <= 2200:
                return Cleaned(text, base.rules, "date out of range")
            return Cleaned(value, base.rules + ((RULE_DATE,) if value.isoformat() != text else ()))
    number = text[:-2] if text.endswith(".0") else text
    if number.isdigit() and 1 <= int(number) <= 109574:  # Excel serials up to 2199-12-31
        return Cleaned(excel_serial_to_date(int(number)), base.rules + (RULE_DATE,))
    return Cleaned(text, base.rules, "unrecognised date")


_AMOUNT_NOISE = re.compile(r"[¥￥$,，\s]|RMB|CNY|人民币|元", re.IGNORECASE)
_CENT = Decimal("0.01")
_MULTIPLIERS = {"万": Decimal(10000), "亿": Decimal(100000000), "千": Decimal(1000), "k": Decimal(1000)}
_MAX_AMOUNT = Decimal("999999999999.99")


#: Digits with an optional decimal part: what people type as a number (not 1e9, NaN or Infinity).
PLAIN_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")


def clean_amount(raw: str | None) -> Cleaned:
    """Amounts from ¥1,234.50, 1.2万, (1,234) (negative) or -1234; two decimals."""
    base = tidy_value(raw)
    if base.value is None:
        return base
    text = base.value
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1]
    text = _AMOUNT_NOISE.sub("", text)
    if text.startswith("-"):
        negative, text = not negative, text[1:]
    multiplier = Decimal(1)
    if text and text[-1].lower() in _MULTIPLIERS:
        multiplier, text = _MULTIPLIERS[text[-1].lower()], text[:-1]
    # Digits with an optional decimal part only: Decimal would also read "1e9", "NaN" and "Infinity".
    if not PLAIN_NUMBER.fullmatch(text):
        return Cleaned(base.value, base.rules, "not an amount")
    value = Decimal(text) * multiplier
    if abs(value) > _MAX_AMOUNT:
        return Cleaned(base.value, base.rules, "amount out of range")
    value = (-value if negative else value).quantize(_CENT)
    changed = str(value) != base.value
    return Cleaned(value, base.rules + ((RULE_AMOUNT,) if changed else ()))


def clean_integer(raw: str | None) -> Cleaned:
    """Whole numbers; 12.0 from a spreadsheet counts as 12."""
    base = tidy_value(raw)
    if base.value is None:
        return base
    text = base.value.replace(",", "")
    if text.endswith(".0"):
        text = text[:-2]
    if text.lstrip("-").isdigit() and len(text) < 16:
        value = int(text)
        return Cleaned(value, base.rules + ((RULE_NUMBER,) if str(value) != base.value else ()))
    return Cleaned(base.value, base.rules, "not a whole number")


_TRUE = {"1", "y", "yes", "true", "是", "对", "√", "✓", "x"}
_FALSE = {"0", "n", "no", "false", "否", "不是", "×", "-"}


def clean_boolean(raw: str | None) -> Cleaned:
    """是/否, yes/no, 1/0, ✓."""
    base = tidy_value(raw)
    if base.value is None:
        return Cleaned(False)
    text = base.value.lower()
    if text in _TRUE:
        return Cleaned(True, base.rules)
    if text in _FALSE:
        return Cleaned(False, base.rules)
    return Cleaned(base.value, base.rules, "not yes or no")


#: Field kind → cleaning rule.
CLEANERS = {
    "text": tidy_text,
    "note": tidy_note,
    "phone": clean_phone,
    "email": clean_email,
    "date": clean_date,
    "amount": clean_amount,
    "integer": clean_integer,
    "boolean": clean_boolean,
}


def name_key(name: str | None) -> str:
    """Exact-duplicate key of a name: cleaned, case-folded, no spaces or punctuation.

    company_key also drops legal suffixes; names equal under company_key but not under
    name_key are near-duplicates (北京某某科技有限公司 vs 北京某某科技), listed for review.
    """
    return _COMPANY_PUNCTUATION.sub("", clean_text(name).casefold())



# --- how alike two short texts are ----------------------------------------------------------------
def character_pairs(text: str | None) -> set[str]:
    """Character pairs of the text without spaces and punctuation (works for Chinese and English)."""
    cleaned = re.sub(r"[\W_]+", "", (text or "").lower())
    if len(cleaned) < 2:
        return {cleaned} if cleaned else set()
    return {cleaned[i:i + 2] for i in range(len(cleaned) - 1)}


def pair_similarity(a: set[str], b: set[str]) -> float:
    """Overlap of two texts' character pairs (Dice coefficient), 0..1."""
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def text_similarity(a: str | None, b: str | None) -> float:
    """How alike two short texts are, 0..1: retro cards, requirement titles."""
    return pair_similarity(character_pairs(a), character_pairs(b))
