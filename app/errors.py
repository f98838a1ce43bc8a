"""One error tree for the whole service, mapped to HTTP in one handler.

    DomainError                      500  (never raised bare: a bug)
    ├── InvalidInput                 422  names the field(s) and the reason
    │   └── InvalidIdentifier        422  a USCC or ID number that fails its check
    ├── Unauthenticated              401  no, bad or expired access or refresh token; wrong password
    ├── Forbidden                    403  role or ownership does not admit the call; a deactivated account
    ├── NotFound                     404
    ├── Conflict                     409  the request clashes with current state
    └── RateLimited                  429  too many attempts; `retry_after` seconds

Every error answers with one payload shape: ``{"code", "status", "message", "errors"}``,
the same shape flask-smorest uses for its own validation errors, so clients parse one thing.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class DomainError(Exception):
    """Base of every error the service raises on purpose."""

    status_code = 500

    def __init__(self, message: str, *, errors: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class InvalidInput(DomainError):
    """Input that parses but breaks a rule; ``errors`` maps field → list of reasons."""

    status_code = 422

    @classmethod
    def field(cls, name: str, reason: str) -> "InvalidInput":
        return cls(f"{name}: {reason}", errors={name: [reason]})


class InvalidIdentifier(InvalidInput):
    """A USCC or resident ID number that fails its format or check character."""


class Unauthenticated(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class RateLimited(DomainError):
    status_code = 429

    def __init__(self, message: str, *, retry_after: int = 60):
        super().__init__(message)
        self.retry_after = retry_after


def error_payload(status: int, message: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one error body: ``{"code", "status", "message", "errors"}``."""
    return {
        "code": status,
        "status": HTTPStatus(status).phrase,
        "message": message,
        "errors": _keyed_by_str(errors or {}),
    }


def _keyed_by_str(errors: Any) -> Any:
    """Marshmallow keys a list's item errors by index (``{"tags": {0: [...], "_schema": [...]}}``);
    JSON keys are strings, and the sorted JSON encoder cannot compare an int with a str (a 500)."""
    if isinstance(errors, dict):
        return {str(key): _keyed_by_str(value) for key, value in errors.items()}
    if isinstance(errors, list):
        return [_keyed_by_str(value) for value in errors]
    return errors
