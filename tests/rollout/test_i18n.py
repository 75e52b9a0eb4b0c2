"""Every UI string has a finished zh_CN translation."""
from rollout.i18n import missing


def test_zh_cn_catalogue_is_complete():
    problems = missing()
    assert problems == [], f"untranslated or fuzzy zh_CN messages: {problems[:20]}"
