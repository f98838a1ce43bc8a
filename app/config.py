"""Settings, read once from the environment.

Every variable carries the ``SHUIMA_`` prefix; ``DATABASE_URL`` and ``REDIS_URL`` are also
accepted bare because every PaaS and CI sets them that way. Tests pass a mapping to
``create_app`` instead of touching the environment. The README has the full table.

In production mode (``SHUIMA_ENV=production``) secrets have no default: a missing
``SHUIMA_SECRET_KEY`` stops the process at start. In development mode they are generated
once and kept under ``instance/`` so restarts and the CLI agree with the running server.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Mapping

PREFIX = "SHUIMA_"

#: Setting name → (default, parser). ``None`` defaults are resolved in ``load_config``.
DEFAULTS: dict[str, tuple[Any, type]] = {
    "ENV": ("development", str),
    "INSTANCE_PATH": (None, str),
    "DATABASE_URL": (None, str),
    "REDIS_URL": (None, str),
    "SECRET_KEY": (None, str),
    "ISSUER": ("https://shuima.example.cn", str),
    # Lifetime of a color-code token, seconds (DOMAIN.md §3: TOTP-style 30–60 s).
    "CODE_TTL_SECONDS": (60, int),
    # The app is told to refresh this many seconds before its token expires.
    "CODE_REFRESH_MARGIN_SECONDS": (5, int),
    # Clock skew a verifier tolerates on `exp`.
    "CODE_LEEWAY_SECONDS": (5, int),
    # How long the taxpayer status stays cached in Redis; grade changes overwrite it anyway.
    "STATUS_CACHE_TTL_SECONDS": (86400, int),
    # How often a process re-reads signing keys from the database (rotation by another process).
    "KEYRING_REFRESH_SECONDS": (60, int),
    "ACCESS_TOKEN_TTL_SECONDS": (3600, int),
    # How long a refresh token renews access tokens without the password (30 days).
    "REFRESH_TOKEN_TTL_SECONDS": (30 * 86400, int),
    # How often a process re-reads the accounts and log-ins whose tokens were revoked lately (deactivations,
    # sign-outs), whose live access tokens it refuses.
    "REVOCATION_REFRESH_SECONDS": (10, int),
    # Limits use the `limits` notation: "<count> per <n> <unit>".
    "VERIFY_RATE_LIMIT": ("120 per 1 minute", str),
    "LOGIN_FAILURES_PER_USER": ("5 per 15 minutes", str),
    "LOGIN_FAILURES_PER_ADDRESS": ("30 per 15 minutes", str),
    # argon2id cost; tests lower it, production keeps the library's defaults.
    "PASSWORD_TIME_COST": (3, int),
    "PASSWORD_MEMORY_COST": (65536, int),
    "PRIVILEGES_FILE": (None, str),
    "BADGE_FONT": (None, str),
    "LOG_LEVEL": ("INFO", str),
    "LOG_JSON": (True, bool),
    "QUEUE_NAME": ("shuima", str),
    # Run RQ jobs in-process (tests and one-off CLI runs without a worker).
    "QUEUE_SYNC": (False, bool),
    "IMPORT_CHUNK_ROWS": (5000, int),
    # Rural credit: region policy (thresholds, limits, LPR + bp, cycle) and the default scorecard, as JSON
    # files; unset = the files shipped in app/rural/. Village figures are cached this long at most.
    "RURAL_POLICY_FILE": (None, str),
    "RURAL_SCORECARD_FILE": (None, str),
    "RURAL_STATUS_CACHE_TTL_SECONDS": (172800, int),
    # --- preference push (app/push) ---
    # Taxpayers matched per fan-out job (hundreds to a few thousand; never one job per taxpayer).
    "PUSH_CHUNK_SIZE": (2000, int),
    # Default quiet hours, Asia/Shanghai, "HH:MM-HH:MM" ("off" = none); taxpayers may change theirs.
    "PUSH_QUIET_HOURS": ("21:00-08:00", str),
    # Default messages per taxpayer, channel and local day before the rest wait for the digest.
    "PUSH_DAILY_CAP": (5, int),
    # A queued row or fan-out chunk untouched this long is re-dispatched by the sweeper (kill -9 safety).
    "PUSH_SWEEP_AFTER_SECONDS": (120, int),
    # Push gateway for the webhook channel; unset = the channel is off. Signed with HMAC-SHA256.
    "PUSH_WEBHOOK_URL": (None, str),
    "PUSH_WEBHOOK_SECRET": (None, str),
    "PUSH_WEBHOOK_TIMEOUT_SECONDS": (5.0, float),
    "PUSH_WEBHOOK_MAX_ATTEMPTS": (5, int),
    # Seconds to wait before retry 1, 2, …; the last step repeats.
    "PUSH_WEBHOOK_BACKOFF_SECONDS": ("30,120,600,1800", str),
    # Messages per webhook job (one job sends a batch, never one job per taxpayer).
    "PUSH_WEBHOOK_BATCH": (200, int),
    # Recurring reminders as data (JSON); default: app/push/calendar.json.
    "PUSH_CALENDAR_FILE": (None, str),
    # Extra non-working days (public holidays), comma-separated YYYY-MM-DD, for deadline moves.
    "PUSH_HOLIDAYS": ("", str),
    # How often the push tick (release, retry, sweep, digest) runs in `python -m workers.push_cron`.
    "PUSH_TICK_SECONDS": (30, int),
    # When the calendar job runs (cron, UTC): 01:00 UTC = 09:00 Asia/Shanghai.
    "PUSH_CALENDAR_CRON": ("0 1 * * *", str),
    # Reverse proxies in front of gunicorn whose X-Forwarded-For is trusted (log-in throttling
    # per address needs the real client address).
    "PROXY_HOPS": (0, int),
}


def _parse(raw: str, kind: type) -> Any:
    if kind is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    return kind(raw)


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the process must not start."""


def load_config(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the settings: defaults, then the environment, then ``overrides``."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    config: dict[str, Any] = {}
    for name, (default, kind) in DEFAULTS.items():
        raw = environ.get(PREFIX + name)
        if raw is None and name in {"DATABASE_URL", "REDIS_URL"}:
            raw = environ.get(name)
        config[name] = _parse(raw, kind) if raw not in (None, "") else default
    config.update(overrides)

    instance = Path(config["INSTANCE_PATH"] or Path.cwd() / "instance").resolve()
    config["INSTANCE_PATH"] = str(instance)
    production = config["ENV"] == "production"
    if not config["SECRET_KEY"]:
        if production:
            raise ConfigError("SHUIMA_SECRET_KEY must be set in production mode")
        config["SECRET_KEY"] = _dev_secret(instance / "secret_key")
    if not config["DATABASE_URL"]:
        if production:
            raise ConfigError("DATABASE_URL must be set in production mode")
        instance.mkdir(parents=True, exist_ok=True)
        config["DATABASE_URL"] = f"sqlite:///{instance / 'shuima.db'}"
    config["DATABASE_URL"] = normalize_database_url(config["DATABASE_URL"])
    return config


def normalize_database_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (the driver we ship), not SQLAlchemy's psycopg2 default."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _dev_secret(path: Path) -> str:
    """Generate a development secret once and keep it, readable by the owner only."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value
