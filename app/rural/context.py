"""The rural module's collaborators (policy, default scorecard, figures cache), built once per app.

Kept out of the shared ``Services`` container so the module wires itself: the first call to
``rural()`` in an app loads and validates the policy and scorecard files named by
``SHUIMA_RURAL_POLICY_FILE`` / ``SHUIMA_RURAL_SCORECARD_FILE`` (the shipped defaults otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app

from app.accounts.domain import Principal
from app.extensions import redis_store
from app.rural.domain import Actor
from app.rural.policy import RuralPolicy, load_policy
from app.rural.scorecard_parse import load_scorecard_file, parse_scorecard
from app.rural.statuses import FiguresCache


@dataclass(frozen=True)
class RuralContext:
    policy: RuralPolicy
    default_scorecard: dict[str, Any]  # JSON body, already validated
    figures: FiguresCache
    import_chunk_rows: int


def rural() -> RuralContext:
    """The current app's rural context (built on first use)."""
    ctx = current_app.extensions.get("shuima.rural")
    if ctx is None:
        cfg = current_app.config
        body = load_scorecard_file(cfg.get("RURAL_SCORECARD_FILE"))
        parse_scorecard(body)  # fail loudly at first use rather than at the first rating
        ctx = RuralContext(
            policy=load_policy(cfg.get("RURAL_POLICY_FILE")),
            default_scorecard=body,
            figures=FiguresCache(redis_store.client, ttl_seconds=cfg.get("RURAL_STATUS_CACHE_TTL_SECONDS", 172800)),
            import_chunk_rows=cfg.get("IMPORT_CHUNK_ROWS", 5000),
        )
        current_app.extensions["shuima.rural"] = ctx
    return ctx


def actor_of(p: Principal) -> Actor:
    return Actor(username=p.username, role=p.role.value, county_code=p.county_code, bank_id=p.bank_id)


def actor_for_username(username: str, uow: Any) -> Actor:
    """The actor for a command-line run on behalf of an officer or rural admin account.

    Raises ``NotFound`` for an unknown account and ``Forbidden`` for any other role.
    """
    from app.accounts.repository import SqlAlchemyAccountRepository
    from app.errors import Forbidden, NotFound

    with uow:
        user = SqlAlchemyAccountRepository(uow.session).user_by_username(username)
        if user is None:
            raise NotFound(f"no account {username!r}")
        if user.role not in ("officer", "rural_admin"):
            raise Forbidden(f"{username} is a {user.role}, not an officer or rural admin")
        return Actor(username=user.username, role=user.role, county_code=user.county_code, bank_id=user.bank_id)
