"""Demo population for ``make run``: one taxpayer per grade and state, a bank, its clerk, staff.

Idempotent: taxpayers go through the ordinary grade importer (a re-run changes nothing) and
accounts are created only when missing. Passwords are generated on the first run and kept in
``instance/demo_logins.json`` (owner-readable only), never in the repository.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Iterator

from flask import current_app

from app.accounts.domain import Role
from app.accounts.repository import SqlAlchemyAccountRepository
from app.accounts.service import create_user
from app.rural.demo import seed_rural_demo
from app.services import Services
from app.taxpayers.domain import uscc_check_char
from app.taxpayers.importer import import_grades

#: (username, first 17 USCC characters, name, grade, state, score, region, industry, registered, size)
DEMO_TAXPAYERS = [
    ("firm-a", "91330203MA2AAAAA1", "宁波海曙云帆贸易有限公司", "A", "normal", "95", "330203", "5191", "2012-03-14", "small"),
    ("firm-b", "91330205MA2BBBBB2", "宁波江北恒信机械制造有限公司", "B", "normal", "82", "330205", "3421", "2015-07-01", "medium"),
    ("firm-m", "91330206MA2CCCCC3", "宁波北仑新启科技有限公司", "M", "normal", "", "330206", "6513", "2026-02-10", "micro"),
    ("firm-c", "91330211MA2DDDDD4", "宁波镇海利达物流有限公司", "C", "normal", "58", "330211", "5436", "2016-11-23", "small"),
    ("firm-d", "91330212MA2EEEEE5", "宁波鄞州金盛建材有限公司", "D", "normal", "31", "330212", "5165", "2013-05-30", "small"),
    ("firm-unrated", "91330281MA2FFFFF6", "余姚市润禾农业发展有限公司", "", "unrated", "", "330281", "0190", "2026-06-18", "micro"),
    ("firm-suspended", "91330282MA2GGGGG7", "慈溪市安泰电器有限公司", "B", "suspended", "", "330282", "3856", "2011-09-09", "medium"),
    ("firm-blacklisted", "91330283MA2HHHHH8", "奉化区鼎丰商贸有限公司", "D", "blacklisted", "", "330283", "5199", "2014-01-20", "small"),
]
DEMO_BANK = ("NBCB-DEMO", "演示银行宁波分行")
DEMO_STAFF = [
    ("admin", Role.TAX_ADMIN, {}),
    ("clerk", Role.CLERK, {"bank_code": DEMO_BANK[0], "bank_name": DEMO_BANK[1]}),
    ("officer", Role.OFFICER, {"bank_code": DEMO_BANK[0], "bank_name": DEMO_BANK[1], "county_code": "330283"}),
    ("rural-admin", Role.RURAL_ADMIN, {"county_code": "330283"}),
]


def demo_uscc(first17: str) -> str:
    return first17 + uscc_check_char(first17)


def demo_csv(year: int) -> bytes:
    lines = ["uscc,name,grade,year,score,state,region,industry,registered_on,size"]
    for _user, first17, name, grade, state, score, region, industry, registered, size in DEMO_TAXPAYERS:
        lines.append(",".join([demo_uscc(first17), name, grade, str(year), score, state, region, industry,
                               registered, size]))
    return ("\n".join(lines) + "\n").encode()


def _passwords(path: Path, usernames: list[str]) -> dict[str, str]:
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [u for u in usernames if u not in stored]
    if missing:
        stored.update({u: secrets.token_urlsafe(9) for u in missing})
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(stored, handle, indent=2)
    return stored


def seed_demo(s: Services) -> Iterator[str]:
    """Seed the demo data; yields human-readable lines (the logins last)."""
    year = s.clock.now().year - 1
    report = import_grades(demo_csv(year), filename="demo.csv", imported_by="seed", uow=s.uow(),
                           cache=s.status_cache, clock=s.clock)
    yield f"taxpayers: {report.created} created, {report.changed} changed, {report.unchanged} unchanged"
    accounts = [(u, Role.TAXPAYER, {"uscc": demo_uscc(first17)}) for u, first17, *_ in DEMO_TAXPAYERS] + DEMO_STAFF
    passwords = _passwords(Path(current_app.instance_path) / "demo_logins.json", [u for u, _r, _k in accounts])
    for username, role, bindings in accounts:
        with s.uow() as uow:
            exists = SqlAlchemyAccountRepository(uow.session).user_by_username(username) is not None
        if not exists:
            create_user(username, passwords[username], role=role, uow=s.uow(), passwords=s.passwords, **bindings)
    from app.push.demo import seed_catalogue

    yield from seed_catalogue(s)
    yield from seed_rural_demo(s)
    yield "demo logins (username / password / role):"
    for username, role, bindings in accounts:
        extra = bindings.get("uscc") or bindings.get("bank_code") or ""
        yield f"  {username:<17} {passwords[username]:<14} {role.value:<10} {extra}"
