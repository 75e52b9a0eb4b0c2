"""Retros: templates, hidden cards, anonymity, dot budgets, action items, continuity, themes, output."""
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from rollout.accounts.models import User
from rollout.audit.models import AuditEntry
from rollout.cleaning import text_similarity
from rollout.errors import NotAllowed, ServiceError
from rollout.extensions import db
from rollout.retros import services
from rollout.retros.models import DONE, Retro, RetroActionItem, RetroCard, RetroVote


@pytest.fixture
def team(company):
    return company["departments"]["sales1"]


def make_retro(team, facilitator, held_on=None, **options):
    """A retro of the team; without a date, on 2026-11-20 or the first day after it the team has none."""
    if held_on is None:
        taken = set(db.session.scalars(select(Retro.held_on).where(Retro.team_id == team.id)))
        held_on = next(day for n in range(366) if (day := date(2026, 11, 20) + timedelta(days=n)) not in taken)
    retro = services.create_retro(team, "第12周回顾", held_on, options.pop("template",
                                  "start_stop_continue"), facilitator, **options)
    db.session.commit()
    return retro


def test_templates_give_their_columns(team, company):
    retro = make_retro(team, company["head"], template="four_ls")
    assert [c.title for c in retro.columns] == ["Liked", "Learned", "Lacked", "Longed for"]
    custom = make_retro(team, company["head"], template="custom", custom_columns=["客户", "流程"])
    assert [c.title for c in custom.columns] == ["客户", "流程"]


def test_custom_template_needs_columns(team, company):
    with pytest.raises(ServiceError) as error:
        services.create_retro(team, "x", date(2026, 11, 20), "custom", company["head"], custom_columns=[])
    assert error.value.field == "custom_columns"


def test_next_retro_is_a_week_after_the_last(team, company):
    make_retro(team, company["head"], held_on=date(2030, 1, 7))
    assert services.next_held_on(team.id) == date(2030, 1, 14)


def test_anonymous_card_stores_no_author_anywhere(team, company):
    retro = make_retro(team, company["head"], is_anonymous=True)
    staff = company["staff"]
    card_id = services.add_card(retro, staff, retro.columns[0].id, "客户拜访录入太慢")
    db.session.commit()
    stored = db.session.execute(select(RetroCard.__table__).where(RetroCard.id == card_id)).mappings().one()
    assert stored["author_id"] is None
    assert staff.id not in {v for v in stored.values() if isinstance(v, int) and v != card_id} - {retro.id}
    # nor in the audit trail
    assert not db.session.scalar(select(AuditEntry.id).where(AuditEntry.entity == "retro_cards",
                                                             AuditEntry.entity_id == str(card_id)))


def test_named_card_keeps_its_author(team, company):
    retro = make_retro(team, company["head"])
    card_id = services.add_card(retro, company["staff"], retro.columns[0].id, "早会太长")
    assert db.session.get(RetroCard, card_id).author_id == company["staff"].id


def test_cards_hidden_until_reveal(team, company, client_as):
    retro = make_retro(team, company["head"])
    services.add_card(retro, company["staff"], retro.columns[0].id, "我的卡片内容")
    services.add_card(retro, company["staff2"], retro.columns[1].id, "别人的卡片内容")
    db.session.commit()
    page = client_as("staff").get(f"/retros/{retro.id}").get_data(as_text=True)
    assert "我的卡片内容" in page and "别人的卡片内容" not in page
    facilitator_page = client_as("head").get(f"/retros/{retro.id}").get_data(as_text=True)
    assert "别人的卡片内容" not in facilitator_page and "2 cards written so far" in facilitator_page
    # the summary and the export do not leak them either
    assert "别人的卡片内容" not in client_as("staff").get(f"/retros/{retro.id}/summary").get_data(as_text=True)
    assert client_as("head").get(f"/retros/{retro.id}/export/cards").status_code == 404
    assert client_as("head").post(f"/retros/{retro.id}/transition", data={"action": "reveal"}).status_code == 302
    assert "别人的卡片内容" in client_as("staff").get(f"/retros/{retro.id}").get_data(as_text=True)


def test_anonymous_writer_sees_own_card_before_reveal(team, company, client_as):
    retro = make_retro(team, company["head"], is_anonymous=True)
    client = client_as("staff")
    response = client.post(f"/retros/{retro.id}/cards", data={"column_id": retro.columns[0].id, "body": "匿名意见"})
    assert response.status_code == 302
    assert "匿名意见" in client.get(f"/retros/{retro.id}").get_data(as_text=True)
    assert "匿名意见" not in client_as("staff2").get(f"/retros/{retro.id}").get_data(as_text=True)
    assert db.session.scalar(select(RetroCard.author_id)) is None
    # withdrawing it leaves no trace of the writer either
    card_id = db.session.scalar(select(RetroCard.id))
    assert client.post(f"/retros/{retro.id}/cards/{card_id}/delete").status_code == 302
    assert db.session.get(RetroCard, card_id) is None
    assert not db.session.scalar(select(AuditEntry.id).where(AuditEntry.entity == "retro_cards"))
    # and someone else cannot withdraw a card that is not theirs
    other_id = services.add_card(retro, company["staff2"], retro.columns[0].id, "别人的")
    db.session.commit()
    assert client.post(f"/retros/{retro.id}/cards/{other_id}/delete").status_code == 422
    assert db.session.get(RetroCard, other_id) is not None


