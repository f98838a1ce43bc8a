"""`shuima seed`: the load-test population, idempotent, with working logins and expected colors."""

from __future__ import annotations

import collections
import json
from pathlib import Path

from sqlalchemy import select

from app.cli import cli
from app.services import services
from app.taxpayers.models import Taxpayer
from loadtests.population import population
from loadtests.seed import (
    BANKS, CLERKS_PER_BANK, LOGINS_FILE, clerk_username, counts, identities, officer_username, rural_counts,
    rural_scale, seed, village_codes,
)


def test_seed_creates_the_population_once_and_a_second_run_changes_nothing(app):
    with app.app_context():
        first = seed(services(), taxpayers=60, instance_path=app.instance_path)
        after_first = counts(services())
        second = seed(services(), taxpayers=60, instance_path=app.instance_path)
        after_second = counts(services())
    staff = BANKS * CLERKS_PER_BANK + 1  # the clerks and lt-admin
    assert (first.taxpayers_created, first.accounts_created, first.banks_created) == (60, 60 + staff, BANKS)
    assert after_first == {"taxpayers": 60, "taxpayer_accounts": 60, "clerks": BANKS * CLERKS_PER_BANK, "banks": BANKS}
    second_counts = (second.taxpayers_created, second.taxpayers_kept, second.accounts_created, second.banks_created)
    assert second_counts == (0, 60, 0, 0)
    assert after_second == after_first


def test_seed_grows_the_population_without_touching_what_is_there(app):
    with app.app_context():
        seed(services(), taxpayers=20, instance_path=app.instance_path)
        grown = seed(services(), taxpayers=50, instance_path=app.instance_path)
        assert counts(services())["taxpayer_accounts"] == 50
    assert (grown.taxpayers_created, grown.taxpayers_kept, grown.accounts_created) == (30, 20, 30)


def test_seeded_accounts_log_in_with_the_shared_password_and_show_the_expected_color(app, client):
    result = app.test_cli_runner().invoke(cli, ["seed", "--taxpayers", "40"])
    assert result.exit_code == 0, result.output
    assert "taxpayers: 40 created" in result.output
    password = json.loads((Path(app.instance_path) / LOGINS_FILE).read_text())["password"]
    checked = set()
    for who in identities(40):
        if who.color in checked:
            continue
        login = client.post("/api/v1/auth/token", json={"username": who.username, "password": password})
        assert login.status_code == 200, login.json
        code = client.get("/api/v1/me/code", headers={"Authorization": f"Bearer {login.json['access_token']}"}).json
        assert (code["color"], code["grade"], code["state"]) == (who.color, who.grade, who.state)
        checked.add(who.color)
    assert {"gold", "silver", "green"} <= checked
    clerk = client.post("/api/v1/auth/token", json={"username": clerk_username(BANKS, CLERKS_PER_BANK),
                                                     "password": password})
    assert clerk.status_code == 200


def test_a_lost_password_file_gives_the_seeded_accounts_a_new_password(app, client):
    with app.app_context():
        seed(services(), taxpayers=5, instance_path=app.instance_path)
        (Path(app.instance_path) / LOGINS_FILE).unlink()
        report = seed(services(), taxpayers=5, instance_path=app.instance_path)
    assert report.rehashed == 5 + BANKS * CLERKS_PER_BANK + 1 + 1  # … and the rural officer
    password = json.loads((Path(app.instance_path) / LOGINS_FILE).read_text())["password"]
    who = next(identities(1))
    assert client.post("/api/v1/auth/token", json={"username": who.username, "password": password}).status_code == 200


def test_seed_refuses_production_mode(app):
    app.config["ENV"] = "production"
    result = app.test_cli_runner().invoke(cli, ["seed", "--taxpayers", "1"])
    assert result.exit_code != 0 and "production" in result.output


def test_seed_files_a_rural_county_with_an_officer_once(app, client):
    scale = rural_scale(60)
    (county, _name), = scale.counties
    assert (scale.villages_per_county, scale.households_per_village) == (100, 2)
    with app.app_context():
        first = seed(services(), taxpayers=60, instance_path=app.instance_path)
        after_first = rural_counts(services())
        second = seed(services(), taxpayers=60, instance_path=app.instance_path)
        assert rural_counts(services()) == after_first
    assert after_first == {"counties": 1, "villages": 100, "households": 200, "officers": 1}
    assert "111 places created, households 200 created / 0 unchanged" in first.lines[0]
    assert "0 places created, households 0 created / 200 unchanged / 0 changed" in second.lines[0]
    assert "seed_rural" in first.timings

    password = json.loads((Path(app.instance_path) / LOGINS_FILE).read_text())["password"]
    login = client.post("/api/v1/auth/token", json={"username": officer_username(county), "password": password})
    assert login.status_code == 200, login.json
    headers = {"Authorization": f"Bearer {login.json['access_token']}"}
    village = village_codes(county)[0]
    page = client.get(f"/api/v1/rural/households?village_code={village}&rated=false", headers=headers)
    assert page.status_code == 200 and len(page.json) == 2
    rating = client.post(f"/api/v1/rural/households/{page.json[0]['id']}/ratings", headers=headers)
    assert rating.status_code == 201, rating.json
    assert rating.json["state"] == "proposed"
    status = client.get(f"/api/v1/rural/places/{village}/status", headers=headers)
    assert status.status_code == 200 and status.json["level"] == "village"


def test_the_rural_part_grows_with_the_taxpayers_without_moving_households():
    assert [len(rural_scale(n).counties) for n in (1, 100_000, 100_001, 300_000, 10**7)] == [1, 1, 2, 3, 3]
    assert rural_scale(300_000).households_per_county == 10_000


def test_seed_reports_progress_to_the_end_of_each_stage(app):
    seen: dict[str, tuple[int, int]] = {}
    with app.app_context():
        seed(services(), taxpayers=30, instance_path=app.instance_path,
             progress=lambda stage, done, total: seen.__setitem__(stage, (done, total)))
    county = rural_scale(30).counties[0][0]
    assert seen["taxpayers"] == (30, 30)
    assert seen["accounts"][0] == seen["accounts"][1] > 30  # the firms' accounts, the clerks and lt-admin
    assert seen[f"rural {county}"][0] == seen[f"rural {county}"][1] > 0


def test_seeded_grades_and_states_are_the_populations(app):
    with app.app_context():
        seed(services(), taxpayers=400, instance_path=app.instance_path)
        with services().uow() as uow:
            stored = collections.Counter(
                (grade or "", state) for grade, state in uow.session.execute(select(Taxpayer.grade, Taxpayer.state)))
    assert stored == collections.Counter((row["grade"], row["state"]) for row in population(400))
