"""The webhook channel's boundary: POST a signed JSON message to the configured push gateway.

The signature header is ``X-Shuima-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` over
``"<t>.<raw body>"`` with the shared secret, so a gateway can reject forged and replayed
calls (check the MAC with a constant-time compare and ``t`` against its clock).
``X-Shuima-Delivery`` carries the delivery ids: a gateway that sees the same value twice
(at-least-once after a crash between sending and recording) drops the second copy.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Protocol

SIGNATURE_HEADER = "X-Shuima-Signature"
DELIVERY_HEADER = "X-Shuima-Delivery"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, header: str, body: bytes) -> bool:
    """What a gateway does with the header (used by the tests' receiver)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        expected = sign(secret, int(parts["t"]), body)
    except (KeyError, ValueError):
        return False
    return hmac.compare_digest(expected, header)


@dataclass(frozen=True)
class GatewayResult:
    """``ok`` for a 2xx; otherwise ``status`` (None for a network error or timeout) and ``error``."""

    ok: bool
    status: int | None = None
    error: str | None = None


class Gateway(Protocol):
    def send(self, message: dict[str, Any], *, key: str, timestamp: int) -> GatewayResult: ...


class HttpGateway:
    """POSTs to a URL with a timeout; never raises for HTTP or network failures (they are results)."""

    def __init__(self, url: str, secret: str, *, timeout: float):
        self.url = url
        self.secret = secret
        self.timeout = timeout

    def send(self, message: dict[str, Any], *, key: str, timestamp: int) -> GatewayResult:
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: sign(self.secret, timestamp, body),
            DELIVERY_HEADER: key,
        })
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return GatewayResult(True, response.status)
        except urllib.error.HTTPError as exc:
            return GatewayResult(False, exc.code, f"HTTP {exc.code}")
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return GatewayResult(False, None, f"{type(exc).__name__}: {reason}"[:500])


@dataclass
class FakeGateway:
    """Records what would have been sent; answers from ``script`` (then ``ok``)."""

    script: list[GatewayResult] = field(default_factory=list)
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def send(self, message: dict[str, Any], *, key: str, timestamp: int) -> GatewayResult:
        self.sent.append((key, message))
        return self.script.pop(0) if self.script else GatewayResult(True, 200)
