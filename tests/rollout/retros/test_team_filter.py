"""The retro list filters by team: a row of buttons for a few teams, a drop-down list for many."""
from datetime import date

from rollout.extensions import db
from rollout.retros import services


def _teams_with_retros(factory, company, count, first=0):
    teams = []
    sales, head = (db.session.merge(company["departments"]["sales"]), db.session.merge(company["head"]))
    for number in range(first, first + count):
        team = factory.department(f"华东{number:02d}组", kind="team", parent=sales)
        services.create_retro(team, f"回顾{number:02d}", date(2026, 11, 20), "start_stop_continue", head)
        teams.append(team)
    db.session.commit()
    return teams


def test_a_few_teams_are_buttons(factory, company, client_as):
    teams = _teams_with_retros(factory, company, 3)
    page = client_as("head").get("/retros/").get_data(as_text=True)
    assert 'data-testid="team-filter"' not in page
    assert f'href="/retros/?team={teams[0].id}"' in page and f'href="/retros/teams/{teams[0].id}"' in page


def test_many_teams_are_one_list_and_the_chosen_team_is_kept(factory, company, client_as):
    teams = _teams_with_retros(factory, company, 40)
    client = client_as("lead")
    page = client.get("/retros/").get_data(as_text=True)
    assert 'data-testid="team-filter"' in page and "All teams (40)" in page
    assert page.count('<option value="') == 41  # all teams, and each team once
    assert "/retros/?team=" not in page and "/retros/teams/" not in page  # no wall of buttons and links
    chosen = teams[7]
    page = client.get(f"/retros/?team={chosen.id}").get_data(as_text=True)
    assert f'<option value="{chosen.id}" selected>' in page
    assert "回顾07" in page and "回顾08" not in page
    assert f'href="/retros/teams/{chosen.id}"' in page  # the trends of the chosen team


def test_the_list_shows_only_teams_the_user_may_see(factory, company, client_as):
    _teams_with_retros(factory, company, 8)
    services.create_retro(company["departments"]["marketing"], "市场部回顾", date(2026, 11, 20),
                          "start_stop_continue", company["other_head"])
    db.session.commit()
    page = client_as("head").get("/retros/").get_data(as_text=True)
    assert "All teams (8)" in page and "市场部" not in page


def test_a_team_that_is_not_a_number_shows_all(factory, company, client_as):
    _teams_with_retros(factory, company, 8)
    response = client_as("lead").get("/retros/?team=abc")
    assert response.status_code == 200 and "回顾07" in response.get_data(as_text=True)


def test_statements_do_not_grow_with_teams(factory, company, client_as, count_statements):
    _teams_with_retros(factory, company, 2)
    client = client_as("lead")
    db.session.remove()
    with count_statements() as few:
        client.get("/retros/")
    _teams_with_retros(factory, company, 30, first=2)
    db.session.remove()
    with count_statements() as many:
        client.get("/retros/")
    assert few.count == many.count
