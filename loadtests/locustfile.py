"""A day at Shuima under Locust: taxpayers opening the app, clerks scanning, the bureau importing.

    make loadtest                      # seeds if needed, serves, runs this headless, writes reports
    locust -f loadtests/locustfile.py --host http://127.0.0.1:8000   # by hand, against a seeded service

Identities come from the population made by ``shuima seed --taxpayers N`` (``loadtests/seed.py``):
every simulated user takes its own account (shuffled, never one user reused) and knows its
seeded grade, so a wrong color fails the request. Environment:

- ``SHUIMA_LOADTEST_TAXPAYERS``: N the database was seeded with (default 300000);
- ``SHUIMA_INSTANCE_PATH``: where ``seed_logins.json`` (the seeded accounts' password) lives.

Personas and weights (a compressed day; docs/performance.md has the arithmetic for a real one):

- ``Taxpayer`` (weight 40): logs in once, opens the app (code + badge, and the inbox when the
  push module is deployed), keeps the screen open
  for 0–2 refreshes, each after the ``refresh_in`` the server gave, then puts the phone away
  for 20–90 s. Every fetched code goes into a small in-process pool of fresh tokens.
- ``Clerk`` (weight 6): scans codes that taxpayers just fetched (from the pool): the answer must
  be valid, ``ok`` and show the seeded color; now and then a tampered screenshot, which must be
  refused as ``bad_signature``. Each clerk scans at most one code every 1.5–4 s, under the
  per-clerk limit of 120/min, so the limit stays as configured.
- ``Officer`` (weight 2, when the rural module is deployed): a bank officer of a seeded county
  (``lt-officer-<county>``, one account per county, so officers share it) working through its
  own village (each simulated officer takes a different one): pages through the county's
  households, proposes a rating for an unrated household of its village and reads the village's
  status, every 5–15 s.
- ``Admin`` (exactly one): imports a small grades file every 20–40 s (new firms plus re-sent
  unchanged lines) and looks taxpayers up.

One Locust process: the identity iterators and the token pool are per process (run with
``--processes`` and identities would repeat across processes).
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import random
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

from locust import FastHttpUser, HttpUser, between, events, task
from locust.exception import StopUser

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `locust -f loadtests/locustfile.py`

from loadtests.population import csv_line, grades_csv, population  # noqa: E402 - pure, no I/O
from loadtests.seed import (  # noqa: E402
    ADMIN_USERNAME, Identity, clerk_usernames, identity, officer_username, read_password, rural_scale, village_codes,
)

TAXPAYERS = int(os.environ.get("SHUIMA_LOADTEST_TAXPAYERS", "300000"))
INSTANCE = os.environ.get("SHUIMA_INSTANCE_PATH", str(Path(__file__).resolve().parents[1] / "instance"))
#: Firms beyond the seeded N that the admin's imports register (a few hundred per file).
NEW_FIRMS = 20_000
#: A token older than this is not handed to a clerk (codes live 60 s; the app refreshes at 55 s).
FRESH_SECONDS = 40


class World:
    """What every simulated user shares: the drawn identities and the pool of fresh codes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.password = ""
        self.taxpayers: Iterator[Identity] = iter(())
        self.clerks: Iterator[str] = iter(())
        self.sample: list[Identity] = []  # taxpayers whose lines the admin re-sends and looks up
        self.new_lines: Iterator[str] = iter(())
        self.resend_lines: list[str] = []
        self.fresh: collections.deque[tuple[float, str, Identity]] = collections.deque(maxlen=5000)
        self.has_inbox = False  # set at test start from the service's OpenAPI paths
        self.has_rural = False
        self.villages: Iterator[tuple[str, str]] = iter(())  # (county, village) for officers

    def load(self) -> None:
        started = time.perf_counter()
        self.password = read_password(INSTANCE)
        rng = random.Random()
        seeded: list[Identity] = []
        resend = set(rng.sample(range(TAXPAYERS), min(2000, TAXPAYERS)))
        new_lines = []
        for index, row in enumerate(population(TAXPAYERS + NEW_FIRMS)):
            line = csv_line(row)
            if index >= TAXPAYERS:
                new_lines.append(line)
                continue
            seeded.append(identity(index, row))
            if index in resend:
                self.resend_lines.append(line)
                self.sample.append(seeded[-1])
        rng.shuffle(seeded)
        self.taxpayers = iter(seeded)
        clerks = clerk_usernames()
        rng.shuffle(clerks)
        self.clerks = iter(clerks)
        self.new_lines = itertools.cycle(new_lines)  # after 20,000 new firms the lines re-send unchanged
        villages = [(county, v) for county, _name in rural_scale(TAXPAYERS).counties for v in village_codes(county)]
        rng.shuffle(villages)
        self.villages = iter(villages)
        print(f"locustfile: {TAXPAYERS:,} seeded identities loaded in {time.perf_counter() - started:.1f} s",
              file=sys.stderr)

    def next_taxpayer(self) -> Identity:
        with self.lock:
            who = next(self.taxpayers, None)
        if who is None:
            raise StopUser()  # every seeded taxpayer is in use: never reuse one
        return who

    def next_clerk(self) -> str:
        with self.lock:
            who = next(self.clerks, None)
        if who is None:
            raise StopUser()
        return who

    def next_village(self) -> tuple[str, str]:
        with self.lock:
            village = next(self.villages, None)
        if village is None:
            raise StopUser()  # one simulated officer per seeded village
        return village

    def offer(self, token: str, who: Identity) -> None:
        self.fresh.append((time.monotonic(), token, who))

    def take(self) -> tuple[str, Identity] | None:
        """The newest fresh code a taxpayer just showed, or None."""
        while True:
            try:
                fetched, token, who = self.fresh.pop()
            except IndexError:
                return None
            if time.monotonic() - fetched < FRESH_SECONDS:
                return token, who
            self.fresh.clear()  # everything older is stale too


