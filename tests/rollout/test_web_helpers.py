"""Small helpers: ids from forms, one page of a list in memory, counts in command output."""
from rollout.database import MAX_ID
from rollout.web import ids_in, page_of


def test_ids_in_keeps_only_values_that_can_be_record_ids():
    sent = ["3", "3", 7, "abc", "²", "٣", "9" * 40, "9" * 5000, "-1", "0", str(MAX_ID), str(MAX_ID + 1), "", " 5"]
    assert ids_in(sent) == [3, 7, MAX_ID]
    assert ids_in(None) == [] and ids_in([]) == []


def test_page_of_a_list_clamps_the_page_number(app):
    items = list(range(120))
    with app.test_request_context("/?page=3"):
        page = page_of(items, per_page=50)
        assert (page.items, page.pages, page.total, page.has_next) == (items[100:], 3, 120, False)
    for asked, shown in (("99", 3), ("-2", 1), ("x", 1)):
        with app.test_request_context(f"/?page={asked}"):
            assert page_of(items, per_page=50).page == shown, asked
    with app.test_request_context("/"):
        empty = page_of([], per_page=50)
        assert (empty.items, empty.page, empty.pages) == ([], 1, 1)


def test_command_output_counts_in_english():
    from rollout.cli import counted
    assert [counted(n, "customer") for n in (0, 1, 2)] == ["0 customers", "1 customer", "2 customers"]
    assert counted(1, "person", "people") == "1 person" and counted(3, "person", "people") == "3 people"
