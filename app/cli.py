"""The ``shuima`` command line: a Flask CLI group over the same settings as the server.

Run from another terminal while ``make run`` is up, it finds the same database (same
settings) and the same Redis (``REDIS_URL``, or the embedded server's ``instance/valkey.url``).
With neither, a command gets a private embedded Valkey for its own lifetime.
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup

from app.accounts.domain import Role


def _cli_app() -> Flask:
    from app import create_app, embedded_redis
    from app.config import load_config

    settings = load_config()
    if not settings["REDIS_URL"] and not embedded_redis.running_url(settings["INSTANCE_PATH"]):
        server = embedded_redis.start()
        atexit.register(server.stop)
        os.environ["REDIS_URL"] = server.connection_url
    return create_app()


@click.group(cls=FlaskGroup, create_app=_cli_app, add_default_commands=False, add_version_option=False)
def cli() -> None:
    """Shuima (税码) administration."""


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    from app.migrate import upgrade

    upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database at {revision}")


@cli.group()
def users() -> None:
    """User accounts."""


@users.command("create")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--username", required=True)
@click.option("--uscc", help="taxpayer accounts: the USCC the account acts for")
@click.option("--bank", "bank_code", help="clerk/officer accounts: bank code (a new code creates the bank)")
@click.option("--bank-name", help="name for a bank created by --bank")
@click.option("--county", "county_code", help="officer accounts: county code")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def users_create(role: str, username: str, uscc: str | None, bank_code: str | None, bank_name: str | None,
                 county_code: str | None, password_stdin: bool) -> None:
    """Create a user; the password comes from a prompt or --password-stdin."""
    from app.accounts.service import create_user
    from app.errors import DomainError
    from app.services import services

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    s = services()
    try:
        user = create_user(username, password, role=Role(role), uscc=uscc, bank_code=bank_code, bank_name=bank_name,
                           county_code=county_code, uow=s.uow(), passwords=s.passwords)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"created {user.role} {user.username}")


@users.command("deactivate")
@click.argument("username")
def users_deactivate(username: str) -> None:
    """Refuse USERNAME's log-ins now and its live access tokens within seconds."""
    _set_active(username, False)


@users.command("activate")
@click.argument("username")
def users_activate(username: str) -> None:
    """Admit USERNAME's log-ins again (tokens issued before a deactivation stay refused)."""
    _set_active(username, True)


def _set_active(username: str, active: bool) -> None:
    from app.accounts.service import set_active
    from app.clock import LOCAL_TZ
    from app.errors import DomainError
    from app.services import services

    s = services()
    try:
        user, changed = set_active(username, active, uow=s.uow(), clock=s.clock)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    who = f"{user.role} {user.username}"
    if active:
        click.echo(f"{who} is active again: it must log in again (tokens from before the deactivation stay refused)"
                   if changed else f"{who} is already active")
    elif changed:
        seconds = current_app.config["REVOCATION_REFRESH_SECONDS"]
        click.echo(f"{who} is deactivated: log-ins are refused now, its access tokens within {seconds} s")
    else:
        since = user.deactivated_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if user.deactivated_at else "?"
        click.echo(f"{who} was already deactivated (since {since}, Beijing time)")


@cli.group()
def grades() -> None:
    """Tax-credit grades."""