WORLD = World()


@events.init.add_listener
def _load_world(environment, **_kwargs) -> None:  # type: ignore[no-untyped-def]
    WORLD.load()


@events.test_start.add_listener
def _discover_modules(environment, **_kwargs) -> None:  # type: ignore[no-untyped-def]
    """Turn on the personas and tasks of modules the service under test has (from its OpenAPI)."""
    import urllib.request

    with urllib.request.urlopen(f"{environment.host}/openapi.json", timeout=10) as response:
        paths = json.loads(response.read())["paths"]
    WORLD.has_inbox = "/api/v1/me/inbox" in paths
    WORLD.has_rural = "/api/v1/rural/households/{household_id}/ratings" in paths
    print(f"locustfile: push inbox {'on' if WORLD.has_inbox else 'absent'}, "
          f"rural {'on' if WORLD.has_rural else 'absent'}", file=sys.stderr)


class SignedIn:
    """A persona's log-in, as an app keeps it: logs in once with the password, then renews the
    access token with the refresh token shortly before it expires (a run longer than
    ``expires_in`` never meets a 401). ``headers`` is the bearer header to send. A failed log-in
    stops the user; a failed renewal counts as a failure and keeps the old token."""

    refresh_token: str | None = None
    _bearer: dict[str, str] = {}
    _renew_at = 0.0

    def sign_in(self, username: str) -> None:
        with self.client.post("/api/v1/auth/token", json={"username": username, "password": WORLD.password},
                              name="/api/v1/auth/token", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"log-in {response.status_code}: {response.text[:200]}")
                raise StopUser()
            grant = response.json()
        self.refresh_token = grant.get("refresh_token")
        self._keep(grant)

    @property
    def headers(self) -> dict[str, str]:
        if self.refresh_token and time.time() >= self._renew_at:
            self.renew_access_token()
        return self._bearer

    def renew_access_token(self) -> None:
        with self.client.post("/api/v1/auth/refresh", json={"refresh_token": self.refresh_token},
                              name="/api/v1/auth/refresh", catch_response=True) as response:
            answer = response.json() if response.status_code == 200 else {}
            if not answer.get("access_token"):
                response.failure(f"refresh {response.status_code}: {response.text[:200]}")
                self._renew_at = time.time() + 60  # try again in a minute
                return
        self._keep(answer)  # the next request proves the new token works

    def _keep(self, answer: dict) -> None:
        self._bearer = {"Authorization": f"Bearer {answer['access_token']}"}
        self._renew_at = time.time() + max(int(answer.get("expires_in", 3600)) - 60, 60)


