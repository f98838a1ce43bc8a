"""The webhook channel against a real local HTTP receiver: signatures, retries, backoff, dead letters."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import event, select

from app.extensions import db
from app.push import fanout, service, sweeper
from app.push.delivery import send_webhooks
from app.push.models import Delivery
from app.push.settings import SEND_JOB, RecordingJobs, push
from app.push.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, GatewayResult, HttpGateway, verify_signature
from app.services import services

SECRET = "gateway-shared-secret"


class Receiver:
    """A push gateway stand-in: records each call and answers from a script (then 200)."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.script: list[int | str] = []  # status codes, or "hang" to sleep past the client's timeout
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append({"body": json.loads(body), "key": self.headers[DELIVERY_HEADER],
                                       "signed": verify_signature(SECRET, self.headers[SIGNATURE_HEADER], body)})
                answer = receiver.script.pop(0) if receiver.script else 200
                if answer == "hang":
                    time.sleep(1.0)
                    answer = 200
                self.send_response(int(answer))
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/push"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(app):
    receiver = Receiver()
    with app.app_context():
        p = push()
        p.settings = dataclasses.replace(p.settings, webhook_enabled=True, webhook_max_attempts=3,
                                         webhook_backoff=(30, 120))
        p.gateway = HttpGateway(receiver.url, SECRET, timeout=0.3)
        yield receiver
    receiver.close()


def publish_red_policy(title="信用修复指引"):
    s = services()
    pid = service.create_policy({"title": title, "body": "正文", "category": "credit_repair",
                                 "rule": {"==": [{"var": "color"}, "red"]}}, created_by="admin", uow=s.uow(),
                                clock=s.clock)["id"]
    service.publish_policy(pid, by="admin", uow=s.uow(), clock=s.clock, jobs=push().jobs)
    return pid


def webhook_row():
    with db.session() as session:
        d = session.scalars(select(Delivery).where(Delivery.channel == "webhook")).one()
        return {"status": d.status, "attempts": d.attempts, "error": d.error, "due_at": d.due_at}


def tick():
    p = push()
    return sweeper.tick(session_factory=db.session, settings=p.settings, jobs=p.jobs, now=services().clock.now())


def test_each_message_is_posted_once_signed_with_hmac_sha256(receiver, factory):
    uscc = factory.taxpayer("D")
    publish_red_policy()
    [call] = receiver.calls
    assert call["signed"] and call["body"]["uscc"] == uscc and call["body"]["digest"] is False
    assert call["body"]["messages"][0]["title"] == "信用修复指引" and call["body"]["sent_at"].endswith("+08:00")
    assert webhook_row()["status"] == "sent"


def test_a_failing_gateway_is_retried_with_backoff_until_it_answers(receiver, factory, clock):
    factory.taxpayer("D")
    receiver.script = [503, 502]
    publish_red_policy()
    row = webhook_row()
    assert (row["status"], row["attempts"], row["error"]) == ("queued", 1, "HTTP 503")
    clock.advance(seconds=29)
    tick()
    assert len(receiver.calls) == 1  # not due yet
    clock.advance(seconds=1)
    tick()
    assert len(receiver.calls) == 2 and webhook_row()["attempts"] == 2
    clock.advance(seconds=119)
    tick()
    assert len(receiver.calls) == 2
    clock.advance(seconds=1)
    tick()
    row = webhook_row()
    assert len(receiver.calls) == 3 and (row["status"], row["attempts"], row["error"]) == ("sent", 3, None)
    assert len({c["key"] for c in receiver.calls}) == 1  # the same idempotency key every time


def test_a_retry_that_comes_due_after_the_policy_expired_is_suppressed_not_posted(receiver, factory, clock):
    factory.taxpayer("D")
    receiver.script = [503]
    s = services()
    policy_id = service.create_policy({"title": "今日截止提醒", "body": "正文", "category": "filing_reminder",
                                       "rule": {"==": [{"var": "color"}, "red"]},
                                       "valid_to": s.clock.now() + timedelta(seconds=20)},
                                      created_by="admin", uow=s.uow(), clock=s.clock)["id"]
    service.publish_policy(policy_id, by="admin", uow=s.uow(), clock=s.clock, jobs=push().jobs)
    assert webhook_row()["status"] == "queued" and len(receiver.calls) == 1  # first attempt failed
    clock.advance(seconds=30)  # the retry is due; the reminder ran out at 20 s
    tick()
    assert len(receiver.calls) == 1
    with db.session() as session:
        row = session.scalars(select(Delivery).where(Delivery.channel == "webhook")).one()
        assert (row.status, row.reason) == ("suppressed", "expired")


