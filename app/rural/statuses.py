"""Village, township and county statuses, computed from the database and cached in Redis.

Each county has one Redis hash, ``{rural:<county>}:figures`` (a hash tag, so it stays in one
cluster slot), holding every village's figures plus the local date they were computed for.
Whatever changes a status's inputs (filing, an import, a rating decided, loans loaded)
calls ``refresh_figures`` after its commit: the touched villages are recomputed and written
back; townships and the county are rolled up from the villages on read (pure and cheap).
A new day starts from scratch, since ratings run out and "this year" moves with the date.
With Redis down every read recomputes from the database (slower, still correct).

Concurrent recomputes must not let an older read overwrite a newer one: a writer bumps the
county's generation counter *after* its commit and before reading, a reader filling a miss only
notes it, and a result is stored only if the generation is still the one it started from
(``WATCH``/``MULTI``). The last change's recompute therefore always lands, like the foundation's
``SET NX`` rule for readers of the taxpayer status cache.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Iterable

import redis

from app.clock import Clock, local_date
from app.db import UnitOfWork
from app.degrade import when_redis_down
from app.errors import NotFound
from app.rural.domain import PlaceLevel
from app.rural.policy import RuralPolicy
from app.rural.repository import SqlAlchemyRuralRepository
from app.rural.standing import Figures, PlaceStatus, rollup_status, village_status

_AS_OF = "__as_of"


class FiguresCache:
    """Per-county Redis hash of village figures for one local date."""

    def __init__(self, redis: Any, *, ttl_seconds: int = 2 * 86400):
        self.redis = redis
        self.ttl = ttl_seconds

    @staticmethod
    def key(county_code: str) -> str:
        return f"{{rural:{county_code}}}:figures"

    @staticmethod
    def generation_key(county_code: str) -> str:
        return f"{{rural:{county_code}}}:generation"

    @when_redis_down(None)
    def begin(self, county_code: str, *, changed: bool) -> int | None:
        """The generation a recompute starts from: bumped by a writer after a change, read by a reader."""
        key = self.generation_key(county_code)
        return int(self.redis.incr(key)) if changed else int(self.redis.get(key) or 0)

    @when_redis_down(None)
    def load(self, county_code: str, day: date) -> dict[str, Figures] | None:
        raw = self.redis.hgetall(self.key(county_code))
        if not raw or raw.get(_AS_OF.encode()) != day.isoformat().encode():
            return None
        return {k.decode(): Figures.from_json(json.loads(v)) for k, v in raw.items() if k != _AS_OF.encode()}

    @when_redis_down(False, level=logging.ERROR)
    def store(self, county_code: str, day: date, figures: dict[str, Figures], *, replace: bool,
              generation: int | None) -> bool:
        """Write the figures unless a newer change has begun since ``generation``; True if written."""
        key, gen_key = self.key(county_code), self.generation_key(county_code)
        mapping = {code: json.dumps(f.to_json()) for code, f in figures.items()}
        with self.redis.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(gen_key)
                if generation is None or int(pipe.get(gen_key) or 0) != generation:
                    return False  # a newer recompute is under way: its result wins
                pipe.multi()
                if replace:
                    pipe.delete(key)
                pipe.hset(key, mapping={_AS_OF: day.isoformat(), **mapping})
                pipe.expire(key, self.ttl)
                pipe.execute()
            except redis.WatchError:
                return False
        return True

    @when_redis_down(None, level=logging.ERROR)
    def forget(self, county_code: str) -> None:
        self.redis.delete(self.key(county_code))


def new_npl_from(today: date, policy: RuralPolicy) -> date:
    """Loans overdue since this date that are now non-performing became so this calendar year."""
    return date(today.year, 1, 1) - timedelta(days=policy.npl_overdue_days)


def refresh_figures(county_code: str, *, villages: Iterable[str] | None = None, uow: UnitOfWork,
                    cache: FiguresCache, policy: RuralPolicy, clock: Clock, changed: bool = True) -> dict[str, Figures]:
    """Recompute ``villages`` (all of the county when None or when the cache is cold) and cache them.

    Call it after the commit of a change (``changed=True``); a reader filling a cold cache
    passes ``changed=False`` so it never overwrites a concurrent writer's newer result.
    """
    today = local_date(clock.now())
    generation = cache.begin(county_code, changed=changed)
    cached = cache.load(county_code, today) if villages is not None else None
    wanted = sorted(set(villages)) if villages is not None and cached is not None else None
    with uow:
        fresh = SqlAlchemyRuralRepository(uow.session).village_figures(
            county_code, today=today, npl_days=policy.npl_overdue_days, new_npl_from=new_npl_from(today, policy),
            villages=wanted)
    cache.store(county_code, today, fresh, replace=wanted is None, generation=generation)
    return {**(cached or {}), **fresh}


@dataclass(frozen=True)
class CountyStanding:
    county: PlaceStatus
    townships: dict[str, PlaceStatus]
    villages: dict[str, PlaceStatus]
    as_of: date

    def status_of(self, code: str) -> PlaceStatus | None:
        if code == self.county.code:
            return self.county
        return self.townships.get(code) or self.villages.get(code)


def county_standing(county_code: str, *, uow: UnitOfWork, cache: FiguresCache, policy: RuralPolicy,
                    clock: Clock) -> CountyStanding:
    """Every status in a county; raises ``NotFound`` when the county is not set up."""
    today = local_date(clock.now())
    with uow:
        places = [(p.code, p.level, p.name, p.parent_code)
                  for p in SqlAlchemyRuralRepository(uow.session).places_of_county(county_code)]
    county = next((p for p in places if p[1] == PlaceLevel.COUNTY.value), None)
    if county is None:
        raise NotFound(f"县 {county_code} 尚未建立", errors={"code": ["unknown county"]})
    figures = _todays_figures(county_code, uow=uow, cache=cache, policy=policy, clock=clock)
    villages = {code: village_status(code, name, figures.get(code, Figures()), policy)
                for code, level, name, _parent in places if level == PlaceLevel.VILLAGE.value}
    townships = {}
    for code, level, name, _parent in places:
        if level == PlaceLevel.TOWNSHIP.value:
            members = [v for v_code, v in villages.items() if v_code.startswith(code)]
            townships[code] = rollup_status(PlaceLevel.TOWNSHIP, code, name, members, policy)
    county_status = rollup_status(PlaceLevel.COUNTY, county[0], county[2], villages.values(), policy)
    return CountyStanding(county_status, townships, villages, today)


def village_stars(county_code: str, village_code: str, *, uow: UnitOfWork, cache: FiguresCache,
                  policy: RuralPolicy, clock: Clock) -> int:
    """The village's current star level (0 when it is not a credit village); needs only its own figures,
    not the county's places and roll-ups."""
    figures = _todays_figures(county_code, uow=uow, cache=cache, policy=policy, clock=clock)
    return village_status(village_code, "", figures.get(village_code, Figures()), policy).stars


def _todays_figures(county_code: str, *, uow: UnitOfWork, cache: FiguresCache, policy: RuralPolicy,
                    clock: Clock) -> dict[str, Figures]:
    """Every village's figures for today: from the cache, else recomputed as a reader (``changed=False``)."""
    figures = cache.load(county_code, local_date(clock.now()))
    if figures is None:
        figures = refresh_figures(county_code, uow=uow, cache=cache, policy=policy, clock=clock, changed=False)
    return figures