class Taxpayer(SignedIn, FastHttpUser):
    """A firm's phone: open the app, show the code, refresh while the screen is on, put it away.

    Half the looks find the hour-long access token expired (the capacity model's 1.5 looks an
    hour, one renewal): the app trades its refresh token for a new one first, no password
    (``SignedIn.renew_access_token``)."""

    weight = 40
    wait_time = between(20, 90)  # the phone stays in a pocket between two looks at the code

    def on_start(self) -> None:
        self.who = WORLD.next_taxpayer()
        self.sign_in(self.who.username)

    @task
    def look_at_the_code(self) -> None:
        if self.refresh_token and random.random() < 0.5:
            self.renew_access_token()
        refresh_in = self.fetch_code()
        self.fetch_badge()
        for _ in range(random.choice((0, 1, 1, 2))):
            time.sleep(refresh_in)  # gevent-patched: only this user waits
            refresh_in = self.fetch_code()
            self.fetch_badge()
        if WORLD.has_inbox:  # push (issue 3) deployed: a look at the app shows the inbox too
            self.read_inbox()

    def fetch_code(self) -> int:
        with self.client.get("/api/v1/me/code", headers=self.headers, name="/api/v1/me/code",
                             catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"code {response.status_code}: {response.text[:200]}")
                return 30
            code = response.json()
            seen = (code.get("color"), code.get("grade"), code.get("state"))
            wanted = (self.who.color, self.who.grade, self.who.state)
            if seen != wanted:
                response.failure(f"wrong code: got {seen}, seeded {wanted}")
                return 30
            if not code.get("token") or not 1 <= int(code.get("refresh_in", 0)) <= 60:
                response.failure(f"bad code payload: {code}")
                return 30
            WORLD.offer(code["token"], self.who)
            return int(code["refresh_in"])

    def read_inbox(self) -> None:
        with self.client.get("/api/v1/me/inbox", headers=self.headers, name="/api/v1/me/inbox",
                             catch_response=True) as response:
            page = response.json() if response.status_code == 200 else {}
            if not isinstance(page.get("items"), list) or page.get("unread", -1) < 0:
                response.failure(f"inbox {response.status_code}: {response.text[:200]}")

    def fetch_badge(self) -> None:
        with self.client.get("/api/v1/me/code.png", headers=self.headers, name="/api/v1/me/code.png",
                             catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"badge {response.status_code}")
            elif not (response.content or b"").startswith(b"\x89PNG\r\n\x1a\n"):
                response.failure("badge is not a PNG")
            elif not response.headers.get("X-Code-Refresh-In"):
                response.failure("badge without X-Code-Refresh-In")


class Clerk(SignedIn, FastHttpUser):
    """A bank counter scanning the codes that taxpayers hold up."""

    weight = 6
    wait_time = between(1.5, 4)  # ≤ 40 scans a minute, under the 120/min per-clerk limit

    def on_start(self) -> None:
        self.sign_in(WORLD.next_clerk())

    @task(20)
    def scan_a_fresh_code(self) -> None:
        taken = WORLD.take()
        if taken is None:
            return  # nobody at the counter right now
        token, who = taken
        with self.client.post("/api/v1/verifications", json={"token": token}, headers=self.headers,
                              name="/api/v1/verifications", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"verify {response.status_code}: {response.text[:200]}")
                return
            answer = response.json()
            if not answer.get("valid") or answer.get("reason") != "ok":
                response.failure(f"fresh code refused: {answer.get('reason')}")
            elif answer.get("color") != who.color:
                response.failure(f"wrong color: got {answer.get('color')}, seeded {who.color}")
            elif who.uscc in json.dumps(answer):
                response.failure("the full USCC reached the clerk")

    @task(1)
    def scan_a_tampered_screenshot(self) -> None:
        taken = WORLD.take()
        if taken is None:
            return
        token, _who = taken
        header, payload, signature = token.split(".")
        middle = len(signature) // 2
        forged = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1:]
        with self.client.post("/api/v1/verifications", json={"token": f"{header}.{payload}.{forged}"},
                              headers=self.headers, name="/api/v1/verifications [tampered]",
                              catch_response=True) as response:
            answer = response.json() if response.status_code == 200 else {}
            if answer.get("valid") is not False or answer.get("reason") != "bad_signature":
                response.failure(f"tampered code not refused as bad_signature: {response.status_code} {answer}")


