"""The load-test population: ``shuima seed --taxpayers N``.

What it creates, all idempotent (a second run changes nothing and takes a few seconds):

- N taxpayers from ``loadtests.population`` (valid USCCs, the grade mix, a few thousand
  unrated / suspended / blacklisted), loaded through the ordinary bulk importer;
- one taxpayer account per firm, username ``lt-tp-<index>`` (``index`` is the firm's
  position in the population, so a load generator knows a user's USCC and expected grade
  without asking the database: ``identity(index)``);
- ``BANKS`` banks ``LT-BANK-001``… with ``CLERKS_PER_BANK`` clerks each, ``lt-clerk-<bank>-<k>``,
  and one ``lt-admin`` tax-bureau account;
- whatever the registered ``SEEDERS`` add (rural counties, villages and households once the
  rural module lands: see the EXTENSION POINT below).

Passwords. Hashing 300,000 distinct argon2id passwords at the production cost (~0.1 s each)
would take over 8 CPU-hours, so every seeded account shares ONE generated password, hashed
ONCE per run with the production settings and bulk-inserted. It is kept in
``<instance>/seed_logins.json`` (owner-readable, git-ignored with the rest of ``instance/``)
and reused by later runs and by the load generator. If that file is lost, the next run
generates a new password and re-hashes the seeded accounts in one UPDATE. Production hashing
is untouched: the cost comes from the app's settings, and the command refuses to run with
``SHUIMA_ENV=production``.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

from sqlalchemy import func, insert, select, update

from app.accounts.domain import Role
from app.accounts.models import Bank, User
from app.codes.domain import color_for
from app.db import utcnow
from app.services import Services
from app.taxpayers.domain import Grade, State
from app.taxpayers.importer import import_grades
from app.taxpayers.models import Taxpayer
from loadtests.population import population, population_csv, uscc_for

#: Banks and clerks (issue 5: 200 banks with clerks).
BANKS = 200
CLERKS_PER_BANK = 5
TAXPAYER_PREFIX = "lt-tp-"
CLERK_PREFIX = "lt-clerk-"
ADMIN_USERNAME = "lt-admin"
LOGINS_FILE = "seed_logins.json"
#: Rows per bulk INSERT of accounts.
USER_BATCH = 10_000

Progress = Callable[[str, int, int], None]


def taxpayer_username(index: int) -> str:
    """The account of the ``index``-th firm of the population (0-based)."""
    return f"{TAXPAYER_PREFIX}{index:06d}"


def bank_code(number: int) -> str:
    """Bank ``number`` (1-based) of the seeded banks."""
    return f"LT-BANK-{number:03d}"


def clerk_username(bank: int, k: int) -> str:
    """Clerk ``k`` (1-based) of bank ``bank`` (1-based)."""
    return f"{CLERK_PREFIX}{bank:03d}-{k}"


@dataclass(frozen=True)
class Identity:
    """What a load generator needs to act as, and check, one seeded taxpayer."""

    index: int
    username: str
    uscc: str
    grade: str | None
    state: str
    color: str


def identities(count: int) -> Iterator[Identity]:
    """The seeded taxpayers with their expected color, in population order (no database)."""
    for index, row in enumerate(population(count)):
        grade = Grade(row["grade"]) if row["grade"] else None
        state = State(row["state"])
        yield Identity(index, taxpayer_username(index), row["uscc"], row["grade"] or None, row["state"],
                       color_for(grade, state).value)


class Seeder(Protocol):
    """An extra step of ``seed``: receives the services and the taxpayer count, yields report lines."""

    def __call__(self, s: Services, *, taxpayers: int, password_hash: str, progress: Progress) -> Iterable[str]: ...


# EXTENSION POINT (rural, issue 4): append a Seeder here that creates counties, villages and
# households (and officer accounts ``lt-officer-<county>-<k>`` bound to the seeded banks, using
# ``password_hash`` so the load generator can log in) through the rural bulk importer, idempotently.
# The locustfile's EXTENSION POINT for officers then draws from them.
SEEDERS: list[Seeder] = []


@dataclass
class SeedReport:
    taxpayers_created: int = 0
    taxpayers_kept: int = 0
    accounts_created: int = 0
    banks_created: int = 0
    rehashed: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


def _logins(instance_path: str) -> tuple[str, bool]:
    """The shared password of seeded accounts, and whether it was just generated."""
    path = Path(instance_path) / LOGINS_FILE
    if path.exists():
        return json.loads(path.read_text())["password"], False
    password = secrets.token_urlsafe(12)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"password": password, "note": "shared by every lt-* account made by `shuima seed`"}, handle)
    return password, True


def read_password(instance_path: str) -> str:
    """The shared password of the seeded accounts (for load generators)."""
    return json.loads((Path(instance_path) / LOGINS_FILE).read_text())["password"]


def seed(s: Services, *, taxpayers: int, instance_path: str, progress: Progress | None = None) -> SeedReport:
    """Create (or complete) the load-test population; safe to run again."""
    report = SeedReport()
    progress = progress or (lambda _stage, _done, _total: None)
    password, fresh = _logins(instance_path)
    password_hash = s.passwords.hash(password)  # once per run, at the configured (production) cost

    started = time.perf_counter()
    data = population_csv(taxpayers)
    imported = import_grades(data, filename=f"seed-{taxpayers}.csv", imported_by="seed", uow=s.uow(),
                             cache=s.status_cache, clock=s.clock, chunk_rows=s.import_chunk_rows,
                             progress=lambda done, total: progress("taxpayers", done, total))
    if imported.rejected:
        raise RuntimeError(f"seed population has {imported.rejected} bad lines: {imported.errors[:3]}")
    report.taxpayers_created, report.taxpayers_kept = imported.created, imported.unchanged + imported.changed
    report.timings["taxpayers"] = time.perf_counter() - started

    started = time.perf_counter()
    with s.uow() as uow:
        session = uow.session
        if fresh:  # the password file was lost: existing seeded accounts get the new password
            result = session.execute(update(User).where(User.username.like("lt-%")).values(password_hash=password_hash))
            report.rehashed = result.rowcount or 0
        existing_banks = dict(session.execute(select(Bank.code, Bank.id).where(Bank.code.like("LT-BANK-%"))).all())
        missing_banks = [n for n in range(1, BANKS + 1) if bank_code(n) not in existing_banks]
        if missing_banks:
            now = utcnow()
            session.execute(insert(Bank), [{"code": bank_code(n), "name": f"压测银行{n:03d}", "created_at": now}
                                           for n in missing_banks])
            report.banks_created = len(missing_banks)
            existing_banks = dict(session.execute(select(Bank.code, Bank.id).where(Bank.code.like("LT-BANK-%"))).all())
        taken = set(session.scalars(select(User.username).where(User.username.like("lt-%"))))
        wanted = _accounts(taxpayers, existing_banks)
        missing = [row for row in wanted if row["username"] not in taken]
        # A taxpayer row must exist for each account (foreign key): the import above made them.
        now = utcnow()
        for start in range(0, len(missing), USER_BATCH):
            batch = missing[start:start + USER_BATCH]
            session.execute(insert(User), [row | {"password_hash": password_hash, "active": True, "created_at": now}
                                           for row in batch])
            progress("accounts", start + len(batch), len(missing))
        report.accounts_created = len(missing)
        uow.commit()
    report.timings["accounts"] = time.perf_counter() - started

    for seeder in SEEDERS:
        started = time.perf_counter()
        report.lines.extend(seeder(s, taxpayers=taxpayers, password_hash=password_hash, progress=progress))
        report.timings[getattr(seeder, "__name__", "extension")] = time.perf_counter() - started
    return report


def _accounts(taxpayers: int, banks: dict[str, int]) -> list[dict]:
    rows: list[dict] = [{"username": taxpayer_username(i), "role": Role.TAXPAYER.value, "uscc": uscc_for(i + 1),
                         "bank_id": None, "county_code": None} for i in range(taxpayers)]
    for n in range(1, BANKS + 1):
        rows.extend({"username": clerk_username(n, k), "role": Role.CLERK.value, "uscc": None,
                     "bank_id": banks[bank_code(n)], "county_code": None} for k in range(1, CLERKS_PER_BANK + 1))
    rows.append({"username": ADMIN_USERNAME, "role": Role.TAX_ADMIN.value, "uscc": None, "bank_id": None,
                 "county_code": None})
    return rows


def counts(s: Services) -> dict[str, int]:
    """How many seeded taxpayers, accounts and banks the database holds (for tests and the runner)."""
    with s.uow() as uow:
        session = uow.session
        return {
            "taxpayers": session.scalar(select(func.count()).select_from(Taxpayer)) or 0,
            "taxpayer_accounts": session.scalar(select(func.count()).select_from(User)
                                                .where(User.username.like(f"{TAXPAYER_PREFIX}%"))) or 0,
            "clerks": session.scalar(select(func.count()).select_from(User)
                                     .where(User.username.like(f"{CLERK_PREFIX}%"))) or 0,
            "banks": session.scalar(select(func.count()).select_from(Bank).where(Bank.code.like("LT-BANK-%"))) or 0,
        }