def test_empty_card_is_refused_with_422(team, company, client_as):
    retro = make_retro(team, company["head"])
    response = client_as("staff").post(f"/retros/{retro.id}/cards", data={"column_id": retro.columns[0].id,
                                                                          "body": "   "})
    assert response.status_code == 422
    assert "This field is required." in response.get_data(as_text=True) or "Write something" in \
        response.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count()).select_from(RetroCard)) == 0


def test_card_in_foreign_column_refused(team, company):
    retro = make_retro(team, company["head"])
    other = make_retro(team, company["head"])
    with pytest.raises(ServiceError):
        services.add_card(retro, company["staff"], other.columns[0].id, "x")


def test_other_department_cannot_open_or_write(team, company, client_as):
    retro = make_retro(team, company["head"])
    client = client_as("other_staff")
    assert client.get(f"/retros/{retro.id}").status_code == 403
    assert client.post(f"/retros/{retro.id}/cards", data={"column_id": retro.columns[0].id,
                                                          "body": "x"}).status_code == 403
    assert db.session.scalar(select(db.func.count()).select_from(RetroCard)) == 0


def test_staff_cannot_reveal_unless_facilitator(team, company, client_as):
    retro = make_retro(team, company["head"])
    assert client_as("staff").post(f"/retros/{retro.id}/transition", data={"action": "reveal"}).status_code == 403
    own = make_retro(team, company["staff"])
    assert client_as("staff").post(f"/retros/{own.id}/transition", data={"action": "reveal"}).status_code == 302
    assert db.session.get(Retro, own.id).status == "discussing"


def test_retro_transitions_refuse_unknown_moves(team, company):
    retro = make_retro(team, company["head"])
    with pytest.raises(NotAllowed):
        services.transition_retro(retro, "close")
    assert retro.status == "collecting"


def _revealed_with_card(team, company, budget=2):
    retro = make_retro(team, company["head"], vote_budget=budget)
    card_id = services.add_card(retro, company["staff"], retro.columns[0].id, "客户查重")
    services.transition_retro(retro, "reveal")
    db.session.commit()
    return retro, db.session.get(RetroCard, card_id)


def test_dot_budget_is_enforced(team, company, client_as):
    retro, card = _revealed_with_card(team, company, budget=2)
    client = client_as("staff")
    assert client.post(f"/retros/{retro.id}/cards/{card.id}/vote").status_code == 302
    assert client.post(f"/retros/{retro.id}/cards/{card.id}/vote").status_code == 302
    response = client.post(f"/retros/{retro.id}/cards/{card.id}/vote")
    assert response.status_code == 422
    assert "used all 2 of your dots" in response.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count()).select_from(RetroVote)) == 2
    # taking one back frees a dot
    assert client.post(f"/retros/{retro.id}/cards/{card.id}/vote", data={"remove": "1"}).status_code == 302
    assert client.post(f"/retros/{retro.id}/cards/{card.id}/vote").status_code == 302
    assert db.session.scalar(select(db.func.count()).select_from(RetroVote)) == 2


def test_database_refuses_a_second_vote_in_the_same_slot(team, company):
    """Two requests racing for the last dot pick the same slot; the unique constraint stops one."""
    from sqlalchemy.exc import IntegrityError
    retro, card = _revealed_with_card(team, company, budget=1)
    db.session.add(RetroVote(retro_id=retro.id, card_id=card.id, voter_id=company["staff"].id, slot=1))
    db.session.commit()
    db.session.add(RetroVote(retro_id=retro.id, card_id=card.id, voter_id=company["staff"].id, slot=1))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_concurrent_votes_never_exceed_the_budget(app, team, company):
    import threading
    retro, card = _revealed_with_card(team, company, budget=2)
    retro_id, card_id, voter_id = retro.id, card.id, company["staff"].id
    db.session.remove()
    barrier = threading.Barrier(5)
    outcomes = []

    def vote():
        with app.app_context():
            from rollout.accounts.models import User
            barrier.wait()
            try:
                services.cast_vote(db.session.get(Retro, retro_id), db.session.get(RetroCard, card_id),
                                   db.session.get(User, voter_id))
                db.session.commit()
                outcomes.append("ok")
            except Exception as error:  # refused or lost the race: either way nothing is stored
                db.session.rollback()
                outcomes.append(type(error).__name__)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=vote) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = db.session.scalar(select(db.func.count()).select_from(RetroVote).where(RetroVote.voter_id == voter_id))
    assert stored == outcomes.count("ok") <= 2


def test_voting_only_while_discussing(team, company):
    retro = make_retro(team, company["head"])
    card_id = services.add_card(retro, company["staff"], retro.columns[0].id, "x")
    with pytest.raises(NotAllowed):
        services.cast_vote(retro, db.session.get(RetroCard, card_id), company["staff"])


def test_grouping_by_facilitator(team, company, client_as):
    retro, card = _revealed_with_card(team, company)
    assert client_as("head").post(f"/retros/{retro.id}/cards/{card.id}/group",
                                  data={"group": "客户数据"}).status_code == 302
    assert db.session.get(RetroCard, card.id).group.title == "客户数据"
    assert client_as("staff").post(f"/retros/{retro.id}/cards/{card.id}/group",
                                   data={"group": "y"}).status_code == 403