class Officer(SignedIn, FastHttpUser):
    """A rural bank officer filing through one village of its county (rural module, issue 4)."""

    weight = 2
    wait_time = between(5, 15)

    def on_start(self) -> None:
        if not WORLD.has_rural:
            raise StopUser()  # the service under test has no rural module
        self.county, self.village = WORLD.next_village()
        self.sign_in(officer_username(self.county))
        self.tried: set[int] = set()  # households this officer already proposed (or found in notice)
        self.pages = 1

    def households(self, query: str, name: str) -> tuple[list[dict], int] | None:
        """One page of households, checked: all of the officer's county, names and IDs masked."""
        with self.client.get(f"/api/v1/rural/households?{query}", headers=self.headers, name=name,
                             catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"households {response.status_code}: {response.text[:200]}")
                return None
            rows = response.json()
            try:
                total = json.loads(response.headers.get("X-Pagination", "{}"))["total"]
            except (KeyError, ValueError):
                response.failure("households without X-Pagination total")
                return None
            if not isinstance(rows, list) or any(r.get("county_code") != self.county for r in rows):
                response.failure(f"households of another county in {self.county}'s list")
            elif any(not r.get("id_number_masked") for r in rows):
                response.failure("a full ID number in a list")
            return rows, int(total)

    @task(2)
    def page_through_the_county(self) -> None:
        page = random.randint(1, self.pages)
        listed = self.households(f"page={page}&page_size=50", "/api/v1/rural/households?page=[n]")
        if listed:
            self.pages = max(1, -(-listed[1] // 50))

    @task(3)
    def rate_an_unrated_household(self) -> None:
        listed = self.households(f"village_code={self.village}&rated=false&page_size=50",
                                 "/api/v1/rural/households?village_code=[village]&rated=false")
        if not listed:
            return
        candidates = [r["id"] for r in listed[0] if r["id"] not in self.tried]
        if not candidates:
            return  # the village's first page is all in notice: nothing left to do here today
        household = random.choice(candidates)
        self.tried.add(household)
        with self.client.post(f"/api/v1/rural/households/{household}/ratings", headers=self.headers,
                              name="/api/v1/rural/households/[id]/ratings", catch_response=True) as response:
            body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
            if response.status_code == 409 and "household_id" in (body.get("errors") or {}):
                response.success()  # proposed by an earlier run: still in public notice, as it must be
            elif response.status_code != 201:
                response.failure(f"rating {response.status_code}: {response.text[:200]}")
            elif (body.get("household_id"), body.get("state"), body.get("village_code")) != (
                    household, "proposed", self.village) or not body.get("items") or not body.get("notice_ends_at"):
                response.failure(f"proposal off: {str(body)[:200]}")

    @task(2)
    def read_the_village_status(self) -> None:
        with self.client.get(f"/api/v1/rural/places/{self.village}/status", headers=self.headers,
                             name="/api/v1/rural/places/[village]/status", catch_response=True) as response:
            status = response.json() if response.status_code == 200 else {}
            if (status.get("level"), status.get("code")) != ("village", self.village):
                response.failure(f"village status {response.status_code}: {response.text[:200]}")
            elif not isinstance(status.get("checks"), list) or not isinstance(status.get("credit"), bool):
                response.failure(f"village status without checks: {str(status)[:200]}")


class Admin(SignedIn, HttpUser):
    """The tax bureau: a trickle of dynamic-management imports and look-ups during the day."""

    fixed_count = 1
    wait_time = between(20, 40)

    def on_start(self) -> None:
        self.sign_in(ADMIN_USERNAME)

    @task(1)
    def import_grades(self) -> None:
        with WORLD.lock:
            lines = [next(WORLD.new_lines) for _ in range(300)]
        lines += random.sample(WORLD.resend_lines, min(200, len(WORLD.resend_lines)))
        data = grades_csv(lines)
        with self.client.post("/api/v1/grades/imports", headers=self.headers, name="/api/v1/grades/imports",
                              files={"file": ("grades.csv", data, "text/csv")}, catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"import {response.status_code}: {response.text[:200]}")
                return
            report = response.json()
            counted = report["created"] + report["changed"] + report["unchanged"] + report["skipped"]
            if report["rejected"] or counted != len(lines) or report["changed"]:
                response.failure(f"import report off: {report}")

    @task(3)
    def look_up_a_taxpayer(self) -> None:
        who = random.choice(WORLD.sample)
        with self.client.get(f"/api/v1/taxpayers/{who.uscc}", headers=self.headers,
                             name="/api/v1/taxpayers/[uscc]", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"look-up {response.status_code}")
            elif (response.json().get("color"), response.json().get("grade")) != (who.color, who.grade):
                response.failure(f"wrong grade for {who.username}")
