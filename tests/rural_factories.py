"""Builders for rural-credit tests: places, officers, households, CSV lines."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

from app.accounts.domain import Role
from app.rural.domain import Actor, PlaceLevel
from app.rural.idcard import id_check_char
from app.rural.service import create_place
from app.services import services

_serial = itertools.count(1)

#: A household that scores 92 (AAA) on the default scorecard: README worked example 1.
GOOD_FACTS: dict[str, Any] = {
    "members": 4, "labourers": 2, "years_resident": 20, "health": "good", "education": "middle_school",
    "land_area": "12", "housing": "brick_concrete", "assets": "300000", "annual_income": "120000",
    "operating_income": "80000", "debts": "30000", "deposits": "60000", "production_type": "planting",
    "credit_record": "clean", "past_defaults": 0, "debt_evasion": False, "village_assessment": "good",
    "honours": 1, "bad_records": [],
}
#: Scores 23 on the default scorecard: not a credit household.
WEAK_FACTS: dict[str, Any] = GOOD_FACTS | {
    "members": 1, "labourers": 0, "years_resident": 2, "health": "poor", "education": "primary", "land_area": "1",
    "assets": "20000", "annual_income": "20000", "operating_income": "0", "debts": "15000", "deposits": "0",
    "credit_record": "none", "village_assessment": "average", "honours": 0,
}
HOUSEHOLD_HEADER = ("village_code,head_name,id_number,members,labourers,years_resident,health,education,land_area,"
                    "housing,assets,annual_income,operating_income,debts,deposits,production_type,credit_record,"
                    "past_defaults,debt_evasion,village_assessment,honours,bad_records")


def make_id_number(n: int | None = None, *, region: str = "330283", born: date = date(1975, 3, 1)) -> str:
    """A valid resident ID number; distinct ``n`` give distinct numbers."""
    n = next(_serial) if n is None else n
    day = born + timedelta(days=n // 1000)
    first17 = f"{region}{day:%Y%m%d}{n % 1000:03d}"
    return first17 + id_check_char(first17)


def village_code(county: str = "330283", township: int = 1, village: int = 1) -> str:
    return f"{county}{township:03d}{village:03d}"


def csv_line(village: str, name: str, id_number: str, facts: dict[str, Any] | None = None) -> str:
    f = GOOD_FACTS | (facts or {})
    cells = [village, name, id_number, *(str(f[k]) for k in (
        "members", "labourers", "years_resident", "health", "education", "land_area", "housing", "assets",
        "annual_income", "operating_income", "debts", "deposits", "production_type", "credit_record",
        "past_defaults")), "1" if f["debt_evasion"] else "0", f["village_assessment"], str(f["honours"]),
        ";".join(f["bad_records"])]
    return ",".join(cells)


class Login(dict):
    """Bearer headers that remember whose they are, so a test can log in again after moving the clock."""

    def __init__(self, factory: Any, username: str):
        super().__init__(factory.login(username))
        self.factory, self.username = factory, username

    def refresh(self) -> "Login":
        self.update(self.factory.login(self.username))
        return self


class RuralFactory:
    def __init__(self, factory: Any):
        self.factory = factory
        self.app = factory.app
        self.client = factory.client

    def county(self, code: str = "330283", *, townships: int = 1, villages: int = 2, name: str = "奉化区") -> list[str]:
        """Create a county with ``townships`` × ``villages``; returns the village codes."""
        admin = Actor("setup", "rural_admin", None, None)
        codes = []
        with self.app.app_context():
            uow = services().uow
            create_place(code, name, PlaceLevel.COUNTY, None, actor=admin, uow=uow())
            for t in range(1, townships + 1):
                town = f"{code}{t:03d}"
                create_place(town, f"第{t}镇", PlaceLevel.TOWNSHIP, code, actor=admin, uow=uow())
                for v in range(1, villages + 1):
                    codes.append(village_code(code, t, v))
                    create_place(codes[-1], f"{t}镇{v}村", PlaceLevel.VILLAGE, town, actor=admin, uow=uow())
        return codes

    def officer(self, county: str = "330283", bank: str = "B1") -> Login:
        return Login(self.factory, self.factory.user(Role.OFFICER, bank_code=bank, county_code=county))

    def admin(self, county: str | None = None) -> Login:
        bindings = {"county_code": county} if county else {}
        return Login(self.factory, self.factory.user(Role.RURAL_ADMIN, **bindings))

    def household(self, headers: dict[str, str], village: str, facts: dict[str, Any] | None = None, *,
                  name: str = "张三丰", id_number: str | None = None) -> dict[str, Any]:
        body = GOOD_FACTS | (facts or {}) | {"village_code": village, "head_name": name,
                                             "id_number": id_number or make_id_number()}
        response = self.client.post("/api/v1/rural/households", json=body, headers=headers)
        assert response.status_code == 201, response.json
        return response.json

    def rated(self, headers: Login, household_id: int, clock: Any) -> dict[str, Any]:
        """Propose, let the notice run out, confirm; returns the confirmed rating."""
        proposed = self.client.post(f"/api/v1/rural/households/{household_id}/ratings", headers=headers)
        assert proposed.status_code == 201, proposed.json
        clock.advance(days=8)
        headers.refresh()
        confirmed = self.client.post(f"/api/v1/rural/ratings/{proposed.json['id']}/confirmation", headers=headers)
        assert confirmed.status_code == 200, confirmed.json
        return confirmed.json

    def upload(self, path: str, headers: dict[str, str], text: str, name: str = "data.csv") -> Any:
        import io

        return self.client.post(path, headers=headers, content_type="multipart/form-data",
                                data={"file": (io.BytesIO(text.encode("utf-8")), name)})