def test_after_the_last_attempt_the_message_is_dead_lettered_with_its_error(receiver, factory, clock):
    factory.taxpayer("D")
    receiver.script = [500, 500, 500, 500]
    publish_red_policy()
    for _ in range(3):
        clock.advance(seconds=121)
        tick()
    row = webhook_row()
    assert (row["status"], row["attempts"]) == ("failed", 3) and row["error"] == "HTTP 500 after 3 attempt(s)"
    assert len(receiver.calls) == 3


def test_a_gateway_that_does_not_answer_in_time_counts_as_a_failed_attempt(receiver, factory):
    factory.taxpayer("D")
    receiver.script = ["hang"]
    publish_red_policy()
    row = webhook_row()
    assert row["status"] == "queued" and row["attempts"] == 1 and "timed out" in row["error"]


def test_a_rejected_message_is_dead_lettered_at_once(receiver, factory):
    factory.taxpayer("D")
    receiver.script = [400]
    publish_red_policy()
    assert webhook_row()["status"] == "failed" and len(receiver.calls) == 1


def test_the_same_send_job_run_twice_posts_nothing_twice(receiver, factory):
    factory.taxpayer("D")
    receiver.script = [503]
    publish_red_policy()
    with db.session() as session:
        ids = list(session.scalars(select(Delivery.id).where(Delivery.channel == "webhook")))
    p = push()
    now = services().clock.now()
    for _ in range(2):
        send_webhooks(ids, session_factory=db.session, gateway=p.gateway, settings=p.settings, now=now)
    assert len(receiver.calls) == 2  # the failed first post, then one retry; the second run sent nothing


def test_inbox_and_webhook_each_get_exactly_one_row(receiver, factory):
    factory.taxpayer("D")
    pid = publish_red_policy()
    s = services()
    service.publish_policy(pid, by="admin", uow=s.uow(), clock=s.clock, jobs=push().jobs)
    counts = service.delivery_counts(pid, uow=s.uow())
    assert counts["by_channel"] == {"inbox": {"delivered": 1}, "webhook": {"sent": 1}}
    assert len(receiver.calls) == 1


def test_messages_over_the_cap_reach_the_gateway_next_morning_as_one_digest(receiver, factory, clock):
    from datetime import datetime, timezone

    from app.push.models import Preference

    uscc = factory.taxpayer("D")
    with db.session() as session:
        session.add(Preference(uscc=uscc, opt_out_categories=[], opt_out_channels=[], quiet_hours="", daily_cap=1))
        session.commit()
    for n in range(3):
        publish_red_policy(title=f"政策{n}")
    assert len(receiver.calls) == 1
    clock.current = datetime(2026, 11, 26, 0, 0, tzinfo=timezone.utc)  # 08:00 next day in Shanghai
    tick()
    digest = receiver.calls[1]["body"]
    assert len(receiver.calls) == 2 and digest["digest"] is True
    assert [m["title"] for m in digest["messages"]] == ["政策1", "政策2"]
    assert receiver.calls[1]["key"] == ",".join(map(str, digest["delivery_ids"]))


class HangingGateway:
    """A gateway that answers only after ``hang_seconds`` of the test clock (0 = at once); the push
    tick fires while it hangs, as the cron would. The sweeper's own send jobs, run inline, answer at once."""

    def __init__(self, clock, *, hang_seconds, answer: GatewayResult, first_only=False):
        self.clock, self.hang_seconds, self.answer, self.first_only = clock, hang_seconds, answer, first_only
        self.keys: list[str] = []
        self.hanging = False

    def send(self, message, *, key, timestamp):
        self.keys.append(key)
        if self.hanging or (self.first_only and len(self.keys) > 1):
            return GatewayResult(True, 200)
        self.hanging = True
        self.clock.advance(seconds=self.hang_seconds)
        tick()
        self.hanging = False
        return self.answer


@pytest.fixture
def gateway_off(app):
    """Webhooks on, no gateway yet: each test plugs in its own."""
    with app.app_context():
        p = push()
        p.settings = dataclasses.replace(p.settings, webhook_enabled=True, webhook_timeout=5.0)
        yield p


