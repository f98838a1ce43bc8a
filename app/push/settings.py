"""The push module's wiring: settings parsed once, the job queue and the gateway behind small interfaces.

``register(app)`` (called from ``create_app``) stores a ``Push`` in ``app.extensions`` and
subscribes the event handlers; views, jobs and the CLI reach it with ``push()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Callable, Mapping, Protocol, TypeVar

from flask import Flask, current_app

from app.push.domain import Preferences, QuietHours
from app.push.webhook import Gateway, HttpGateway

T = TypeVar("T")


#: The webhook send job (``app.push.delivery.send_webhooks`` behind ``workers.push``).
SEND_JOB = "workers.push.send_webhooks"


@dataclass(frozen=True)
class PushSettings:
    chunk_size: int = 2000
    quiet_hours: QuietHours | None = None
    daily_cap: int = 5
    sweep_after: timedelta = timedelta(seconds=120)
    webhook_enabled: bool = False
    #: Seconds one POST may take (``SHUIMA_PUSH_WEBHOOK_TIMEOUT_SECONDS``); sizes a send job's lease.
    webhook_timeout: float = 5.0
    webhook_max_attempts: int = 5
    webhook_backoff: tuple[int, ...] = (30, 120, 600, 1800)
    webhook_batch: int = 200
    holidays: frozenset[date] = frozenset()
    calendar_file: str | None = None

    def send_lease(self, messages: int) -> timedelta:
        """How long a send job holds the rows it claimed: every one of its POSTs timing out, plus ``sweep_after``.

        The claim is taken once per batch and never renewed (a job's ``now`` is the clock when it
        started), so it must outlast the batch's worst case: 200 messages at a 5 s timeout take up to
        1,000 s, far past the 120 s ``sweep_after``, and a lease that ran out mid-batch would let the
        sweeper post the rest a second time. The price: the rows of a send job whose worker died
        wait that long (≈19 min with the defaults) before the sweeper sends them. The send job's
        RQ timeout is the same (``build_push``), so RQ does not kill a batch that is still in time.
        """
        return self.sweep_after + messages * timedelta(seconds=self.webhook_timeout)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> "PushSettings":
        """Parse the ``PUSH_*`` settings; raises ``ValueError`` naming a malformed one."""
        quiet = _parse(cfg, "PUSH_QUIET_HOURS", QuietHours.parse)
        holidays = _parse(cfg, "PUSH_HOLIDAYS", lambda text: frozenset(date.fromisoformat(d) for d in _items(text)))
        backoff = _parse(cfg, "PUSH_WEBHOOK_BACKOFF_SECONDS", lambda text: tuple(int(s) for s in _items(text)))
        return cls(
            chunk_size=max(1, cfg["PUSH_CHUNK_SIZE"]), quiet_hours=quiet, daily_cap=cfg["PUSH_DAILY_CAP"],
            sweep_after=timedelta(seconds=cfg["PUSH_SWEEP_AFTER_SECONDS"]),
            webhook_enabled=bool(cfg["PUSH_WEBHOOK_URL"]), webhook_timeout=cfg["PUSH_WEBHOOK_TIMEOUT_SECONDS"],
            webhook_max_attempts=cfg["PUSH_WEBHOOK_MAX_ATTEMPTS"],
            webhook_backoff=backoff, webhook_batch=max(1, cfg["PUSH_WEBHOOK_BATCH"]), holidays=holidays,
            calendar_file=cfg["PUSH_CALENDAR_FILE"],
        )

    def default_preferences(self) -> Preferences:
        return Preferences(quiet_hours=self.quiet_hours, daily_cap=self.daily_cap)


def _items(text: str) -> list[str]:
    """The non-empty items of a comma-separated setting."""
    return [item.strip() for item in text.split(",") if item.strip()]


def _parse(cfg: Mapping[str, Any], name: str, parse: Callable[[str], T]) -> T:
    """``parse(cfg[name])``, its ``ValueError`` prefixed with the environment variable's name."""
    try:
        return parse(cfg[name])
    except ValueError as exc:
        raise ValueError(f"SHUIMA_{name}: {exc}") from exc


class Jobs(Protocol):
    """Where background work goes: RQ in production, a recorder in unit tests."""

    def enqueue(self, func: str, *args: Any) -> None: ...

    def enqueue_many(self, func: str, arg_lists: list[tuple]) -> None: ...


class RqJobs:
    """Enqueues on the app's RQ queue (runs inline when ``QUEUE_SYNC`` is on)."""

    #: Generous: one chunk job writes a few thousand rows. Jobs named in ``timeouts`` get theirs.
    JOB_TIMEOUT = 600

    def __init__(self, queue_getter: Any, *, timeouts: dict[str, int] | None = None):
        self._queue = queue_getter
        self._timeouts = timeouts or {}

    def _timeout(self, func: str) -> int:
        return self._timeouts.get(func, self.JOB_TIMEOUT)

    def enqueue(self, func: str, *args: Any) -> None:
        self._queue().enqueue(func, *args, job_timeout=self._timeout(func))

    def enqueue_many(self, func: str, arg_lists: list[tuple]) -> None:
        from rq import Queue

        queue = self._queue()
        if not queue.is_async:
            for args in arg_lists:
                self.enqueue(func, *args)
            return
        for start in range(0, len(arg_lists), 500):
            queue.enqueue_many([Queue.prepare_data(func, args=args, timeout=self._timeout(func))
                                for args in arg_lists[start:start + 500]])


@dataclass
class RecordingJobs:
    """A ``Jobs`` that only records (unit tests assert on what would have been enqueued)."""

    calls: list[tuple[str, tuple]] = field(default_factory=list)

    def enqueue(self, func: str, *args: Any) -> None:
        self.calls.append((func, args))

    def enqueue_many(self, func: str, arg_lists: list[tuple]) -> None:
        self.calls.extend((func, args) for args in arg_lists)


@dataclass
class Push:
    settings: PushSettings
    jobs: Jobs
    gateway: Gateway | None


def build_push(app: Flask) -> Push:
    """The push wiring from the app's settings; raises ``ConfigError`` for a malformed ``PUSH_*`` setting."""
    from app.config import ConfigError
    from app.extensions import redis_store

    cfg = app.config
    try:
        settings = PushSettings.from_config(cfg)
    except ValueError as exc:
        raise ConfigError(f"push settings: {exc}") from exc
    gateway = None
    if settings.webhook_enabled:
        if not cfg["PUSH_WEBHOOK_SECRET"]:
            raise ConfigError("SHUIMA_PUSH_WEBHOOK_SECRET must be set when SHUIMA_PUSH_WEBHOOK_URL is")
        gateway = HttpGateway(cfg["PUSH_WEBHOOK_URL"], cfg["PUSH_WEBHOOK_SECRET"],
                              timeout=settings.webhook_timeout)
    # a send job may take its whole lease (every POST of its batch timing out): RQ must not kill it first
    send_timeout = int(settings.send_lease(settings.webhook_batch).total_seconds())
    jobs = RqJobs(lambda: redis_store.queue, timeouts={SEND_JOB: max(send_timeout, RqJobs.JOB_TIMEOUT)})
    return Push(settings=settings, jobs=jobs, gateway=gateway)


def push() -> Push:
    """The current app's push wiring."""
    return current_app.extensions["shuima.push"]
