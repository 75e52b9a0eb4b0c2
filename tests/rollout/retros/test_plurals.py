"""Counts of one on the retro pages read in the singular in English."""
from datetime import date

from rollout.extensions import db
from rollout.retros import services
from rollout.retros.models import RetroCard


def test_one_card_and_one_dot_read_in_the_singular(company, client_as):
    team = company["departments"]["sales1"]
    retro = services.create_retro(team, "第12周回顾", date(2026, 11, 20), "start_stop_continue", company["head"],
                                  vote_budget=1)
    card_id = services.add_card(retro, company["staff"], retro.columns[0].id, "客户查重")
    db.session.commit()
    facilitator = client_as("head")
    assert "1 card written so far." in facilitator.get(f"/retros/{retro.id}").get_data(as_text=True)
    summary = facilitator.get(f"/retros/{retro.id}/summary").get_data(as_text=True)
    assert "1 card is still hidden until the facilitator reveals it." in summary

    services.transition_retro(retro, "reveal")
    db.session.commit()
    card = db.session.get(RetroCard, card_id)
    client = client_as("staff")
    assert client.post(f"/retros/{retro.id}/cards/{card.id}/vote").status_code == 302
    response = client.post(f"/retros/{retro.id}/cards/{card.id}/vote")
    assert response.status_code == 422 and "You have used your 1 dot." in response.get_data(as_text=True)
