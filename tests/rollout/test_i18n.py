"""Every UI string has a finished zh_CN translation, the same in every catalogue."""
from rollout.i18n import conflicts, missing


def test_zh_cn_catalogue_is_complete():
    problems = missing()
    assert problems == [], f"untranslated or fuzzy zh_CN messages: {problems[:20]}"


def test_a_message_has_one_translation_in_every_catalogue():
    """All catalogues load into one table, so of two translations of the same words only one shows,
    in every module (a contact's 职务 became 标题)."""
    assert conflicts() == {}
