"""Cleaning rules: each fast path agrees with the rule it shortcuts."""
import phonenumbers
import pytest

from rollout.cleaning import clean_phone


@pytest.mark.parametrize("raw, value, error", [
    ("13800138000", "13800138000", None),
    ("+86 138-0013-8000", "13800138000", None),
    ("021-62345678转8", "021-62345678 转8", None),
    ("+1 202 555 0143", "+1 202-555-0143", None),
    ("0044 20 7946 0958", "+44 20 7946 0958", None),
    # Service numbers have no area code: not 0400-8001234.
    ("400-800-1234", "400-800-1234", None),
    ("4008001234", "400-800-1234", None),
    ("800 820 8820 转 5", "800-820-8820 转5", None),
    ("1234", "1234", "invalid phone number"),
    ("95555", "95555", "invalid phone number"),
    ("0123456", "0123456", "invalid phone number"),
    # A label before the number is dropped; a mobile stays 11 digits.
    ("手机:13600001111", "13600001111", None),
    ("手机：13600001111", "13600001111", None),
    ("电话 13812345678", "13812345678", None),
    ("M:13812345678", "13812345678", None),
    ("Mobile 138 1234 5678", "13812345678", None),
    ("Tel: +86 10 8888 6666", "010-88886666", None),
    # Two numbers: the first as it would be kept, flagged so the user chooses.
    ("13812345678;010-88886666", "13812345678", "two phone numbers"),
    ("手机：138-1234-5678；座机：010-88886666", "13812345678", "two phone numbers"),
    ("13812345678 / 13987654321", "13812345678", "two phone numbers"),
    # An extension after a hyphen, when what is before it is a whole landline.
    ("021-64381234-808", "021-64381234 转808", None),
    ("(021)64381234-808", "021-64381234 转808", None),
    ("021-6438123-4", "021-64381234", None),
    ("021-62345678,8", "021-62345678 转8", None),
    ("010/88886666", "010-88886666", None),
    ("136 0000 1111 (手机)", "136 0000 1111 (手机)", "invalid phone number"),
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


def _strip_in_plain_passes(text):
    """The rule as stated: passes over every suffix, longest first, until a pass drops nothing."""
    from rollout.cleaning import _BARE_SUFFIXES
    changed = True
    while changed:
        changed = False
        for bare in _BARE_SUFFIXES:
            if text.endswith(bare) and len(text) > len(bare):
                text, changed = text[: -len(bare)], True
    return text


def test_legal_suffixes_are_dropped_as_the_plain_passes_drop_them():
    import itertools

    from rollout.cleaning import _BARE_SUFFIXES, strip_legal_suffixes
    pieces = [*_BARE_SUFFIXES, "北京星辰", "科技", "有限", "公", "司", "集团", "x", "co", "c", ""]
    for length in range(4):
        for parts in itertools.product(pieces, repeat=length):
            text = "".join(parts)
            assert strip_legal_suffixes(text) == _strip_in_plain_passes(text), text
    assert strip_legal_suffixes("北京星辰科技集团有限公司") == "北京星辰科技"
    assert strip_legal_suffixes("有限公司") == "有限"  # never the whole name


def _clean_text_in_full(text):
    import re
    import unicodedata
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).replace("\u3000", " ")).strip()