def test_action_items_state_table(team, company, client_as):
    retro, card = _revealed_with_card(team, company)
    client = client_as("head")
    response = client.post(f"/retros/{retro.id}/actions", data={
        "title": "统一客户录入模板", "owner_id": company["staff"].id, "due_on": "2026-11-27", "card_id": card.id})
    assert response.status_code == 302
    item = db.session.scalar(select(RetroActionItem))
    assert (item.owner_id, item.due_on, item.status, item.card_id) == (company["staff"].id, date(2026, 11, 27),
                                                                        "open", card.id)
    # the owner may move it on; someone else in another department may not
    assert client_as("other_staff").post(f"/retros/actions/{item.id}/transition",
                                         data={"action": "finish"}).status_code == 403
    assert client_as("staff").post(f"/retros/actions/{item.id}/transition",
                                   data={"action": "finish"}).status_code == 302
    assert db.session.get(RetroActionItem, item.id).status == DONE
    response = client_as("staff").post(f"/retros/actions/{item.id}/transition", data={"action": "start"})
    assert response.status_code == 422
    assert db.session.get(RetroActionItem, item.id).status == DONE


def test_action_item_without_title_is_refused(team, company, client_as):
    retro, _card = _revealed_with_card(team, company)
    response = client_as("head").post(f"/retros/{retro.id}/actions", data={"title": "", "due_on": "2026-11-27"})
    assert response.status_code == 422
    assert db.session.scalar(select(db.func.count()).select_from(RetroActionItem)) == 0


def test_next_retro_opens_with_previous_open_items(team, company, client_as):
    first = make_retro(team, company["head"], held_on=date(2026, 11, 13))
    services.add_action_item(first, "清理重复客户", company["staff"].id, None)
    finished = services.add_action_item(first, "已完成的事", None, None)
    services.transition_action_item(finished, "finish")
    second = make_retro(team, company["head"], held_on=date(2026, 11, 20))
    db.session.commit()
    assert [i.title for i in services.carried_over_items(second)] == ["清理重复客户"]
    assert services.carried_over_items(first) == []
    page = client_as("staff").get(f"/retros/{second.id}").get_data(as_text=True)
    assert "清理重复客户" in page and "已完成的事" not in page


