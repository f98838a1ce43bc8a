"""Fan-out, triggers, the sweeper, quiet hours, caps and digests against the real database."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.push import fanout, service, sweeper
from app.push.calendar import load_reminders
from app.push.delivery import write_deliveries
from app.push.models import Delivery, FanoutChunk, Policy, PushAudit
from app.push.settings import RecordingJobs, push
from app.services import services
from app.taxpayers.models import Taxpayer

RED = {"==": [{"var": "color"}, "red"]}


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def tune(**changes):
    p = push()
    p.settings = dataclasses.replace(p.settings, **changes)


def new_policy(rule=RED, *, category="credit_repair", critical=False, title="信用修复指引", valid_to=None):
    s = services()
    return service.create_policy({"title": title, "body": "正文", "category": category, "rule": rule,
                                  "critical": critical, "valid_to": valid_to}, created_by="admin", uow=s.uow(),
                                 clock=s.clock)["id"]


def publish(policy_id):
    s = services()
    service.publish_policy(policy_id, by="admin", uow=s.uow(), clock=s.clock, jobs=push().jobs)


def rows(**where):
    with db.session() as session:
        stmt = select(Delivery).order_by(Delivery.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(Delivery, key) == value)
        return [dict(id=d.id, uscc=d.uscc, policy_id=d.policy_id, status=d.status, reason=d.reason,
                     digest_id=d.digest_id, bypassed=d.bypassed, due_at=d.due_at) for d in session.scalars(stmt)]


def tick():
    p = push()
    return sweeper.tick(session_factory=db.session, settings=p.settings, jobs=p.jobs, now=services().clock.now())


def withdraw_before_writing(policy_id, monkeypatch) -> list[int]:
    """Staff withdraw the policy just before fanout's first ``write_deliveries`` (after the policy
    was read as live); returns the list that records the withdrawal."""
    real, withdrawn = fanout.write_deliveries, []

    def withdraw_first(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not withdrawn:
            s = services()
            service.delete_policy(policy_id, by="admin", uow=s.uow(), clock=s.clock)
            withdrawn.append(policy_id)
        return real(*args, **kwargs)

    monkeypatch.setattr(fanout, "write_deliveries", withdraw_first)
    return withdrawn


def test_fanout_runs_in_chunk_jobs_not_one_job_per_taxpayer(ctx, factory):
    tune(chunk_size=3)
    for grade in "DDDDDDDAAA":
        factory.taxpayer(grade)
    pid = new_policy(rule=True)
    with db.session() as session:
        session.get(Policy, pid).status = "published"
        session.commit()
    jobs = RecordingJobs()
    p = push()
    enqueued = fanout.plan_fanout(pid, session_factory=db.session, settings=p.settings, jobs=jobs,
                                  now=services().clock.now())
    assert enqueued == 4 and {f for f, _ in jobs.calls} == {"workers.push.match_chunk"}
    for _func, (chunk_id,) in jobs.calls:
        fanout.match_chunk(chunk_id, session_factory=db.session, settings=p.settings, jobs=jobs,
                           now=services().clock.now())
    assert len(rows(status="delivered")) == 10


def test_a_chunk_job_run_twice_writes_no_second_row(ctx, factory):
    tune(chunk_size=2)
    for _ in range(4):
        factory.taxpayer("D")
    pid = new_policy()
    publish(pid)
    with db.session() as session:
        chunk_ids = list(session.scalars(select(FanoutChunk.id).where(FanoutChunk.policy_id == pid)))
        session.execute(FanoutChunk.__table__.update().values(status="pending"))  # as if the marks were lost
        session.commit()
    p = push()
    for chunk_id in chunk_ids:
        fanout.match_chunk(chunk_id, session_factory=db.session, settings=p.settings, jobs=p.jobs,
                           now=services().clock.now())
    assert len(rows()) == 4 and len({r["uscc"] for r in rows()}) == 4


def _left_queued_by_a_dead_worker(uscc: str, pid: int, clock) -> None:
    """The rows a worker killed between its commit and its dispatch leaves behind."""
    with db.session() as session:
        policy = session.get(Policy, pid)
        policy.status, policy.planned_at = "published", clock.now()
        matched = session.execute(select(fanout.Taxpayer.uscc, *fanout.PREFERENCE_COLUMNS)
                                  .outerjoin(fanout.Preference, fanout.Preference.uscc == fanout.Taxpayer.uscc)
                                  .where(fanout.Taxpayer.uscc == uscc)).all()
        write_deliveries(session, policy, matched, now=clock.now(), settings=push().settings)
        session.commit()


def test_sweeper_delivers_rows_left_queued_by_a_dead_worker(ctx, factory, clock):
    uscc = factory.taxpayer("D")
    pid = new_policy()
    _left_queued_by_a_dead_worker(uscc, pid, clock)
    assert [r["status"] for r in rows()] == ["queued"]
    assert tick()["redispatched"] == 0  # its lease has not run out yet
    clock.advance(seconds=121)
    assert tick()["redispatched"] == 1
    assert [r["status"] for r in rows()] == ["delivered"]
    assert tick()["redispatched"] == 0


def test_a_row_left_queued_by_a_dead_worker_is_not_delivered_after_its_policy_expired(ctx, factory, clock):
    uscc = factory.taxpayer("D")
    pid = new_policy(valid_to=clock.now() + timedelta(seconds=60))  # a reminder that ends within the lease
    _left_queued_by_a_dead_worker(uscc, pid, clock)
    clock.advance(seconds=121)
    assert tick()["redispatched"] == 0
    assert [(r["status"], r["reason"], r["due_at"]) for r in rows()] == [("suppressed", "expired", None)]


def test_sweeper_requeues_chunks_and_plans_a_dead_worker_never_finished(ctx, factory, clock):
    factory.taxpayer("D")
    pid = new_policy()
    with db.session() as session:
        policy = session.get(Policy, pid)
        policy.status, policy.published_at, policy.plan_enqueued_at = "published", clock.now(), clock.now()
        session.commit()
    clock.advance(seconds=121)
    result = tick()  # QUEUE_SYNC: the re-enqueued planner and its chunk run inline
    assert result["plans_requeued"] == 1
    assert [r["status"] for r in rows()] == ["delivered"]
    assert tick()["plans_requeued"] == 0


def test_turning_red_brings_the_credit_repair_guidance(ctx, factory, client):
    uscc, me = factory.as_taxpayer("B")
    publish(new_policy())
    assert client.get("/api/v1/me/inbox", headers=me).json["total"] == 0
    client.put(f"/api/v1/taxpayers/{uscc}/grade", headers=factory.as_admin(),
               json={"grade": "D", "year": 2026, "reason": "直接判级：逾期未缴税款"})
    inbox = client.get("/api/v1/me/inbox", headers=me).json
    assert [i["title"] for i in inbox["items"]] == ["信用修复指引"]
    detail = client.get(f"/api/v1/me/inbox/{inbox['items'][0]['id']}", headers=me).json
    assert detail["explanation"] == [{"path": "rule", "clause": "税码颜色 为 red"}]


def test_turning_gold_brings_the_guidance_service_offer_once(ctx, factory, client):
    uscc, me = factory.as_taxpayer("B")
    publish(new_policy({"==": [{"var": "color"}, "gold"]}, category="service_offer", title="一对一纳税辅导"))
    admin = factory.as_admin()
    for grade, score in (("A", "92"), ("B", "80"), ("A", "95")):
        client.put(f"/api/v1/taxpayers/{uscc}/grade", headers=admin,
                   json={"grade": grade, "score": score, "year": 2026, "reason": "复评调整"})
    assert [i["title"] for i in client.get("/api/v1/me/inbox", headers=me).json["items"]] == ["一对一纳税辅导"]


def test_a_newly_imported_taxpayer_receives_the_live_policies_that_fit(ctx, factory):
    publish(new_policy())
    assert rows() == []
    newcomer = factory.taxpayer("D")
    factory.taxpayer("A")
    assert [r["uscc"] for r in rows(status="delivered")] == [newcomer]


def test_a_firm_the_annual_file_moves_into_a_policys_county_receives_it_then(ctx):
    from app.taxpayers.importer import import_grades
    from tests.factories import make_uscc

    def annual_file(region: str) -> None:
        s = services()
        import_grades(f"uscc,name,grade,year,region\n{uscc},宁波某某贸易有限公司,B,2025,{region}\n".encode(),
                      filename="grades.csv", imported_by="admin", uow=s.uow(), cache=s.status_cache, clock=s.clock)

    uscc = make_uscc(424242)
    annual_file("330281")  # 余姚
    s = services()
    policy_id = service.create_policy({"title": "宁海县出口退税提速", "body": "正文", "category": "tax_relief", "rule": True,
                                       "region_scope": ["330226"]}, created_by="admin", uow=s.uow(),  # 宁海 only
                                      clock=s.clock)["id"]
    publish(policy_id)
    assert rows() == []
    annual_file("330226")  # the same grade, a new county: only the profile changed
    assert [(r["uscc"], r["status"]) for r in rows(policy_id=policy_id)] == [(uscc, "delivered")]


def test_quiet_hours_hold_a_message_until_eight_in_the_morning(ctx, factory, clock):
    clock.current = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)  # 22:00 in Shanghai
    factory.taxpayer("D")
    publish(new_policy())
    [row] = rows()
    assert row["status"] == "matched" and row["reason"] == "quiet_hours"
    assert row["due_at"] == datetime(2026, 11, 26, 0, 0, tzinfo=timezone.utc)
    clock.current = datetime(2026, 11, 25, 23, 59, tzinfo=timezone.utc)
    tick()
    assert rows()[0]["status"] == "matched"
    clock.advance(minutes=1)
    tick()
    assert rows()[0]["status"] == "delivered"


def test_critical_message_ignores_quiet_hours_and_opt_outs_and_is_audited(ctx, factory, client, clock):
    clock.current = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)  # 22:00 in Shanghai
    uscc, me = factory.as_taxpayer("D")
    client.put("/api/v1/me/preferences", headers=me, json={"opt_out_categories": ["credit_repair"],
                                                           "opt_out_channels": [], "quiet_hours": {"start": "21:00",
                                                                                                   "end": "08:00"},
                                                           "daily_cap": 5})
    pid = new_policy(critical=True)
    publish(pid)
    [row] = rows()
    assert row["status"] == "delivered" and row["reason"] == "critical_bypass"
    assert row["bypassed"] == "opted_out_category,quiet_hours"
    with db.session() as session:
        actions = set(session.scalars(select(PushAudit.action).where(PushAudit.policy_id == pid)))
    assert actions == {"critical_created", "critical_published"}


def test_an_opted_out_category_is_suppressed_with_its_reason(ctx, factory, client):
    _uscc, me = factory.as_taxpayer("D")
    client.put("/api/v1/me/preferences", headers=me, json={"opt_out_categories": ["credit_repair"],
                                                           "opt_out_channels": [], "quiet_hours": None, "daily_cap": 5})
    publish(new_policy())
    assert [(r["status"], r["reason"]) for r in rows()] == [("suppressed", "opted_out_category")]
    assert client.get("/api/v1/me/inbox", headers=me).json["total"] == 0


def test_over_the_daily_cap_messages_wait_and_arrive_together_as_one_digest(ctx, factory, client, clock):
    _uscc, me = factory.as_taxpayer("D")
    client.put("/api/v1/me/preferences", headers=me, json={"opt_out_categories": [], "opt_out_channels": [],
                                                           "quiet_hours": None, "daily_cap": 2})
    for n in range(4):
        publish(new_policy(title=f"政策{n}"))
    assert [r["status"] for r in rows()] == ["delivered", "delivered", "held", "held"]
    assert client.get("/api/v1/me/inbox", headers=me).json["total"] == 2
    clock.current = datetime(2026, 11, 26, 0, 0, tzinfo=timezone.utc)  # 08:00 next morning in Shanghai
    assert tick()["digested"] == 2
    held = rows()[2:]
    assert [r["status"] for r in held] == ["delivered", "delivered"]
    assert held[0]["digest_id"] == held[1]["digest_id"] == held[0]["id"]


def test_calendar_publishes_each_reminder_once_per_period(ctx, factory, clock):
    clock.current = datetime(2026, 3, 11, 1, 0, tzinfo=timezone.utc)  # 09:00 Wednesday in Shanghai
    factory.taxpayer("B", year=2025)
    s = services()
    run = lambda: service.run_calendar(reminders=load_reminders(), holidays=frozenset(), uow=s.uow(),  # noqa: E731
                                       clock=s.clock, jobs=push().jobs)
    assert run() == ["calendar:monthly-filing:2026-03"]
    clock.advance(days=1)
    assert run() == []
    with db.session() as session:
        policy = session.scalars(select(Policy)).one()
        assert policy.status == "published" and "3月16日" in policy.title
        assert policy.valid_to == datetime(2026, 3, 16, 16, 0, tzinfo=timezone.utc)  # end of the 16th in Shanghai
    assert [r["status"] for r in rows()] == ["delivered"]


def test_a_calendar_run_that_died_before_publishing_is_completed_by_the_next_run(ctx, factory, clock, monkeypatch):
    clock.current = datetime(2026, 3, 11, 1, 0, tzinfo=timezone.utc)  # 09:00 Wednesday in Shanghai
    factory.taxpayer("B", year=2025)
    s = services()
    run = lambda: service.run_calendar(reminders=load_reminders(), holidays=frozenset(), uow=s.uow(),  # noqa: E731
                                       clock=s.clock, jobs=push().jobs)

    def worker_killed(*_args, **_kwargs):
        raise RuntimeError("worker killed between creating the reminder and publishing it")

    with monkeypatch.context() as m:
        m.setattr(service, "publish_policy", worker_killed)
        with pytest.raises(RuntimeError):
            run()
    assert rows() == []
    assert run() == ["calendar:monthly-filing:2026-03"]  # the job's retry (or tomorrow's run) publishes it
    assert run() == []
    with db.session() as session:
        policy = session.scalars(select(Policy)).one()
    assert policy.status == "published" and [r["status"] for r in rows()] == ["delivered"]
    service.delete_policy(policy.id, by="admin", uow=s.uow(), clock=s.clock)
    assert run() == []  # a withdrawn reminder stays withdrawn
    assert service.get_policy(policy.id, uow=s.uow())["status"] == "withdrawn"


def test_a_message_waiting_out_quiet_hours_is_not_delivered_after_its_policy_expired(ctx, factory, clock):
    factory.taxpayer("D")
    clock.current = datetime(2026, 11, 25, 13, 30, tzinfo=timezone.utc)  # 21:30 in Shanghai: quiet hours
    publish(new_policy(title="今日截止：申报提醒", category="filing_reminder",
                       valid_to=datetime(2026, 11, 25, 15, 59, tzinfo=timezone.utc)))  # ends 23:59 in Shanghai
    assert [(r["status"], r["reason"]) for r in rows()] == [("matched", "quiet_hours")]
    clock.current = datetime(2026, 11, 26, 0, 0, tzinfo=timezone.utc)  # 08:00 next morning
    assert tick()["released"] == 0
    assert [(r["status"], r["reason"], r["due_at"]) for r in rows()] == [("suppressed", "expired", None)]


def test_messages_over_the_cap_whose_policy_expired_overnight_stay_out_of_the_digest(ctx, factory, client, clock):
    _uscc, me = factory.as_taxpayer("D")
    client.put("/api/v1/me/preferences", headers=me, json={"opt_out_categories": [], "opt_out_channels": [],
                                                           "quiet_hours": None, "daily_cap": 1})
    publish(new_policy(title="政策0"))
    publish(new_policy(title="今日截止", valid_to=datetime(2026, 11, 25, 15, 59, tzinfo=timezone.utc)))
    publish(new_policy(title="政策2"))
    assert [r["status"] for r in rows()] == ["delivered", "held", "held"]
    clock.current = datetime(2026, 11, 26, 0, 0, tzinfo=timezone.utc)  # 08:00 next morning in Shanghai
    tick()
    # the morning digest carries only 政策2; the expired reminder never reaches the inbox
    assert [(r["status"], r["reason"]) for r in rows()] == [
        ("delivered", None), ("suppressed", "expired"), ("delivered", "daily_cap")]


def test_a_withdrawn_policy_reaches_nobody_new(ctx, factory):
    pid = new_policy()
    publish(pid)
    s = services()
    service.delete_policy(pid, by="admin", uow=s.uow(), clock=s.clock)
    factory.taxpayer("D")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0


def test_withdrawing_suppresses_the_messages_not_yet_sent_and_keeps_the_delivered(ctx, factory, client, clock):
    waiting = factory.taxpayer("D")
    _uscc, me = factory.as_taxpayer("D")
    client.put("/api/v1/me/preferences", headers=me, json={"opt_out_categories": [], "opt_out_channels": [],
                                                           "quiet_hours": None, "daily_cap": 5})
    clock.current = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)  # 22:00 in Shanghai: the first one waits
    pid = new_policy()
    publish(pid)
    assert {(r["uscc"] == waiting, r["status"]) for r in rows()} == {(True, "matched"), (False, "delivered")}
    s = services()
    service.delete_policy(pid, by="admin", uow=s.uow(), clock=s.clock)
    clock.current = datetime(2026, 11, 26, 0, 0, tzinfo=timezone.utc)  # 08:00: quiet hours are over
    tick()
    assert {(r["uscc"] == waiting, r["status"], r["reason"]) for r in rows()} == {
        (True, "suppressed", "withdrawn"), (False, "delivered", None)}


def test_policy_outside_its_window_cannot_be_published(ctx, clock):
    s = services()
    pid = service.create_policy({"title": "明年政策", "body": "正文", "category": "tax_relief", "rule": True,
                                 "valid_from": clock.now() + timedelta(days=1)}, created_by="a", uow=s.uow(),
                                clock=s.clock)["id"]
    from app.errors import Conflict

    with pytest.raises(Conflict):
        publish(pid)


def test_publishing_while_redis_is_down_is_recorded_and_the_sweeper_fans_out_later(ctx, factory, clock):
    from redis.exceptions import ConnectionError as RedisDown

    class DownJobs:
        def enqueue(self, func, *args):
            raise RedisDown("Redis is down")

        def enqueue_many(self, func, arg_lists):
            raise RedisDown("Redis is down")

    factory.taxpayer("D")
    pid = new_policy()
    s = services()
    service.publish_policy(pid, by="admin", uow=s.uow(), clock=s.clock, jobs=DownJobs())
    assert rows() == []
    clock.advance(seconds=121)
    assert tick()["plans_requeued"] == 1
    assert [r["status"] for r in rows()] == ["delivered"]


def test_a_policy_withdrawn_while_a_chunk_is_matched_reaches_nobody_from_that_chunk(ctx, factory, monkeypatch):
    for _ in range(3):
        factory.taxpayer("D")
    s, p, jobs = services(), push(), RecordingJobs()
    policy_id = new_policy(title="错误政策（将撤回）")
    service.publish_policy(policy_id, by="admin", uow=s.uow(), clock=s.clock, jobs=jobs)
    fanout.plan_fanout(policy_id, session_factory=db.session, settings=p.settings, jobs=jobs, now=s.clock.now())
    (chunk_id,) = [args[0] for name, args in jobs.calls if name == fanout.MATCH_JOB]
    withdrawn = withdraw_before_writing(policy_id, monkeypatch)  # after the chunk read it as published
    assert fanout.match_chunk(chunk_id, session_factory=db.session, settings=p.settings, jobs=jobs,
                              now=s.clock.now()) == 0
    assert withdrawn and rows(policy_id=policy_id) == []
    with db.session() as session:
        assert session.get(FanoutChunk, chunk_id).status == "done"  # not retried for ever


def test_a_policy_withdrawn_while_a_taxpayer_is_re_matched_does_not_reach_it(ctx, factory, monkeypatch):
    uscc = factory.taxpayer("A")
    s, p = services(), push()
    policy_id = new_policy(title="错误政策（将撤回）")
    publish(policy_id)
    assert rows(policy_id=policy_id) == []  # nobody red yet
    with db.session() as session:  # turned red (the GradeChanged subscriber runs rematch_taxpayer)
        session.get(Taxpayer, uscc).grade = "D"
        session.commit()
    withdrawn = withdraw_before_writing(policy_id, monkeypatch)  # after the re-match read it as live
    assert fanout.rematch_taxpayer(uscc, session_factory=db.session, settings=p.settings, jobs=p.jobs,
                                   now=s.clock.now()) == []
    assert withdrawn and rows(policy_id=policy_id) == []
