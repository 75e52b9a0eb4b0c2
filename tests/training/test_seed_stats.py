"""Seed-user figures: each request counts once, in its current state, and the columns say what they count."""
from rollout.extensions import db
from training import support


def _seed(factory, company):
    seed = factory.user("staff", department=company["departments"]["sales1"], is_seed_user=True, username="seed")
    db.session.commit()
    return seed


def test_states_add_up_to_the_requests_received(client_as, company, factory):
    seed = _seed(factory, company)
    lead = company["lead"]
    waiting = support.create_request(company["staff"], "新问题", "")
    escalated = support.create_request(company["staff"], "要升级的问题", "")
    support.escalate(escalated, "不会")
    answered_after_escalation = support.create_request(company["staff"], "升级后由项目组答复", "")
    support.escalate(answered_after_escalation, "不会")
    support.answer(answered_after_escalation, lead, "项目组的答复")
    answered = support.create_request(company["staff"], "种子用户答复", "")
    support.answer(answered, seed, "种子用户的答复")
    solved = support.create_request(company["staff"], "已解决", "")
    support.answer(solved, seed, "答复")
    support.solve(solved, company["staff"])
    reopened = support.create_request(company["staff"], "又出现了", "")
    support.answer(reopened, seed, "答复")
    support.reply(reopened, company["staff"], "还是不行")
    db.session.commit()
    assert waiting.status == "open" and reopened.status == "open"
    [stats] = support.seed_user_stats()
    assert stats.assigned == 6
    assert (stats.open, stats.escalated, stats.answered_waiting, stats.solved) == (2, 1, 2, 1)
    assert stats.open + stats.escalated + stats.answered_waiting + stats.solved == stats.assigned
    assert stats.answered == 3  # the seed user's own answers, whatever became of them

    page = client_as("lead").get("/training/seeds").text
    table = page.split('data-testid="seed-stats"')[1].split("</table>")[0]
    cells = table.split("<tbody>")[1].split("</td>")
    figures = [cell.rsplit(">", 1)[1].strip() for cell in cells[1:8]]
    assert figures == ["6", "2", "1", "2", "1", "3", figures[6]]
    help_text = page.split('id="seed-stats-help"')[1]
    assert "add up to “Received”" in help_text and "opened again by a reply" in help_text
