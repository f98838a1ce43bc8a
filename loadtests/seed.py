"""The load-test population: ``shuima seed --taxpayers N``.

What it creates, all idempotent (a second run changes nothing and takes a few seconds):

- N taxpayers from ``loadtests.population`` (valid USCCs, the grade mix, a few thousand
  unrated / suspended / blacklisted), loaded through the ordinary bulk importer;
- one taxpayer account per firm, username ``lt-tp-<index>`` (``index`` is the firm's
  position in the population, so a load generator knows a user's USCC and expected grade
  without asking the database: ``identities(N)``, or ``identity(index, row)``);
- ``BANKS`` banks ``LT-BANK-001``… with ``CLERKS_PER_BANK`` clerks each, ``lt-clerk-<bank>-<k>``,
  and one ``lt-admin`` tax-bureau account;
- whatever the registered ``SEEDERS`` add: ``seed_rural`` files one county per 100,000 taxpayers
  (at most three; 10 townships × 10 villages each) with up to 100 households per village through
  the rural CSV importer, and one officer per county, ``lt-officer-<county>`` (``rural_scale``).

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
from app.db import bulk_insert, utcnow
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


def clerk_usernames() -> list[str]:
    """Every seeded clerk, bank by bank."""
    return [clerk_username(b, k) for b in range(1, BANKS + 1) for k in range(1, CLERKS_PER_BANK + 1)]


@dataclass(frozen=True)
class Identity:
    """What a load generator needs to act as, and check, one seeded taxpayer."""

    index: int
    username: str
    uscc: str
    grade: str | None
    state: str
    color: str


def identity(index: int, row: dict[str, str]) -> Identity:
    """The seeded taxpayer made from the ``index``-th population ``row``, with its expected color."""
    grade = Grade(row["grade"]) if row["grade"] else None
    return Identity(index, taxpayer_username(index), row["uscc"], row["grade"] or None, row["state"],
                    color_for(grade, State(row["state"])).value)


def identities(count: int) -> Iterator[Identity]:
    """The seeded taxpayers with their expected color, in population order (no database)."""
    for index, row in enumerate(population(count)):
        yield identity(index, row)


class Seeder(Protocol):
    """An extra step of ``seed``: receives the services and the taxpayer count, yields report lines."""

    def __call__(self, s: Services, *, taxpayers: int, password_hash: str, progress: Progress) -> Iterable[str]: ...


# --- rural credit (issue 4) -------------------------------------------------------------------

#: Ningbo counties the seed files households in (not 330283, the demo county of ``seed-demo``).
RURAL_COUNTIES = (("330281", "余姚市"), ("330282", "慈溪市"), ("330226", "宁海县"))
#: One county per this many taxpayers (at least one, at most ``len(RURAL_COUNTIES)``).
TAXPAYERS_PER_COUNTY = 100_000
RURAL_TOWNSHIPS, VILLAGES_PER_TOWNSHIP = 10, 10
#: Households per village at full scale (300,000 taxpayers: 3 counties × 100 villages × 100 = 30,000).
MAX_HOUSEHOLDS_PER_VILLAGE = 100
OFFICER_PREFIX = "lt-officer-"
#: The bank the seeded officers work for (households are filed by a bank).
OFFICER_BANK = 1


@dataclass(frozen=True)
class RuralScale:
    counties: tuple[tuple[str, str], ...]
    households_per_village: int

    @property
    def villages_per_county(self) -> int:
        return RURAL_TOWNSHIPS * VILLAGES_PER_TOWNSHIP

    @property
    def households_per_county(self) -> int:
        return self.villages_per_county * self.households_per_village


def rural_scale(taxpayers: int) -> RuralScale:
    """How much rural data goes with N taxpayers (no database; the load generator uses it too).

    Villages are always 10 townships × 10 villages per county, so growing N only adds counties
    and households (appended lines of the same file): nothing already filed moves.
    """
    counties = min(len(RURAL_COUNTIES), max(1, -(-taxpayers // TAXPAYERS_PER_COUNTY)))
    per_village = min(MAX_HOUSEHOLDS_PER_VILLAGE, max(2, taxpayers // 3000))
    return RuralScale(RURAL_COUNTIES[:counties], per_village)


def officer_username(county_code: str) -> str:
    return f"{OFFICER_PREFIX}{county_code}"


def township_codes(county_code: str) -> list[str]:
    return [f"{county_code}{t:03d}" for t in range(1, RURAL_TOWNSHIPS + 1)]


def village_codes(county_code: str) -> list[str]:
    """The county's seeded villages, in the order households are spread over them."""
    return [f"{town}{v:03d}" for town in township_codes(county_code) for v in range(1, VILLAGES_PER_TOWNSHIP + 1)]


