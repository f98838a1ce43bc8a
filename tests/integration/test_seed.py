"""`shuima seed`: the load-test population, idempotent, with working logins and expected colors."""

from __future__ import annotations

import json
from pathlib import Path

from app.cli import cli
from app.services import services
from loadtests.seed import BANKS, CLERKS_PER_BANK, LOGINS_FILE, clerk_username, counts, identities, seed


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
    assert report.rehashed == 5 + BANKS * CLERKS_PER_BANK + 1
    password = json.loads((Path(app.instance_path) / LOGINS_FILE).read_text())["password"]
    who = next(identities(1))
    assert client.post("/api/v1/auth/token", json={"username": who.username, "password": password}).status_code == 200


def test_seed_refuses_production_mode(app):
    app.config["ENV"] = "production"
    result = app.test_cli_runner().invoke(cli, ["seed", "--taxpayers", "1"])
    assert result.exit_code != 0 and "production" in result.output