def test_text_fast_paths_agree_with_the_full_rules():
    """Every short text over spaces of every kind, full-width and zero-width characters, CJK and ASCII."""
    import itertools

    import unicodedata

    from rollout.cleaning import _FULL_WIDTH_ALNUM, _tidy_changed, clean_text, tidy_text, tidy_value

    def half_width(line):
        return line.translate(_FULL_WIDTH_ALNUM)

    def nfkc(line):
        return unicodedata.normalize("NFKC", line)
    alphabet = [" ", "\u3000", "\u00a0", "\u200b", "\ufeff", "\t", "\n", "Ａ", "１", "ｶ", "a", "公", "\x07", "é", "e\u0301",
                "，", "（"]
    for length in range(4):
        for parts in itertools.product(alphabet, repeat=length):
            text = "".join(parts)
            assert tidy_text(text) == _tidy_changed(text, half_width), repr(text)
            assert tidy_text(f"星{text}a b") == _tidy_changed(f"星{text}a b", half_width), repr(text)
            assert tidy_value(text) == _tidy_changed(text, nfkc), repr(text)
            assert clean_text(text) == _clean_text_in_full(text), repr(text)
    assert tidy_text("  北京　星辰 ") == ("北京 星辰", ("trim",), None)
    assert tidy_text("ＡＢＣ１２３") == ("ABC123", ("nfkc",), None)
    assert tidy_text("北京星辰科技") == ("北京星辰科技", (), None)


def test_phones_already_as_written_are_what_the_full_rule_writes():
    """The fast path returns a mobile or 0AA-NNNNNNNN landline unchanged; the full rule (after a trim) agrees."""
    import random
    rng = random.Random(3)
    numbers = [f"1{rng.choice('3456789')}{rng.randrange(10 ** 9):09d}" for _ in range(50)]
    for area in ("010", "021", "029", "0311", "0755", "0898"):
        numbers += [f"{area}-{rng.randrange(2, 10)}{rng.randrange(10 ** 6):06d}",
                    f"{area}-{rng.randrange(2, 10)}{rng.randrange(10 ** 7):07d}"]
    for number in numbers:
        assert clean_phone(number) == (number, (), None)
        assert clean_phone(f" {number}") == (number, ("trim",), None), number


def test_a_typed_line_keeps_its_chinese_punctuation_and_loses_only_stray_spaces():
    from rollout.cleaning import clean_line
    assert clean_line("\u3000上海市浦东新区（张江）科苑路８８号，３楼！  ") == "上海市浦东新区（张江）科苑路88号，3楼！"
    assert clean_line("ＡＢＣ\u3000\u3000科技\n有限公司") == "ABC 科技 有限公司"
    assert clean_line("￥５０万：含税。") == "￥50万：含税。"
    assert clean_line(None) == ""


def test_a_typed_note_is_kept_as_typed_over_its_lines():
    from rollout.cleaning import clean_note
    typed = "客户说：价格（含税）太高，希望下周再谈！\r\n预算约￥５０万。\r\n\r\n  - 下一步：确认交期？"
    assert clean_note(f"\u3000 {typed}\n\n") == typed.replace("\r\n", "\n")
    assert clean_note(None) == ""


@pytest.mark.parametrize("raw, value", [
    ("初次拜访，介绍产品", "初次拜访，介绍产品"),
    ("某某科技（北京）有限公司", "某某科技（北京）有限公司"),
    ("\u3000广州ＡＢＣ贸易（广州） ", "广州ABC贸易（广州）"),
    ("报价：￥５０万！", "报价：￥50万！"),
])
def test_text_cells_keep_chinese_punctuation(raw, value):
    from rollout.cleaning import tidy_text
    assert tidy_text(raw).value == value


def test_note_cells_keep_their_lines():
    from rollout.cleaning import tidy_note
    cleaned = tidy_note("客户说：价格（含税）太高，\r\n\r\n  下周再谈！ \n")
    assert cleaned == ("客户说：价格（含税）太高，\n\n下周再谈！", ("trim",), None)
    assert tidy_note("一行，不变") == ("一行，不变", (), None)


def test_values_read_from_full_width_forms():
    from rollout.cleaning import clean_amount, clean_date, clean_email
    assert clean_amount("（1,234）").value == -1234
    assert clean_email("INFO＠XC.COM").value == "info@xc.com"
    assert str(clean_date("2024／1／5").value) == "2024-01-05"


def test_a_date_already_written_as_stored_is_not_marked_changed():
    from rollout.cleaning import clean_date
    assert clean_date("2024-06-30").rules == ()
    assert clean_date("2024/6/30").rules == ("date",)
