"""Change requests are found by the key the lists show (CR-0513), however it is typed."""
import pytest


@pytest.mark.parametrize("typed", ["CR-{:04d}", "cr-{:04d}", "CR{}", "cr {}", "#{}", "ＣＲ－{:04d}", " CR-{:04d} "])
def test_a_key_finds_its_request_only(client_as, new_request, typed):
    wanted = new_request(title="报价审批加一级")
    other = new_request(title=f"包含编号 {wanted.id} 的另一个申请")
    page = client_as("lead").get("/changes/all", query_string={"q": typed.format(wanted.id)}).text
    assert wanted.reference in page and "报价审批加一级" in page
    assert "另一个申请" not in page and other.reference not in page


def test_a_bare_number_finds_the_request_and_texts_with_it(client_as, new_request):
    wanted = new_request(title="报价审批加一级")
    mentions = new_request(title=f"第 {wanted.id} 号问题的后续")
    page = client_as("lead").get("/changes/all", query_string={"q": str(wanted.id)}).text
    assert wanted.reference in page and mentions.reference in page


@pytest.mark.parametrize("typed", ["CR-99999999999999", "CR-0", "#abc"])
def test_an_impossible_key_finds_nothing_and_does_not_fail(client_as, new_request, typed):
    new_request(title="报价审批加一级")
    response = client_as("lead").get("/changes/all", query_string={"q": typed})
    assert response.status_code == 200 and "报价审批加一级" not in response.text


def test_words_still_search_title_and_description(client_as, new_request):
    new_request(title="报价审批加一级")
    new_request(title="线索分配规则")
    page = client_as("lead").get("/changes/all", query_string={"q": "审批"}).text
    assert "报价审批加一级" in page and "线索分配规则" not in page
