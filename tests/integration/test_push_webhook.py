"""The webhook channel against a real local HTTP receiver: signatures, retries, backoff, dead letters."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from app.extensions import db
from app.push import service, sweeper
from app.push.delivery import send_webhooks
from app.push.models import Delivery
from app.push.settings import push
from app.push.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, HttpGateway, verify_signature
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
