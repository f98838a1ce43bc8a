"""Use cases on scorecard versions: the active version per county (the shipped default is
installed as version 1 on first use), publishing a new version, reading them back.

Versions are immutable: a rating records the version it used and is explained with it forever.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy.exc import IntegrityError

from app.clock import Clock
from app.db import UnitOfWork
from app.errors import Conflict, InvalidInput, NotFound
from app.rural.context import RuralContext
from app.rural.domain import Actor
from app.rural.models import Scorecard as ScorecardRow
from app.rural.repository import SqlAlchemyRuralRepository
from app.rural.scorecard import Scorecard, ScorecardError
from app.rural.scorecard_parse import parse_scorecard
from app.rural.service import require_county


@lru_cache(maxsize=64)
def parsed_scorecard(body: str) -> Scorecard:
    """Parsed scorecard by its JSON text (versions are immutable, so the text is the key)."""
    return parse_scorecard(json.loads(body, parse_float=Decimal))


@dataclass(frozen=True)
class ActiveCard:
    id: int
    name: str
    version: int
    card: Scorecard


def active_scorecard(county_code: str, *, uow: UnitOfWork, ctx: RuralContext) -> ActiveCard:
    """The scorecard version ratings in ``county_code`` use now; installs the shipped default
    as version 1 the first time any rating is made."""
    for _attempt in range(2):
        with uow:
            repo = SqlAlchemyRuralRepository(uow.session)
            row = repo.active_scorecard(county_code)
            if row is None:
                row = ScorecardRow(name=ctx.default_scorecard["name"], version=1, county_code=None,
                                   body=json.dumps(ctx.default_scorecard, ensure_ascii=False), created_by="system")
                uow.session.add(row)
                try:
                    uow.commit()
                except IntegrityError:  # another process installed it first: read theirs
                    continue
            return ActiveCard(row.id, row.name, row.version, parsed_scorecard(row.body))
    raise Conflict("评分表正在初始化，请重试")


def publish_scorecard(body: dict[str, Any], *, county_code: str | None, actor: Actor, uow: UnitOfWork,
                      clock: Clock) -> dict[str, Any]:
    """Store a new scorecard version (for one county, or the default for all); earlier
    ratings keep the version they used. Raises ``InvalidInput`` naming the bad field."""
    if actor.county_code is not None:
        county_code = require_county(actor, county_code)
    try:
        card = parse_scorecard(json.loads(json.dumps(body), parse_float=Decimal))
    except ScorecardError as exc:
        raise InvalidInput.field(f"body.{exc.field}", exc.reason) from exc
    with uow:
        repo = SqlAlchemyRuralRepository(uow.session)
        row = ScorecardRow(name=card.name, version=repo.latest_version(card.name) + 1, county_code=county_code,
                           body=json.dumps(body, ensure_ascii=False), created_by=actor.username,
                           created_at=clock.now())
        uow.session.add(row)
        try:
            uow.commit()
        except IntegrityError:
            raise Conflict("同时发布了另一个版本，请重试", errors={"body.name": ["version taken"]}) from None
        return scorecard_view(row)


def get_scorecard(scorecard_id: int, *, actor: Actor, uow: UnitOfWork) -> dict[str, Any]:
    with uow:
        row = SqlAlchemyRuralRepository(uow.session).scorecard(scorecard_id)
        if row is None or (row.county_code and not actor.may_access(row.county_code)):
            raise NotFound(f"没有编号为 {scorecard_id} 的评分表")
        return scorecard_view(row) | {"body": json.loads(row.body)}


def list_scorecards(*, actor: Actor, county: str | None, offset: int, limit: int, uow: UnitOfWork,
                    ctx: RuralContext) -> tuple[list[dict[str, Any]], int]:
    """Scorecard versions that apply to the county (its own and the defaults), newest first."""
    county_code = require_county(actor, county) if county or actor.county_code else None
    if county_code:
        active_scorecard(county_code, uow=uow, ctx=ctx)  # installs the default on first use
    with uow:
        rows, total = SqlAlchemyRuralRepository(uow.session).scorecards(county_code=county_code, offset=offset,
                                                                        limit=limit)
        return [scorecard_view(row) for row in rows], total


def scorecard_view(row: ScorecardRow) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "version": row.version, "county_code": row.county_code,
            "created_by": row.created_by, "created_at": row.created_at}