def seed_rural(s: Services, *, taxpayers: int, password_hash: str, progress: Progress) -> Iterator[str]:
    """Counties, townships, villages, one officer per county and the county's households.

    Places go through ``create_place`` (only the missing ones), households through the rural CSV
    importer (``import_households``: lines already filed are unchanged), so a re-run changes nothing.
    """
    from app.rural.context import rural
    from app.rural.domain import Actor, PlaceLevel
    from app.rural.importer import import_households
    from app.rural.models import Place
    from app.rural.service import create_place
    from loadtests.bench_rural import households_csv

    scale = rural_scale(taxpayers)
    ctx = rural()
    setup = Actor("seed", "rural_admin", None, None)
    codes = [code for code, _name in scale.counties]
    with s.uow() as uow:
        existing = set(uow.session.scalars(select(Place.code).where(Place.county_code.in_(codes))))
        bank_id = uow.session.scalar(select(Bank.id).where(Bank.code == bank_code(OFFICER_BANK)))
        officers = set(uow.session.scalars(select(User.username).where(User.username.like(f"{OFFICER_PREFIX}%"))))
        missing_officers = [code for code in codes if officer_username(code) not in officers]
        if missing_officers:
            now = utcnow()
            uow.session.execute(insert(User), [
                {"username": officer_username(code), "role": Role.OFFICER.value, "uscc": None, "bank_id": bank_id,
                 "county_code": code, "password_hash": password_hash, "active": True, "created_at": now}
                for code in missing_officers])
            uow.commit()
    places_created = created = unchanged = changed = 0
    for county, name in scale.counties:
        wanted = [(county, name, PlaceLevel.COUNTY, None)]
        for t, town in enumerate(township_codes(county), start=1):
            wanted.append((town, f"{name}第{t}镇", PlaceLevel.TOWNSHIP, county))
            wanted += [(f"{town}{v:03d}", f"{name}{t}镇{v}村", PlaceLevel.VILLAGE, town)
                       for v in range(1, VILLAGES_PER_TOWNSHIP + 1)]
        for code, place_name, level, parent in wanted:
            if code not in existing:
                create_place(code, place_name, level, parent, actor=setup, uow=s.uow())
                places_created += 1
        officer = Actor(officer_username(county), Role.OFFICER.value, county, bank_id)
        data, _ids = households_csv(village_codes(county), scale.households_per_county, seed=int(county),
                                    region=county)
        report = import_households(data, filename=f"seed-households-{county}.csv", actor=officer, uow=s.uow(),
                                   clock=s.clock, ctx=ctx,
                                   progress=lambda done, total, c=county: progress(f"rural {c}", done, total))
        if report.rejected:
            raise RuntimeError(f"seed households of {county} have {report.rejected} bad lines: {report.errors[:3]}")
        created, unchanged, changed = created + report.created, unchanged + report.unchanged, changed + report.changed
    yield (f"rural: {len(codes)} counties ({', '.join(codes)}) × {scale.villages_per_county} villages × "
           f"{scale.households_per_village} households: {places_created} places created, households {created} "
           f"created / {unchanged} unchanged / {changed} changed; officers {', '.join(map(officer_username, codes))} "
           f"({len(missing_officers)} created, bank {bank_code(OFFICER_BANK)})")


#: Extra seeding steps, run after the taxpayers, accounts and banks (the rural one above).
SEEDERS: list[Seeder] = [seed_rural]


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
            bulk_insert(session, User, [row | {"password_hash": password_hash, "active": True, "created_at": now}
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


def rural_counts(s: Services) -> dict[str, int]:
    """Seeded counties, villages, households and officers (for tests)."""
    from app.rural.models import Household, Place

    codes = [code for code, _name in RURAL_COUNTIES]
    with s.uow() as uow:
        session = uow.session
        return {
            "counties": session.scalar(select(func.count()).select_from(Place)
                                       .where(Place.code.in_(codes))) or 0,
            "villages": session.scalar(select(func.count()).select_from(Place)
                                       .where(Place.county_code.in_(codes), Place.level == "village")) or 0,
            "households": session.scalar(select(func.count()).select_from(Household)
                                         .where(Household.county_code.in_(codes))) or 0,
            "officers": session.scalar(select(func.count()).select_from(User)
                                       .where(User.username.like(f"{OFFICER_PREFIX}%"))) or 0,
        }
