"""Bearer-token authentication and role checks for views.

Every view states the roles it admits with ``@requires(Role.X, ...)``; the decorator reads
the ``Authorization: Bearer`` header, rejects a missing or bad token with 401 and a role
outside the list with 403, and leaves the caller in ``g.principal``. Ownership (a taxpayer
sees only its own code) is then checked by the view or service from that principal.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable

import jwt
from flask import g, request
from flask_smorest import Blueprint

from app.accounts.domain import Principal, Role
from app.errors import Forbidden, Unauthenticated

if TYPE_CHECKING:
    from app.services import Services


def requires(*roles: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    allowed = frozenset(roles)

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = authenticate()
            if principal.role not in allowed:
                raise Forbidden(f"this action is open to: {', '.join(sorted(r.value for r in allowed))}")
            g.principal = principal
            return view(*args, **kwargs)

        setattr(wrapper, _ROLES, allowed)  # outer decorators keep it: functools.wraps copies __dict__
        return Blueprint.doc(security=[{"bearerAuth": []}], **{"x-roles": sorted(r.value for r in allowed)})(wrapper)

    return decorator


_ROLES = "shuima_roles"


def roles_of(view: Any) -> frozenset[Role] | None:
    """The roles ``requires`` admits to ``view`` (a view function or MethodView method); None when open."""
    return getattr(view, _ROLES, None)


def authenticate() -> Principal:
    from app.services import services

    return read_bearer(request.headers.get("Authorization", ""), services())


def read_bearer(header: str, services: Services) -> Principal:
    """The caller named by an ``Authorization: Bearer`` header; raises ``Unauthenticated``
    (the views through ``requires``, and the code-fetch front in ``app.codes.front``)."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("missing bearer token (Authorization: Bearer <access_token>)")
    try:
        return services.tokens.read(token.strip(), now=services.clock.now())
    except (jwt.InvalidTokenError, KeyError, ValueError):
        raise Unauthenticated("invalid or expired access token") from None


def principal() -> Principal:
    return g.principal


def my_uscc() -> str:
    """The USCC of the signed-in taxpayer (on routes that admit only ``Role.TAXPAYER``)."""
    uscc = g.principal.uscc
    assert uscc is not None  # a taxpayer principal is always bound to its USCC
    return uscc