@grades.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--by", "imported_by", default="cli", show_default=True, help="who is recorded as the importer")
def grades_import(file: Path, imported_by: str) -> None:
    """Bulk-load grades from a CSV FILE (see README for the columns)."""
    from app.errors import DomainError
    from app.services import services
    from app.taxpayers.importer import import_grades

    s = services()
    with click.progressbar(length=1, label="importing", show_pos=True, file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        try:
            report = import_grades(file.read_bytes(), filename=file.name, imported_by=imported_by, uow=s.uow(),
                                   cache=s.status_cache, clock=s.clock, chunk_rows=s.import_chunk_rows,
                                   progress=progress)
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
    _echo_bad_lines(report.errors)
    for held in report.held:
        click.echo(f"line {held['line']}: held, {held['reason']}", err=True)
    click.echo(f"import {report.import_id}: {report.rows} rows, {report.created} created, {report.changed} changed, "
               f"{report.unchanged} unchanged, {report.skipped} skipped (older year or held), "
               f"{report.rejected} rejected")


def _echo_bad_lines(errors: list[dict]) -> None:
    """One stderr line per rejected CSV line: its number and every field's reasons."""
    for error in errors:
        reasons = "; ".join(f"{field}: {', '.join(msgs)}" for field, msgs in error["errors"].items())
        click.echo(f"line {error['line']}: {reasons}", err=True)


@cli.group()
def keys() -> None:
    """Code-signing keys."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Add a new signing key; older public keys stay published until their tokens expire."""
    from app.codes.keys import create_key
    from app.extensions import db as database
    from app.services import services

    s = services()
    with database.session() as session:
        kid = create_key(session, secret=current_app.config["SECRET_KEY"], now=s.clock.now())
        session.commit()
    click.echo(f"new signing key {kid}")


@cli.group()
def events() -> None:
    """Domain events (the outbox)."""


@events.command("replay")
def events_replay() -> None:
    """Enqueue events whose worker-side subscribers have not run (e.g. after a Redis outage)."""
    from app.events import bus
    from app.extensions import db as database

    with database.session() as session:
        count = bus.replay(session)
    click.echo(f"enqueued {count} pending event(s)")


@cli.command("seed-demo")
def seed_demo_command() -> None:
    """Create the demo population (idempotent) and print the logins."""
    from app.demo import seed_demo
    from app.services import services

    for line in seed_demo(services()):
        click.echo(line)


@cli.command("seed")
@click.option("--taxpayers", type=click.IntRange(min=1), default=300_000, show_default=True,
              help="how many taxpayers (each with an account)")
def seed_command(taxpayers: int) -> None:
    """Seed the load-test population (idempotent): taxpayers, their accounts, 200 banks with clerks.

    Development and load-test machines only (refused with SHUIMA_ENV=production): every seeded
    account shares one generated password, kept in instance/seed_logins.json.
    """
    import time

    from app.services import services

    if current_app.config["ENV"] == "production":
        raise click.ClickException("refusing to seed load-test accounts in production mode")
    try:
        from loadtests.seed import seed
    except ImportError as exc:  # an installed wheel ships app/ only; seeding runs from the repository
        raise click.ClickException(f"run from the repository checkout (needs loadtests/): {exc}") from exc

    def progress(stage: str, done: int, total: int) -> None:
        click.echo(f"\r  {stage:<10} {done:>9,}/{total:,}", nl=done >= total, err=True)

    started = time.perf_counter()
    report = seed(services(), taxpayers=taxpayers, instance_path=current_app.instance_path, progress=progress)
    click.echo(f"taxpayers: {report.taxpayers_created} created, {report.taxpayers_kept} already there; "
               f"accounts: {report.accounts_created} created; banks: {report.banks_created} created"
               + (f"; {report.rehashed} accounts given the new password" if report.rehashed else ""))
    for line in report.lines:
        click.echo(line)
    timings = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in report.timings.items())
    click.echo(f"seeded in {time.perf_counter() - started:.1f} s ({timings}); "
               f"password of every lt-* account: {current_app.instance_path}/seed_logins.json")


@cli.group()
def rural() -> None:
    """Rural credit: households, loans and ratings of one officer's county."""


def _rural_import(kind: str, file: Path, officer: str) -> None:
    from app.errors import DomainError
    from app.rural.context import actor_for_username, rural as rural_context
    from app.rural.importer import import_households
    from app.rural.loans import import_loans
    from app.services import services

    s = services()
    run = import_households if kind == "households" else import_loans
    with click.progressbar(length=1, label=f"importing {kind}", show_pos=True, file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        try:
            actor = actor_for_username(officer, s.uow())
            report = run(file.read_bytes(), filename=file.name, actor=actor, uow=s.uow(), clock=s.clock,
                         ctx=rural_context(), progress=progress)
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
    _echo_bad_lines(report.errors)
    click.echo(f"import {report.import_id}: {report.rows} rows, {report.created} created, {report.changed} changed, "
               f"{report.unchanged} unchanged, {report.rejected} rejected")


@rural.group("households")
def rural_households() -> None:
    """Household files (建档)."""


@rural_households.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--officer", required=True, help="the officer account the households are filed for")
def rural_households_import(file: Path, officer: str) -> None:
    """File households from a CSV FILE into the officer's county (see README for the columns)."""
    _rural_import("households", file, officer)


@rural.group("loans")
def rural_loans() -> None:
    """The bank's loan balances."""


@rural_loans.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--officer", required=True, help="the officer account (its bank and county) the loans belong to")
def rural_loans_import(file: Path, officer: str) -> None:
    """Load loan balances from a CSV FILE (loan_no,id_number,amount,balance,days_overdue,issued_on[,as_of])."""
    _rural_import("loans", file, officer)


@rural.command("rate")
@click.option("--officer", required=True)
@click.option("--village", "village_code", help="only this village")
@click.option("--confirm", is_flag=True, help="confirm the ratings whose public notice has ended instead")
def rural_rate(officer: str, village_code: str | None, confirm: bool) -> None:
    """Propose ratings for every unrated household (or, with --confirm, confirm those past their notice)."""
    from app.errors import DomainError
    from app.rural.context import actor_for_username, rural as rural_context
    from app.rural.ratings import confirm_due_ratings, propose_ratings
    from app.services import services

    s = services()
    try:
        actor = actor_for_username(officer, s.uow())
        run = confirm_due_ratings if confirm else propose_ratings
        result = run(None, village_code=village_code, actor=actor, uow=s.uow(), clock=s.clock, ctx=rural_context())
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(", ".join(f"{count} {what}" for what, count in result.items()))


def main() -> None:
    cli(prog_name="shuima")


if __name__ == "__main__":
    main()
