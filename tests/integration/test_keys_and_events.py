"""Signing-key rotation, the outbox and the event bus, against the real database and Redis."""

from __future__ import annotations

import json

import jwt
from rq import Queue, SimpleWorker
from sqlalchemy import select

from app.codes.keys import create_key
from app.codes.models import SigningKey
from app.events import CHANNEL, OutboxEvent, bus
from app.extensions import db, redis_store
from app.services import services


def _rotate(app, clock) -> str:
    with app.app_context(), db.session() as session:
        kid = create_key(session, secret=app.config["SECRET_KEY"], now=clock.now())
        session.commit()
    return kid


def test_rotation_signs_with_the_new_key_and_keeps_the_old_until_its_tokens_expire(app, factory, client, clock):
    _uscc, headers = factory.as_taxpayer("A")
    old_token = client.get("/api/v1/me/code", headers=headers).json["token"]
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    new_kid = _rotate(app, clock)
    clock.advance(seconds=61)  # past the keyring refresh: this process sees the rotation

    new_token = client.get("/api/v1/me/code", headers=headers).json["token"]
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    published = {k["kid"] for k in client.get("/.well-known/jwks.json").json["keys"]}
    assert published == {old_kid, new_kid}

    clock.advance(seconds=10)  # old key retired 71 s ago > 60 s lifetime + 5 s leeway
    assert {k["kid"] for k in client.get("/.well-known/jwks.json").json["keys"]} == {new_kid}
    result = client.post("/api/v1/verifications", json={"token": old_token}, headers=factory.as_clerk()).json
    assert result["reason"] == "unknown_key"


def test_jwks_entries_are_rfc7638_thumbprints_and_public_only(app, client, factory):
    _uscc, headers = factory.as_taxpayer("A")
    client.get("/api/v1/me/code", headers=headers)
    (key,) = client.get("/.well-known/jwks.json").json["keys"]
    assert set(key) == {"kty", "crv", "x", "kid", "use", "alg"} and "d" not in key
    assert jwt.PyJWK.from_dict(key).key_id == key["kid"]


def test_private_keys_are_stored_encrypted(app, factory, client):
    _uscc, headers = factory.as_taxpayer("A")
    client.get("/api/v1/me/code", headers=headers)
    with app.app_context(), db.session() as session:
        (row,) = session.scalars(select(SigningKey)).all()
    assert b"PRIVATE KEY" not in row.private_key


def test_grade_change_writes_outbox_notifies_subscribers_and_announces_on_redis(app, factory, client):
    seen: list[dict] = []
    unsubscribe = bus.subscribe("GradeChanged", seen.append)
    pubsub = redis_store.client.pubsub()
    pubsub.subscribe(CHANNEL)
    pubsub.get_message(timeout=1)
    try:
        uscc = factory.taxpayer("A")
        client.put(f"/api/v1/taxpayers/{uscc}/grade", headers=factory.as_admin(),
                   json={"grade": "D", "year": 2026, "reason": "直接判级"})
    finally:
        unsubscribe()
    assert [(e["uscc"], e["old_grade"], e["new_grade"], e["new_state"]) for e in seen] == [(uscc, "A", "D", "normal")]
    messages = []
    while (message := pubsub.get_message(timeout=1)) is not None:
        if message["type"] == "message":
            messages.append(json.loads(message["data"]))
    with app.app_context(), db.session() as session:
        rows = [{"id": r.id, "type": r.type, "payload": r.payload}
                for r in session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))]
    assert [r["type"] for r in rows] == ["GradesImported", "GradeChanged"]
    # Pub/sub channels are server-wide, not per Redis database: another process using the same
    # server may announce its own events in between. Ours must all be there, in outbox order.
    assert [m for m in messages if m in rows] == rows


def test_worker_runs_async_subscribers_once_per_event_and_marks_it_dispatched(app, factory, client):
    uscc = factory.taxpayer("B")
    ran: list[str] = []
    unsubscribe = bus.subscribe("GradeChanged", lambda payload: ran.append(payload["uscc"]), in_worker=True)
    queue = Queue("test-events", connection=redis_store.client)
    original = bus.enqueue
    bus.enqueue = lambda event_id: queue.enqueue("workers.events.deliver_event", event_id)
    try:
        client.put(f"/api/v1/taxpayers/{uscc}/grade", headers=factory.as_admin(),
                   json={"grade": "A", "year": 2026, "score": "91", "reason": "复评调整"})
        assert ran == [] and queue.count == 1
        with app.app_context():
            SimpleWorker([queue], connection=redis_store.client).work(burst=True)
    finally:
        bus.enqueue = original
        unsubscribe()
    assert ran == [uscc]
    with app.app_context(), db.session() as session:
        row = session.scalars(select(OutboxEvent).where(OutboxEvent.type == "GradeChanged")).one()
        assert row.dispatched_at is not None


