"""Test data builders that go through the real use cases."""

from __future__ import annotations

import itertools

from app.accounts.domain import Role
from app.accounts.service import create_user
from app.services import services
from app.taxpayers.domain import USCC_ALPHABET, uscc_check_char
from app.taxpayers.importer import import_grades

_serial = itertools.count(1)


def make_uscc(n: int) -> str:
    """A valid USCC derived from ``n`` (distinct n → distinct codes)."""
    body = ""
    for _ in range(8):
        n, digit = divmod(n, 31)
        body = USCC_ALPHABET[digit] + body
    first17 = "91330200" + "M" + body[-8:]
    return first17 + uscc_check_char(first17)


class Factory:
    PASSWORD = "correct horse battery"

    def __init__(self, app, client):
        self.app = app
        self.client = client

    def taxpayer(self, grade: str | None = "A", *, state: str = "normal", name: str = "宁波海曙云帆贸易有限公司",
                 year: int = 2025, score: str = "") -> str:
        uscc = make_uscc(next(_serial) * 7919)
        csv = f"uscc,name,grade,year,score,state\n{uscc},{name},{grade or ''},{year},{score},{state}\n"
        with self.app.app_context():
            s = services()
            report = import_grades(csv.encode(), filename="t.csv", imported_by="test", uow=s.uow(),
                                   cache=s.status_cache, clock=s.clock)
        assert report.errors == [], report.errors
        return uscc

    def user(self, role: Role, **bindings: str) -> str:
        username = f"{role.value}{next(_serial)}"
        with self.app.app_context():
            s = services()
            create_user(username, self.PASSWORD, role=role, uow=s.uow(), passwords=s.passwords, **bindings)
        return username

    def grant(self, username: str) -> dict[str, object]:
        """A log-in's answer: access token, refresh token, lifetimes."""
        response = self.client.post("/api/v1/auth/token", json={"username": username, "password": self.PASSWORD})
        assert response.status_code == 200, response.json
        return response.json

    def login(self, username: str) -> dict[str, str]:
        return bearer(str(self.grant(username)["access_token"]))

    def as_taxpayer(self, grade: str | None = "A", **kwargs: str) -> tuple[str, dict[str, str]]:
        uscc = self.taxpayer(grade, **kwargs)
        return uscc, self.login(self.user(Role.TAXPAYER, uscc=uscc))

    def as_clerk(self, bank_code: str = "BANK1") -> dict[str, str]:
        return self.login(self.user(Role.CLERK, bank_code=bank_code, bank_name=f"{bank_code} 银行"))

    def as_admin(self) -> dict[str, str]:
        return self.login(self.user(Role.TAX_ADMIN))


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header of an access token."""
    return {"Authorization": f"Bearer {token}"}
