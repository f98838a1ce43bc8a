"""The `shuima` command line against the same database and Redis as the server."""

from __future__ import annotations

import json
from pathlib import Path

from app.cli import cli
from tests.factories import make_uscc


def run(app, *args: str, input: str | None = None):
    return app.test_cli_runner().invoke(cli, list(args), input=input)


def test_users_create_reads_password_from_stdin_and_creates_the_bank(app, client):
    result = run(app, "users", "create", "--role", "clerk", "--username", "teller1", "--bank", "ICBC-NB",
                 "--password-stdin", input="s3cret-password\n")
    assert result.exit_code == 0, result.output
    login = client.post("/api/v1/auth/token", json={"username": "teller1", "password": "s3cret-password"})
    assert login.status_code == 200


def test_users_create_refuses_a_clerk_without_bank_and_a_bad_uscc(app):
    no_bank = run(app, "users", "create", "--role", "clerk", "--username", "x1", "--password-stdin", input="password1\n")
    assert no_bank.exit_code != 0 and "bound to a bank" in no_bank.output
    bad = run(app, "users", "create", "--role", "taxpayer", "--username", "x2", "--uscc", "91350100M000100Y44",
              "--password-stdin", input="password1\n")
    assert bad.exit_code != 0 and "check character" in bad.output


def test_users_create_refuses_an_officer_county_that_is_not_a_county_code_and_creates_nothing(app, client):
    for typo in ("33028", "330283001", "33O283"):
        bad = run(app, "users", "create", "--role", "officer", "--username", "officer-x", "--bank", "B1",
                  "--county", typo, "--password-stdin", input="password1\n")
        assert bad.exit_code != 0 and "county:" in bad.output and "6 位数字" in bad.output, bad.output
    assert client.post("/api/v1/auth/token", json={"username": "officer-x", "password": "password1"}).status_code == 401
    # a well-formed county that nobody has filed yet is accepted: the rural admin may file it later
    good = run(app, "users", "create", "--role", "officer", "--username", "officer-x", "--bank", "B1",
               "--county", "330299", "--password-stdin", input="password1\n")
    assert good.exit_code == 0, good.output


def test_grades_import_reports_bad_lines_and_totals(app, tmp_path: Path):
    csv = tmp_path / "grades.csv"
    csv.write_text(f"uscc,name,grade,year\n{make_uscc(1)},甲有限公司,A,2025\nBAD,乙有限公司,B,2025\n", encoding="utf-8")
    result = run(app, "grades", "import", str(csv))
    assert result.exit_code == 0, result.output
    assert "line 3: uscc: must be 18 characters, got 3" in result.output
    assert "2 rows, 1 created, 0 changed, 0 unchanged, 0 skipped (older year or held), 1 rejected" in result.output


def test_grades_import_names_each_held_line_and_counts_it_skipped(app, factory, client, clock, tmp_path: Path):
    from app.taxpayers.importer import HELD_REASON

    uscc = make_uscc(2)
    annual = tmp_path / "annual.csv"
    annual.write_text(f"uscc,name,grade,year\n{uscc},甲有限公司,B,2025\n", encoding="utf-8")
    assert run(app, "grades", "import", str(annual)).exit_code == 0
    clock.advance(minutes=5)
    admin = factory.as_admin()
    direct_d = {"grade": "D", "year": 2025, "reason": "直接判级"}
    assert client.put(f"/api/v1/taxpayers/{uscc}/grade", headers=admin, json=direct_d).status_code == 200
    clock.advance(minutes=5)
    again = run(app, "grades", "import", str(annual))
    assert again.exit_code == 0, again.output
    assert f"line 2: held, {HELD_REASON}" in again.output
    assert "1 rows, 0 created, 0 changed, 0 unchanged, 1 skipped (older year or held), 0 rejected" in again.output
    assert client.get(f"/api/v1/taxpayers/{uscc}", headers=admin).json["grade"] == "D"


def test_keys_rotate_publishes_a_second_key(app, client):
    run(app, "keys", "rotate")
    result = run(app, "keys", "rotate")
    assert result.exit_code == 0 and result.output.startswith("new signing key ")
    assert len(client.get("/.well-known/jwks.json").json["keys"]) == 2


def test_seed_demo_is_idempotent_and_its_logins_work(app, client):
    first = run(app, "seed-demo")
    second = run(app, "seed-demo")
    assert first.exit_code == second.exit_code == 0, first.output
    assert "8 created" in first.output and "8 unchanged" in second.output
    passwords = json.loads((Path(app.instance_path) / "demo_logins.json").read_text())
    assert first.output.splitlines()[-11:] == second.output.splitlines()[-11:]
    colors = {}
    for username in ("firm-a", "firm-b", "firm-m", "firm-c", "firm-d", "firm-unrated", "firm-suspended",
                     "firm-blacklisted"):
        token = client.post("/api/v1/auth/token", json={"username": username, "password": passwords[username]}).json
        code = client.get("/api/v1/me/code", headers={"Authorization": f"Bearer {token['access_token']}"}).json
        colors[username] = code["color"]
    assert colors == {"firm-a": "gold", "firm-b": "silver", "firm-m": "green", "firm-c": "blue", "firm-d": "red",
                      "firm-unrated": "grey", "firm-suspended": "slate", "firm-blacklisted": "red"}
    for staff in ("admin", "clerk", "officer"):
        assert client.post("/api/v1/auth/token", json={"username": staff, "password": passwords[staff]}).status_code == 200


def test_cli_finds_the_embedded_valkey_that_make_run_published(database_url, tmp_path, monkeypatch):
    """`shuima …` in a second terminal talks to the same Redis as the running `make run`."""
    from app import embedded_redis
    from app.cli import _cli_app

    instance = str(tmp_path / "instance")
    server = embedded_redis.start(instance, publish=True)
    try:
        monkeypatch.delenv("REDIS_URL", raising=False)
        monkeypatch.setenv("SHUIMA_INSTANCE_PATH", instance)
        monkeypatch.setenv("DATABASE_URL", database_url)
        assert _cli_app().config["REDIS_URL"] == server.connection_url
    finally:
        embedded_redis.unpublish(instance)
        server.stop()
    assert embedded_redis.running_url(instance) is None
