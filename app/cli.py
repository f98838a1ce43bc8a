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
    for error in report.errors:
        reasons = "; ".join(f"{field}: {', '.join(msgs)}" for field, msgs in error["errors"].items())
        click.echo(f"line {error['line']}: {reasons}", err=True)
    click.echo(f"import {report.import_id}: {report.rows} rows, {report.created} created, {report.changed} changed, "
               f"{report.unchanged} unchanged, {report.skipped} skipped (older year), {report.rejected} rejected")


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


def main() -> None:
    cli(prog_name="shuima")


if __name__ == "__main__":
    main()