def test_an_event_whose_worker_job_fails_once_is_tried_again_by_the_scheduler(app, factory, client, monkeypatch):
    from rq.job import Job

    from app.events import DELIVERY_RETRY_SECONDS

    uscc = factory.taxpayer("B")
    attempts: list[str] = []

    def flaky(payload: dict) -> None:
        attempts.append(payload["uscc"])
        if len(attempts) == 1:
            raise RuntimeError("database is locked")  # a transient failure in the worker

    unsubscribe = bus.subscribe("GradeChanged", flaky, in_worker=True)
    queue = Queue("test-events-retry", connection=redis_store.client)
    monkeypatch.setattr(redis_store, "queue", queue)  # the app's own wiring (create_app), on an asynchronous queue
    try:
        client.put(f"/api/v1/taxpayers/{uscc}/grade", headers=factory.as_admin(),
                   json={"grade": "D", "year": 2026, "reason": "直接判级"})
        with app.app_context():
            SimpleWorker([queue], connection=redis_store.client).work(burst=True)
            scheduled = queue.scheduled_job_registry
            assert len(attempts) == 1 and scheduled.get_job_ids(), "the failed job is scheduled to run again"
            job = Job.fetch(scheduled.get_job_ids()[0], connection=redis_store.client)
            assert job.retries_left == len(DELIVERY_RETRY_SECONDS) - 1
            # what RQ's scheduler does when the retry is due (the test does not wait the delay)
            scheduled.remove(job)
            queue.enqueue_job(job)
            SimpleWorker([queue], connection=redis_store.client).work(burst=True)
    finally:
        unsubscribe()
        queue.empty()
        for registry in (queue.failed_job_registry, queue.scheduled_job_registry):
            for job_id in registry.get_job_ids():
                registry.remove(job_id, delete_job=True)
    assert attempts == [uscc, uscc]
    with app.app_context(), db.session() as session:
        row = session.scalars(select(OutboxEvent).where(OutboxEvent.type == "GradeChanged")).one()
        assert row.dispatched_at is not None


def test_cache_fill_never_overwrites_a_newer_status(app, factory):
    uscc = factory.taxpayer("A")
    with app.app_context():
        cache = services().status_cache
        newer = cache.get(uscc)
        assert newer is not None and newer.grade.value == "A"
        from dataclasses import replace

        from app.taxpayers.domain import Grade

        cache.fill(replace(newer, grade=Grade.D))  # a slow reader holding an old row
        assert cache.get(uscc).grade is Grade.A


class LateCache:
    """A status cache whose ``put`` is held back: the pause between one writer's commit and its write."""

    def __init__(self) -> None:
        self.held: list = []

    def put(self, status) -> None:  # type: ignore[no-untyped-def]
        self.held.append(status)


def test_a_cache_write_that_lands_late_never_undoes_a_grade_committed_after_it(app, factory, client):
    from decimal import Decimal

    from app.taxpayers.domain import Grade, State
    from app.taxpayers.service import change_grade

    uscc, me = factory.as_taxpayer("A")
    with app.app_context():
        s = services()
        late = LateCache()
        change_grade(uscc, grade=Grade.D, state=State.NORMAL, score=None, year=2025, reason="直接判级",
                     changed_by="admin1", uow=s.uow(), cache=late, clock=s.clock)  # commits first
        s.clock.advance(seconds=1)
        change_grade(uscc, grade=Grade.B, state=State.NORMAL, score=Decimal("85"), year=2025, reason="复评",
                     changed_by="admin2", uow=s.uow(), cache=s.status_cache, clock=s.clock)  # commits last
        assert len(late.held) == 1 and s.status_cache.put_many(late.held) == 0  # it arrives last: refused
        assert s.status_cache.get(uscc).grade is Grade.B
    assert client.get("/api/v1/me/code", headers=me).json["color"] == "silver"


def test_an_import_that_regrades_a_taxpayer_outranks_an_earlier_change_whose_write_lands_late(app, factory, client):
    import io

    from app.taxpayers.domain import Grade, State
    from app.taxpayers.service import change_grade

    uscc, me = factory.as_taxpayer("A")
    late = LateCache()
    with app.app_context():
        s = services()
        change_grade(uscc, grade=Grade.D, state=State.NORMAL, score=None, year=2025, reason="直接判级",
                     changed_by="admin1", uow=s.uow(), cache=late, clock=s.clock)
    csv = f"uscc,name,grade,year\n{uscc},宁波海曙云帆贸易有限公司,B,2026\n".encode()
    report = client.post("/api/v1/grades/imports", headers=factory.as_admin(), content_type="multipart/form-data",
                         data={"file": (io.BytesIO(csv), "grades.csv")}).json
    assert report["changed"] == 1
    with app.app_context():
        cache = services().status_cache
        assert len(late.held) == 1 and cache.put_many(late.held) == 0 and cache.get(uscc).grade is Grade.B
    assert client.get("/api/v1/me/code", headers=me).json["color"] == "silver"


def test_events_that_could_not_be_enqueued_are_replayed(app, factory, client):
    uscc = factory.taxpayer("B")
    ran: list[str] = []
    unsubscribe = bus.subscribe("GradeChanged", lambda payload: ran.append(payload["uscc"]), in_worker=True)
    original = bus.enqueue

    def redis_down(_event_id: int) -> None:
        raise ConnectionError("redis is down")

    bus.enqueue = redis_down
    try:
        response = client.put(f"/api/v1/taxpayers/{uscc}/grade", headers=factory.as_admin(),
                              json={"grade": "C", "year": 2026, "score": "60", "reason": "动态调整"})
        assert response.status_code == 200 and ran == []
        bus.enqueue = original  # QUEUE_SYNC: jobs run inline once enqueued
        from app.cli import cli

        result = app.test_cli_runner().invoke(cli, ["events", "replay"])
        assert result.output.strip() == "enqueued 1 pending event(s)"
        again = app.test_cli_runner().invoke(cli, ["events", "replay"])
        assert again.output.strip() == "enqueued 0 pending event(s)"
    finally:
        bus.enqueue = original
        unsubscribe()
    assert ran == [uscc]