def queued_webhook_ids(factory, taxpayers):
    """Red taxpayers and a published policy whose send jobs were only recorded: their webhook rows wait queued."""
    for _ in range(taxpayers):
        factory.taxpayer("D")
    s, p, jobs = services(), push(), RecordingJobs()
    pid = service.create_policy({"title": "信用修复指引", "body": "正文", "category": "credit_repair",
                                 "rule": {"==": [{"var": "color"}, "red"]}}, created_by="admin", uow=s.uow(),
                                clock=s.clock)["id"]
    service.publish_policy(pid, by="admin", uow=s.uow(), clock=s.clock, jobs=jobs)
    fanout.plan_fanout(pid, session_factory=db.session, settings=p.settings, jobs=jobs, now=s.clock.now())
    for _func, (chunk_id,) in [call for call in jobs.calls if call[0] == fanout.MATCH_JOB]:
        fanout.match_chunk(chunk_id, session_factory=db.session, settings=p.settings, jobs=jobs, now=s.clock.now())
    return [i for func, args in jobs.calls if func == SEND_JOB for i in args[0]]


def send(ids, *, session_factory=db.session):
    p = push()
    return send_webhooks(ids, session_factory=session_factory, gateway=p.gateway, settings=p.settings,
                         now=services().clock.now())


def webhook_statuses():
    with db.session() as session:
        return [d.status for d in session.scalars(select(Delivery).where(Delivery.channel == "webhook"))]


def test_two_send_jobs_racing_over_the_same_rows_post_each_message_once(gateway_off, factory):
    ids = queued_webhook_ids(factory, taxpayers=2)
    settings, now = gateway_off.settings, services().clock.now()
    keys: list[str] = []
    b_posting, a_done = threading.Event(), threading.Event()

    class Gateway:
        def __init__(self, job: str):
            self.job = job

        def send(self, message, *, key, timestamp):
            keys.append(key)
            if self.job == "B":  # job B is still busy posting while job A goes on
                b_posting.set()
                a_done.wait(10)
            return GatewayResult(True, 200)

    job_b = threading.Thread(target=send_webhooks, args=(ids,), kwargs=dict(
        session_factory=db.session, gateway=Gateway("B"), settings=settings, now=now))

    def job_a_session():
        """Job A's session: job B (same rows, same instant) claims them and starts posting just
        before A's claim reaches the database."""
        session = db.session()

        @event.listens_for(session, "do_orm_execute")
        def _before(state):
            if state.is_update and not job_b.is_alive() and not b_posting.is_set():
                job_b.start()
                b_posting.wait(10)
        return session

    try:
        send_webhooks(ids, session_factory=job_a_session, gateway=Gateway("A"), settings=settings, now=now)
    finally:
        a_done.set()
        job_b.join(10)
    assert sorted(keys) == sorted(map(str, ids))  # each message once
    assert webhook_statuses() == ["sent", "sent"]


def test_a_batch_that_outlasts_sweep_after_is_not_posted_again_by_the_sweeper(gateway_off, factory, clock):
    gateway_off.settings = dataclasses.replace(gateway_off.settings, sweep_after=timedelta(seconds=10))
    ids = queued_webhook_ids(factory, taxpayers=3)
    # every POST runs into the 5 s timeout: the batch takes 15 s, longer than the 10 s sweep_after
    gateway_off.gateway = HangingGateway(clock, hang_seconds=5, answer=GatewayResult(False, None, "timed out"))
    send(ids)
    assert sorted(gateway_off.gateway.keys) == sorted(map(str, ids))  # each once
    assert webhook_statuses() == ["queued"] * 3  # waiting for their retry


def test_a_send_job_that_overran_its_lease_posts_nothing_the_sweeper_took_over(gateway_off, factory, clock):
    ids = queued_webhook_ids(factory, taxpayers=3)
    # the first POST hangs far beyond its timeout (DNS, a trickling answer): the lease runs out and
    # the tick hands all three rows to a new send job, which posts them
    gateway_off.gateway = HangingGateway(clock, hang_seconds=3600, first_only=True,
                                         answer=GatewayResult(False, None, "timed out"))
    send(ids)
    first, *rest = sorted(ids)
    assert Counter(gateway_off.gateway.keys) == {str(first): 2, **{str(i): 1 for i in rest}}
    assert webhook_statuses() == ["sent"] * 3  # the late timeout does not undo the new job's success
