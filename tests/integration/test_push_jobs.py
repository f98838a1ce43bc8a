"""The push jobs as a real RQ worker runs them: ids in, their own sessions, safe to run twice."""

from __future__ import annotations

from rq import Queue, SimpleWorker
from sqlalchemy import select

from app.extensions import db, redis_store
from app.push import service
from app.push.fanout import MATCH_JOB
from app.push.models import Delivery, FanoutChunk
from app.push.settings import RqJobs, push
from app.services import services
from workers.push_cron import schedule


def test_publish_enqueues_only_the_planner_and_workers_do_the_fan_out(app, factory):
    for grade in "DDDAB":
        factory.taxpayer(grade)
    queue = Queue("push-jobs-test", connection=redis_store.client)
    with app.app_context():
        p = push()
        p.jobs = RqJobs(lambda: queue)
        s = services()
        pid = service.create_policy({"title": "信用修复指引", "body": "正文", "category": "credit_repair",
                                     "rule": {"==": [{"var": "grade"}, "D"]}}, created_by="admin", uow=s.uow(),
                                    clock=s.clock)["id"]
        service.publish_policy(pid, by="admin", uow=s.uow(), clock=s.clock, jobs=p.jobs)
        assert [job.func_name for job in queue.jobs] == ["workers.push.plan_fanout"]  # nothing ran in the request
        with db.session() as session:
            assert session.scalars(select(Delivery)).all() == []
        SimpleWorker([queue], connection=redis_store.client).work(burst=True)
        queue.enqueue("workers.push.plan_fanout", pid)  # a duplicated planner job
        queue.enqueue("workers.push.tick")
        SimpleWorker([queue], connection=redis_store.client).work(burst=True)
        with db.session() as session:
            statuses = list(session.scalars(select(Delivery.status).where(Delivery.policy_id == pid)))
            chunks = list(session.scalars(select(FanoutChunk.status)))
    assert statuses == ["delivered"] * 3 and chunks == ["done"]
    assert queue.failed_job_registry.count == 0


def test_the_schedule_is_data_from_the_settings(app):
    entries = schedule(app.config)
    assert {"func": "workers.push.tick", "interval": 30} in entries
    assert {"func": "workers.push.run_calendar", "cron": "0 1 * * *"} in entries
    tuned = schedule({**app.config, "PUSH_TICK_SECONDS": 7, "PUSH_CALENDAR_CRON": "30 0 * * 1-5"})
    assert tuned == [{"func": "workers.push.tick", "interval": 7},
                     {"func": "workers.push.run_calendar", "cron": "30 0 * * 1-5"}]


def test_a_webhook_send_job_may_run_as_long_as_its_lease_before_rq_stops_it(app):
    from app.push.settings import SEND_JOB, build_push

    queue = Queue("push-timeouts-test", connection=redis_store.client)
    with app.app_context():
        jobs, settings = build_push(app).jobs, push().settings
        jobs._queue = lambda: queue  # the app's own RqJobs, on a queue the test can read
        jobs.enqueue_many(SEND_JOB, [([1, 2],)])
        jobs.enqueue_many(MATCH_JOB, [(1,)])
    try:
        timeouts = {job.func_name: job.timeout for job in queue.jobs}
        lease = settings.send_lease(settings.webhook_batch).total_seconds()  # 200 × 5 s + 120 s by default
        assert timeouts == {SEND_JOB: int(lease), MATCH_JOB: RqJobs.JOB_TIMEOUT}
        assert timeouts[SEND_JOB] > RqJobs.JOB_TIMEOUT
    finally:
        queue.empty()