def test_done_rate_per_retro_and_chart(team, company, client_as):
    for week, (total, done) in enumerate([(2, 1), (4, 4)]):
        retro = make_retro(team, company["head"], held_on=date(2026, 11, 6) + timedelta(weeks=week))
        for n in range(total):
            item = services.add_action_item(retro, f"事项{n}", None, None)
            if n < done:
                services.transition_action_item(item, "finish")
    db.session.commit()
    rates = services.done_rates(team.id)
    assert [(r.total, r.done, r.percent) for r in rates] == [(2, 1, 50.0), (4, 4, 100.0)]
    response = client_as("head").get(f"/retros/teams/{team.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page[-3000:]
    assert "<svg" in page and "50%" in page


def test_recurring_theme_needs_three_retros(team, company):
    today = date.today()
    texts = ["客户录入字段太多", "客户录入的字段太多了", "录入客户字段太多"]
    retros = [make_retro(team, company["head"], held_on=today - timedelta(weeks=3 - i)) for i in range(3)]
    for retro, text in zip(retros[:2], texts):
        services.add_card(retro, company["staff"], retro.columns[0].id, text)
    services.add_card(retros[0], company["staff"], retros[0].columns[0].id, "周报", tag="周报")
    services.add_card(retros[1], company["staff"], retros[1].columns[0].id, "周报又晚了", tag="周报")
    assert services.recurring_themes(team.id, today) == []
    services.add_card(retros[2], company["staff"], retros[2].columns[1].id, texts[2])
    services.add_card(retros[2], company["staff"], retros[2].columns[1].id, "还是周报", tag="#周报")
    themes = services.recurring_themes(team.id, today)
    assert {(t.kind, t.retro_count) for t in themes} == {("tag", 3), ("text", 3)}
    assert "#周报" in {t.label for t in themes}


def test_unrelated_texts_are_not_a_theme():
    assert text_similarity("客户录入字段太多", "培训时间太短") < services.SIMILARITY_THRESHOLD
    assert text_similarity("客户录入字段太多", "客户录入的字段太多了") >= services.SIMILARITY_THRESHOLD


def test_summary_pdf_and_exports(team, company, client_as):
    retro, card = _revealed_with_card(team, company)
    services.add_action_item(retro, "=HYPERLINK(\"x\")", company["staff"].id, None)
    db.session.commit()
    client = client_as("head")
    summary = client.get(f"/retros/{retro.id}/summary")
    assert summary.status_code == 200 and "客户查重" in summary.get_data(as_text=True)
    pdf = client.get(f"/retros/{retro.id}/summary.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    cards = client.get(f"/retros/{retro.id}/export/cards?fmt=csv")
    assert cards.status_code == 200 and "客户查重" in cards.data.decode("utf-8-sig")
    actions = client.get(f"/retros/{retro.id}/export/actions?fmt=csv").data.decode("utf-8-sig")
    assert "'=HYPERLINK" in actions
    assert client_as("staff").get(f"/retros/{retro.id}/export/actions").status_code == 403


def test_list_shows_only_own_department_and_constant_statements(team, company, client_as, count_statements):
    marketing = company["departments"]["marketing"]
    make_retro(team, company["head"])
    services.create_retro(marketing, "市场部回顾", date(2026, 11, 20), "mad_sad_glad", company["other_head"])
    db.session.commit()
    client = client_as("staff")
    page = client.get("/retros/").get_data(as_text=True)
    assert "第12周回顾" in page and "市场部回顾" not in page
    with count_statements() as small:
        client.get("/retros/")
    for week in range(15):
        make_retro(team, company["head"], held_on=date(2026, 1, 5) + timedelta(weeks=week))
    with count_statements() as large:
        client.get("/retros/")
    assert small.count == large.count


def test_board_statement_count_does_not_grow_with_cards(team, company, client_as, count_statements):
    retro, _card = _revealed_with_card(team, company)
    staff_id, retro_id = company["staff"].id, retro.id
    services.add_action_item(retro, "第一项", staff_id, None)
    db.session.commit()
    client = client_as("head")
    db.session.remove()
    with count_statements() as small:
        assert client.get(f"/retros/{retro_id}").status_code == 200
    retro = db.session.get(Retro, retro_id)
    staff = db.session.get(User, staff_id)
    for n in range(20):
        services.add_card(retro, staff, retro.columns[n % 3].id, f"卡片{n}")
        services.add_action_item(retro, f"事项{n}", staff_id, None)
    db.session.commit()
    db.session.remove()
    with count_statements() as large:
        client.get(f"/retros/{retro_id}")
    assert small.count == large.count


def test_new_retro_form(team, company, client_as):
    client = client_as("head")
    assert client.get("/retros/new").status_code == 200
    response = client.post("/retros/new", data={
        "team_id": team.id, "title": "第48周回顾", "held_on": "2026-11-27", "cadence_days": 7,
        "template": "mad_sad_glad", "vote_budget": 3, "facilitator_id": company["head"].id, "is_anonymous": "y"})
    assert response.status_code == 302
    retro = db.session.scalar(select(Retro))
    assert retro.is_anonymous and [c.title for c in retro.columns] == ["Mad", "Sad", "Glad"]
    bad = client.post("/retros/new", data={"team_id": team.id, "title": "x", "held_on": "2026-11-28",
                                           "cadence_days": 7, "template": "custom", "custom_columns": "",
                                           "vote_budget": 3, "facilitator_id": company["head"].id})
    assert bad.status_code == 422 and "one per line" in bad.get_data(as_text=True)
    # A second retro of the team on the same day is refused at its date.
    twice = client.post("/retros/new", data={"team_id": team.id, "title": "重复日期", "held_on": "2026-11-27",
                                             "cadence_days": 7, "template": "mad_sad_glad", "vote_budget": 3,
                                             "facilitator_id": company["head"].id})
    assert twice.status_code == 422 and "already has a retro on 2026-11-27" in twice.text
    # a head cannot create a retro for another department
    other = client.post("/retros/new", data={
        "team_id": company["departments"]["marketing"].id, "title": "x", "held_on": "2026-11-27",
        "cadence_days": 7, "template": "mad_sad_glad", "vote_budget": 3, "facilitator_id": company["head"].id})
    assert other.status_code in (403, 422)
    assert db.session.scalar(select(db.func.count()).select_from(Retro)) == 1


def test_a_project_lead_creates_and_hosts_a_teams_retro(team, company, client_as):
    response = client_as("lead").post("/retros/new", data={
        "team_id": team.id, "title": "第48周回顾", "held_on": "2026-11-27", "cadence_days": 7,
        "template": "mad_sad_glad", "vote_budget": 3, "facilitator_id": company["lead"].id})
    assert response.status_code == 302
    assert db.session.scalar(select(Retro)).facilitator_id == company["lead"].id


def test_new_retro_form_starts_with_the_users_own_team(team, company, client_as, factory):
    import re

    def chosen_team(user) -> int | None:
        page = client_as(user).get("/retros/new").get_data(as_text=True)
        options = re.search(r'<select[^>]*id="team_id"[^>]*>(.*?)</select>', page, re.S).group(1)
        chosen = re.search(r'<option selected value="(\d+)"', options)
        return int(chosen.group(1)) if chosen else None

    team_head = factory.user("head", department=team, username="team-head")
    assert chosen_team(team_head) == team.id  # 销售一组, not the department 销售部 above it
    assert chosen_team("head") == company["departments"]["sales"].id


def test_zero_in_number_fields_is_answered_with_the_range(team, company, client_as):
    data = {"team_id": team.id, "title": "第48周回顾", "held_on": "2026-11-27", "cadence_days": "0",
            "template": "mad_sad_glad", "vote_budget": "0", "facilitator_id": company["head"].id}
    response = client_as("head").post("/retros/new", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "between 1 and 90" in page and "between 1 and 20" in page
    assert "This field is required" not in page
    assert db.session.scalar(select(db.func.count()).select_from(Retro)) == 0


def test_tag_example_is_in_the_pages_language(team, company, client_as):
    retro = make_retro(team, company["head"])
    client = client_as("staff")
    page = client.get(f"/retros/{retro.id}").get_data(as_text=True)
    assert 'placeholder="e.g. duplicates"' in page and "客户查重" not in page
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    assert 'placeholder="例如：客户查重"' in client.get(f"/retros/{retro.id}").get_data(as_text=True)


def test_template_columns_and_states_shown_in_chinese(team, company, client_as):
    retro = make_retro(team, company["head"])
    client = client_as("staff")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    page = client.get(f"/retros/{retro.id}").get_data(as_text=True)
    assert "开始" in page and "停止" in page and "继续" in page and "收集卡片中" in page


def test_card_becomes_change_request_linked_both_ways(team, company, client_as):
    pytest.importorskip("changes.services")
    from changes.models import ChangeRequest

    from rollout.retros.models import RetroWorkLink
    retro, card = _revealed_with_card(team, company)
    client = client_as("head")
    response = client.post(f"/retros/convert/card/{card.id}/change")
    assert response.status_code == 302 and response.location.endswith(f"/retros/{retro.id}#card-{card.id}")
    request = db.session.scalar(select(ChangeRequest))
    assert request.title == "客户查重" and f"/retros/{retro.id}" in request.description
    assert [link.card_id for link in services.links_for_change_request(request.id)] == [card.id]
    page = client.get(f"/retros/{retro.id}").get_data(as_text=True)
    # The changes module's own number and state, not a bare id.
    assert f"{request.reference} · Draft" in page and f"#{request.id}<" not in page
    assert f'action="/retros/convert/card/{card.id}/change"' not in page
    again = client.post(f"/retros/convert/card/{card.id}/change")
    assert again.status_code == 303 and again.location.endswith(f"/retros/{retro.id}#card-{card.id}")
    page = client.get(f"/retros/{retro.id}").get_data(as_text=True)
    assert f"This card was already turned into change request {request.reference}." in page
    assert db.session.scalar(select(db.func.count()).select_from(RetroWorkLink)) == 1
    assert client_as("staff").post(f"/retros/convert/card/{card.id}/faq").status_code == 403
    # The rest of the team sees what the card became, but a draft is its requester's to open.
    page = client_as("staff").get(f"/retros/{retro.id}").get_data(as_text=True)
    assert f"{request.reference} · Draft" in page and f'href="/changes/{request.id}"' not in page
    assert f'href="/changes/{request.id}"' in client.get(f"/retros/{retro.id}").get_data(as_text=True)


def _closed_with_action_item(team, company):
    retro, card = _revealed_with_card(team, company)
    item = services.add_action_item(retro, "客户查重规则改为名称加手机号", company["staff"].id, date(2026, 12, 6), None)
    services.transition_retro(retro, "close")
    db.session.commit()
    return retro, item


def test_action_item_becomes_a_draft_change_request_and_says_so(team, company, client_as):
    pytest.importorskip("changes.services")
    from changes.models import ChangeRequest
    retro, item = _closed_with_action_item(team, company)
    client = client_as("head")
    convert_url = f"/retros/convert/action/{item.id}/change"
    assert f'action="{convert_url}"' in client.get(f"/retros/{retro.id}").get_data(as_text=True)
    response = client.post(convert_url)
    assert response.status_code == 302 and response.location.endswith(f"/retros/{retro.id}#actions")
    request = db.session.scalar(select(ChangeRequest))
    assert request.state == "draft"
    page = client.get(f"/retros/{retro.id}").get_data(as_text=True)
    # The message names the draft and links to it, so the person can complete and submit it.
    assert (f'Draft change request <a href="/changes/{request.id}" class="alert-link">{request.reference}</a> '
            "is created and linked. It is not submitted yet") in page
    assert f'action="{convert_url}"' not in page
    assert f"Open change request {request.reference} · Draft" in page


def test_converting_twice_is_refused_clearly_in_both_languages(team, company, client_as):
    pytest.importorskip("changes.services")
    pytest.importorskip("training.support")
    from changes.models import ChangeRequest

    from training.models import SupportRequest
    retro, item = _closed_with_action_item(team, company)
    client = client_as("head")
    for target in ("change", "question"):
        assert client.post(f"/retros/convert/action/{item.id}/{target}").status_code == 302
    client.get(f"/retros/{retro.id}")  # shows (and so clears) the success messages
    request, question = db.session.scalar(select(ChangeRequest)), db.session.scalar(select(SupportRequest))
    again = client.post(f"/retros/convert/action/{item.id}/change")
    # Back on the retro page: a reload must not post again.
    assert again.status_code == 303 and again.location.endswith(f"/retros/{retro.id}#actions")
    page = client.get(again.location).get_data(as_text=True)
    assert f"This action item was already turned into change request {request.reference}." in page
    assert client.post(f"/retros/convert/action/{item.id}/question").status_code == 303
    assert "This action item was already asked at the support desk." in client.get(
        f"/retros/{retro.id}").get_data(as_text=True)
    assert question.id
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    client.post(f"/retros/convert/action/{item.id}/change")
    page = client.get(f"/retros/{retro.id}").get_data(as_text=True)
    assert f"该行动项已转为变更申请 {request.reference}，不能重复转换。" in page
    assert f'action="/retros/convert/action/{item.id}/question"' not in page and "打开该求助" in page
    assert db.session.scalar(select(db.func.count()).select_from(ChangeRequest)) == 1
    assert db.session.scalar(select(db.func.count()).select_from(SupportRequest)) == 1


def test_only_those_who_keep_the_faq_write_an_article_from_a_retro_and_they_write_its_answer(
        team, company, client_as):
    pytest.importorskip("training.faq")
    from training.models import FaqArticle
    retro, card = _revealed_with_card(team, company)
    card.tag = "客户查重"
    item = services.add_action_item(retro, "客户查重误报时怎么处理？", company["staff"].id, None, card.id)
    db.session.commit()
    url = f"/retros/convert/action/{item.id}/faq"
    head = client_as("head")
    assert f'href="{url}"' not in head.get(f"/retros/{retro.id}").get_data(as_text=True)
    assert head.get(url).status_code == 403 and head.post(url, data={"title": "x", "answer": "y"}).status_code == 403
    lead = client_as("lead")
    assert f'href="{url}"' in lead.get(f"/retros/{retro.id}").get_data(as_text=True)
    form = lead.get(url).get_data(as_text=True)
    assert 'value="客户查重误报时怎么处理？"' in form and 'value="客户查重"' in form  # the card's tag
    refused = lead.post(url, data={"title": "客户查重误报时怎么处理？", "answer": "   "})
    assert refused.status_code == 422 and "This field is required." in refused.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count()).select_from(FaqArticle)) == 0
    response = lead.post(url, data={"title": "查重误报怎么办？", "answer": "先按手机号搜索，再联系客户的负责人。",
                                    "tags": "客户查重, 误报"})
    assert response.status_code == 302 and response.location.endswith(f"/retros/{retro.id}#actions")
    article = db.session.scalar(select(FaqArticle))
    assert article.title == "查重误报怎么办？" and article.source == "retro" and article.tags == ["客户查重", "误报"]
    # Where it came from, in the company's language; no link to a retro most of the company may not open.
    assert article.body_markdown == "先按手机号搜索，再联系客户的负责人。\n\n来自复盘会“第12周回顾”（销售一组，2026-11-20）的行动项。"
    assert [link.action_item_id for link in services.links_for_faq_article(article.id)] == [item.id]
    page = lead.get(f"/retros/{retro.id}").get_data(as_text=True)
    assert (f'FAQ article <a href="/training/faq/{article.id}" class="alert-link">“查重误报怎么办？”</a> is published'
            in page)
    assert "FAQ: 查重误报怎么办？" in page  # the badge on the action item names the article
    assert f'href="{url}"' not in page
    for ask_again in (lambda: lead.get(url), lambda: lead.post(url, data={"title": "再来", "answer": "再来"})):
        again = ask_again()
        assert again.status_code == 303 and again.location.endswith(f"/retros/{retro.id}#actions")
        assert "This action item was already turned into an FAQ article." in lead.get(
            again.location).get_data(as_text=True)
    assert db.session.scalar(select(db.func.count()).select_from(FaqArticle)) == 1


def test_a_card_asked_at_the_support_desk_shows_its_answer_and_the_article_it_became(team, company, client_as,
                                                                                     factory):
    pytest.importorskip("training.support")
    from training import support
    from training.models import SupportRequest

    from rollout.notify.models import Notification
    seed = factory.user("staff", department=company["departments"]["sales"], username="seed", is_seed_user=True)
    retro, card = _revealed_with_card(team, company)
    client = client_as("head")
    response = client.post(f"/retros/convert/card/{card.id}/question")
    assert response.status_code == 302 and response.location.endswith(f"/retros/{retro.id}#card-{card.id}")
    question = db.session.scalar(select(SupportRequest))
    # It is the card writer's question, asked for them: they hear that, and later the answer.
    assert question.requester_id == company["staff"].id and question.subject == "客户查重"
    assert question.body_markdown.startswith("来自复盘会“第12周回顾”")
    told = db.session.scalar(select(Notification).where(Notification.user_id == company["staff"].id,
                                                        Notification.event == "retros.question_asked"))
    assert told is not None and told.link == f"/training/support/{question.id}"
    # It goes to a seed user of the retro's team, wherever the one who converted it sits.
    assert question.seed_user_id == seed.id
    assert db.session.scalar(select(Notification).where(Notification.user_id == seed.id)) is not None
    page = client.get(f"/retros/{retro.id}").get_data(as_text=True)
    assert f'Question <a href="/training/support/{question.id}" class="alert-link">“客户查重”</a> is asked' in page
    assert "Question: 客户查重 · Awaiting answer" in page
    assert f'action="/retros/convert/card/{card.id}/question"' not in page
    support.answer(question, seed, "在公海页面的“领取记录”里能看到。", publish_as_article=True)
    db.session.commit()
    page = client.get(f"/retros/{retro.id}").get_data(as_text=True)
    assert "Question: 客户查重 · Replied" in page
    summary = client.get(f"/retros/{retro.id}/summary").get_data(as_text=True)
    work = summary[summary.index('data-testid="follow-up-work"'):]
    assert 'Card</span> 客户查重' in work and "Question: 客户查重 · Replied" in work
    assert f'href="/training/faq/{question.article_id}"' in work
    assert f'href="/training/faq/{question.article_id}"' in page


def test_questions_and_articles_refuse_bad_targets_and_hidden_cards(team, company, client_as):
    retro = make_retro(team, company["head"])
    card_id = services.add_card(retro, company["staff"], retro.columns[0].id, "未公开")
    db.session.commit()
    assert client_as("head").post(f"/retros/convert/card/{card_id}/question").status_code == 404
    assert client_as("lead").get(f"/retros/convert/card/{card_id}/faq").status_code == 404
    assert client_as("head").post(f"/retros/convert/card/{card_id}/nothing").status_code == 404
    assert client_as("head").post(f"/retros/convert/thing/{card_id}/question").status_code == 404


def test_next_retro_follows_a_week_later_with_same_setup(team, company, client_as):
    retro = make_retro(team, company["head"], template="custom", custom_columns=["客户", "流程"], is_anonymous=True)
    client = client_as("head")
    assert client.post(f"/retros/{retro.id}/next").status_code == 302
    following = db.session.scalar(select(Retro).where(Retro.id != retro.id))
    assert following.held_on == retro.held_on + timedelta(days=7)
    assert following.is_anonymous and [c.title for c in following.columns] == ["客户", "流程"]
    again = client.post(f"/retros/{retro.id}/next")
    assert again.status_code == 422 and "already exists" in again.get_data(as_text=True)
    assert client_as("staff").post(f"/retros/{retro.id}/next").status_code == 403


def test_decisions_and_releases_flow_back_to_the_retro(team, company):
    pytest.importorskip("changes.signals")
    from types import SimpleNamespace

    from changes import signals
    from changes.models import ChangeRequest

    from rollout.notify.models import Notification
    from rollout.retros import conversions
    retro, card = _revealed_with_card(team, company)
    item = services.add_action_item(retro, "客户查重规则改为名称加手机号", company["staff"].id, None, card.id)
    conversions.to_change_request(item, company["head"])
    request = db.session.scalar(select(ChangeRequest))
    signals.change_decided.send(request, outcome="approved", reason="下个版本上线")
    told = set(db.session.scalars(select(Notification.user_id).where(Notification.event == "retro.change_decided")))
    assert told == {company["head"].id, company["staff"].id}
    signals.release_implemented.send(SimpleNamespace(requests=[request]), affected_roles=[],
                                     affected_department_ids=[], processes=[])
    assert db.session.get(RetroActionItem, item.id).status == DONE


def test_an_action_item_whose_change_went_live_on_its_own_is_done(team, company):
    pytest.importorskip("changes.signals")
    from changes import signals
    from changes.models import ChangeRequest

    from rollout.retros import conversions
    retro, card = _revealed_with_card(team, company)
    item = services.add_action_item(retro, "紧急修复报价单打印", company["staff"].id, None, card.id)
    conversions.to_change_request(item, company["head"])
    request = db.session.scalar(select(ChangeRequest))
    signals.change_implemented.send(request, affected_roles=[], affected_department_ids=[], processes=[])
    assert db.session.get(RetroActionItem, item.id).status == DONE


def test_an_action_items_owner_is_told_and_a_long_title_is_refused(team, company, client_as):
    from rollout.notify.models import Notification
    retro = make_retro(team, company["head"])
    response = client_as("head").post(f"/retros/{retro.id}/actions", data={
        "title": "整理手机记跟进的常见问题", "owner_id": company["staff"].id, "due_on": "2026-12-10"})
    assert response.status_code == 302
    told = db.session.scalars(select(Notification).where(Notification.event == "retros.action_assigned")).all()
    assert [n.user_id for n in told] == [company["staff"].id]
    assert "整理手机记跟进的常见问题" in told[0].subject and "2026-12-10" in told[0].body_markdown
    assert told[0].link == f"/retros/{retro.id}#actions"
    services.add_action_item(retro, "自己领的事", company["head"].id, None, actor=company["head"])
    assert db.session.scalar(select(db.func.count()).select_from(Notification).where(
        Notification.event == "retros.action_assigned")) == 1  # nobody is told of what they took on themselves
    with pytest.raises(ServiceError) as refused:
        services.add_action_item(retro, "长" * 301, None, None)
    assert refused.value.field == "title"


def test_the_owner_finds_their_action_items_on_their_home_page(team, company, client_as):
    retro = make_retro(team, company["head"], held_on=date(2026, 11, 1))
    services.add_action_item(retro, "客户查重规则改为名称加手机号", company["staff"].id, date(2026, 11, 5))
    done = services.add_action_item(retro, "已完成的事", company["staff"].id, None)
    services.transition_action_item(done, "start")
    services.transition_action_item(done, "finish")
    db.session.commit()
    home = client_as("staff").get("/").get_data(as_text=True)
    block = home.split('data-testid="home-action-items"')[1].split("</ul>")[0]
    assert "客户查重规则改为名称加手机号" in block and ">Overdue<" in block and "已完成的事" not in block
    assert 'data-testid="home-action-items"' not in client_as("staff2").get("/").get_data(as_text=True)


def test_an_unfinished_action_item_is_edited_and_its_new_owner_told(team, company, client_as, factory):
    from rollout.notify.models import Notification
    retro, item = _closed_with_action_item(team, company)  # the retro is closed: its items live on
    rep = factory.user("staff", department=team, username="rep2")
    db.session.commit()
    url = f"/retros/actions/{item.id}/edit"
    head = client_as("head")
    assert f'href="{url}"' in head.get(f"/retros/{retro.id}").text
    form = head.get(url).text
    assert 'value="客户查重规则改为名称加手机号"' in form and "2026-12-06" in form
    refused = head.post(url, data={"title": " ", "owner_id": rep.id, "due_on": "2026-11-01"})
    assert refused.status_code == 422
    assert "This field is required." in refused.text and "The due date cannot be before the retro." not in refused.text
    refused = head.post(url, data={"title": "新标题", "owner_id": rep.id, "due_on": "2026-11-01"})
    assert refused.status_code == 422 and "The due date cannot be before the retro." in refused.text
    too_long = head.post(url, data={"title": "x" * 301, "owner_id": rep.id, "due_on": "2026-12-10"})
    assert too_long.status_code == 422
    db.session.expire_all()
    assert (item.title, item.owner_id) == ("客户查重规则改为名称加手机号", company["staff"].id)
    saved = head.post(url, data={"title": "查重规则改为名称加手机号，先在一组试", "owner_id": rep.id,
                                 "due_on": "2026-12-10"})
    assert saved.status_code == 302 and saved.location.endswith(f"/retros/{retro.id}#actions")
    db.session.expire_all()
    assert (item.title, item.owner_id, item.due_on) == ("查重规则改为名称加手机号，先在一组试", rep.id, date(2026, 12, 10))
    told = db.session.scalar(select(Notification).where(Notification.user_id == rep.id,
                                                        Notification.event == "retros.action_assigned"))
    assert told is not None and "查重规则改为名称加手机号，先在一组试" in told.subject
    # The owner it was taken from hears too.
    released = db.session.scalar(select(Notification).where(Notification.user_id == company["staff"].id,
                                                            Notification.event == "retros.action_reassigned"))
    assert released is not None and rep.display_name in released.body_markdown
    # Someone from another department may not; a finished item is kept as it was.
    assert client_as("other_staff").post(url, data={"title": "x", "owner_id": 0}).status_code == 403
    services.transition_action_item(item, "finish")
    db.session.commit()
    assert f'href="{url}"' not in head.get(f"/retros/{retro.id}").text
    finished = head.post(url, data={"title": "改", "owner_id": rep.id, "due_on": "2026-12-10"})
    assert finished.status_code == 303 and "A finished action item is kept as it was." in head.get(
        finished.location).text
    assert item.title == "查重规则改为名称加手机号，先在一组试"


def test_a_retro_belongs_to_its_team_the_team_next_door_neither_reads_nor_runs_it(team, company, client_as,
                                                                                  factory):
    sales2 = company["departments"]["sales2"]
    next_door_head = factory.user("head", department=sales2, username="team2.head")
    own_head = factory.user("head", department=team, username="team1.head")
    retro, card = _revealed_with_card(team, company)
    retro.facilitator_id = own_head.id
    db.session.commit()
    board = f"/retros/{retro.id}"
    for outsider in (next_door_head, company["staff2"]):
        client = client_as(outsider)
        assert client.get(board).status_code == 403
        assert client.post(f"/retros/{retro.id}/cards", data={"column_id": retro.columns[0].id,
                                                              "body": "隔壁组的卡片"}).status_code == 403
        assert client.post(f"/retros/{retro.id}/transition", data={"action": "close"}).status_code == 403
        assert client.post(f"/retros/convert/card/{card.id}/question").status_code == 403
        assert "第12周回顾" not in client.get("/retros/").text
    assert f'<option value="{team.id}"' not in client_as(next_door_head).get("/retros/new").text
    # The team's own head runs it; an action item is owned by one of the team or a head above it.
    own = client_as(own_head).get(board).text
    owners = own[own.index('name="owner_id"'):own.index("</select>", own.index('name="owner_id"'))]
    assert f'<option value="{company["staff"].id}"' in owners and f'<option value="{company["head"].id}"' in owners
    assert f'<option value="{next_door_head.id}"' not in owners and f'<option value="{company["staff2"].id}"' not in owners
    # The department head runs both teams' retros; a trainer reads them and answers in the FAQ.
    trainer = client_as("trainer")
    assert trainer.get(board).status_code == 200
    assert trainer.get(f"/retros/convert/card/{card.id}/faq").status_code == 200
    assert client_as("head").post(f"/retros/{retro.id}/transition", data={"action": "close"}).status_code == 302


def test_a_question_from_an_anonymous_card_goes_to_the_retro_teams_seed_user_whoever_converts_it(
        team, company, factory):
    pytest.importorskip("training.support")
    from rollout.retros import conversions
    seed = factory.user("staff", department=team, username="seed", is_seed_user=True)
    factory.user("staff", department=company["departments"]["marketing"], username="mkt.seed", is_seed_user=True)
    retro = make_retro(team, company["head"], is_anonymous=True)
    card = db.session.get(RetroCard, services.add_card(retro, company["staff"], retro.columns[0].id, "商机阶段能回退吗"))
    services.transition_retro(retro, "reveal")
    from training.models import SupportRequest
    link = conversions.to_support_question(card, company["trainer"])  # a trainer of 市场部
    question = db.session.get(SupportRequest, link.support_request_id)
    assert question.requester_id == company["trainer"].id  # nobody else is known to have asked
    assert question.seed_user_id == seed.id and question.department_id == company["departments"]["sales"].id


def test_the_team_is_invited_to_a_retro_to_come_not_to_one_written_down_afterwards(team, company, factory):
    from rollout.notify.models import Notification
    from rollout.timeutil import local_today
    make_retro(team, company["head"], held_on=local_today() - timedelta(days=3))
    assert db.session.scalar(select(Notification).where(Notification.event == "retros.opened")) is None
    retro = make_retro(team, company["head"], held_on=local_today() + timedelta(days=2))
    invited = set(db.session.scalars(select(Notification.user_id).where(Notification.event == "retros.opened")))
    assert invited == {company["staff"].id}  # 销售一组's only member; the facilitator aside
    assert db.session.scalar(select(Notification.link).where(Notification.event == "retros.opened")) == \
        f"/retros/{retro.id}"


def test_a_card_that_became_work_is_not_removed(team, company):
    pytest.importorskip("changes.services")
    from rollout.retros import conversions
    retro, card = _revealed_with_card(team, company)
    conversions.to_change_request(card, company["head"])
    with pytest.raises(NotAllowed, match="became work"):
        services.delete_card(retro, card, company["head"], is_facilitator=True)
    assert db.session.get(RetroCard, card.id) is not None


def test_an_action_items_owner_hears_when_someone_else_finishes_it(team, company, client_as):
    from rollout.notify.models import Notification
    retro, item = _closed_with_action_item(team, company)
    assert client_as("head").post(f"/retros/actions/{item.id}/transition",
                                  data={"action": "finish", "retro_id": retro.id}).status_code == 302
    told = db.session.scalar(select(Notification).where(Notification.event == "retros.action_closed"))
    assert told.user_id == company["staff"].id and company["head"].display_name in told.body_markdown
    assert told.link == f"/retros/{retro.id}#actions"
