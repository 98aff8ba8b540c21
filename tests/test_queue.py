"""The Redis queue with an in-process Worker: results, events, coalescing, limits, safety, deadlines,
dead letters and bounded memory. Real redis-server, real DNS and real TCP origins on loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from cf502.errors import ConfigError, QueueError
from cf502.model import CheckResult, Status
from cf502.pool.jobs import EventKind, Job, JobEvent, RateLimited
from cf502.pool.limits import Limits
from cf502.pool.queue.client import QueueClient
from cf502.pool.queue.config import QueueConfig
from cf502.pool.queue.consumer import Delivery, QueueConsumer
from cf502.pool.worker import Worker, WorkerSettings
from cf502.settings import EngineSettings
from tests.servers.dns import (
    ORIGIN_ADDRESS,
    DnsWorld,
    dns_world_fixture,  # noqa: F401  (provides the `dns_world` fixture)
)
from tests.servers.redis import (
    RedisServer,
    origin_job,
    redis_server_fixture,  # noqa: F401  (the `redis_server` fixture)
)
from tests.servers.tcp import black_hole_port, closed_port, listening_port

FAST = QueueConfig(min_idle=0.5, block=0.2, result_ttl=600)


class CountingQueue(QueueConsumer):
    """Counts the worker's looks for abandoned jobs, so a test can wait for a number of them."""

    reclaims = 0

    async def reclaim(self, consumer: str, count: int) -> list[Delivery]:
        found = await super().reclaim(consumer, count)
        self.reclaims += 1
        return found


@asynccontextmanager
async def worker(
    url: str,
    engine: EngineSettings,
    config: QueueConfig = FAST,
    settings: WorkerSettings | None = None,
    **kwargs: Any,
) -> AsyncIterator[Worker]:
    """An in-process Worker running in the background for the duration of the block."""
    w = Worker(
        CountingQueue(url, config), engine, settings or WorkerSettings(concurrency=8), **kwargs
    )
    task = asyncio.create_task(w.run())
    async with asyncio.timeout(5):
        await w.ready.wait()
    try:
        yield w
    finally:
        w.stop()
        async with asyncio.timeout(15):
            await task
        await w.queue.close()


def worker_side(client: QueueClient) -> QueueConsumer:
    """The worker's API on the client's connection, for tests that play the worker's part."""
    return QueueConsumer(client.where, client.config, client=client.redis)


@pytest.fixture
async def pool(redis_server: RedisServer) -> AsyncIterator[QueueClient]:
    p = QueueClient(redis_server.url, FAST)
    yield p
    await p.close()


async def test_enqueue_runs_a_real_diagnosis_and_a_late_subscriber_sees_everything(
    pool: QueueClient, redis_server: RedisServer, dns_world: DnsWorld
) -> None:
    # Given a worker and a healthy origin on loopback
    with listening_port(ORIGIN_ADDRESS) as port:
        async with worker(redis_server.url, dns_world.engine()):
            # When a diagnosis is submitted and its result awaited
            job_id = await pool.submit(origin_job(port, only=("dns.resolve", "tcp.https")))
            end = await pool.result(job_id, timeout=10)
    # Then the report is complete and passing
    assert end is not None and end.kind is EventKind.DONE and end.report is not None
    assert [c.id for c in end.report.checks] == ["dns.resolve", "tcp.https"]
    assert {c.status for c in end.report.checks} == {Status.PASS}
    # And a subscriber starting after the end still gets every check, then the end, once each
    events = [e async for e in pool.events(job_id)]
    assert [e.kind for e in events] == [EventKind.CHECK, EventKind.CHECK, EventKind.DONE]
    assert {e.check.id for e in events if e.check} == {"dns.resolve", "tcp.https"}
    # And the stream is empty again, while the result is kept with a TTL
    assert await pool.redis.xlen(pool.keys.jobs) == 0
    assert 0 < await pool.redis.ttl(pool.keys.result(job_id)) <= 600


async def test_a_broken_origin_is_diagnosed_as_failing_through_the_pool(
    pool: QueueClient, redis_server: RedisServer, dns_world: DnsWorld
) -> None:
    # Given a worker and an origin port that refuses connections
    port = closed_port(ORIGIN_ADDRESS)
    async with worker(redis_server.url, dns_world.engine()):
        # When it is diagnosed through the pool
        end = await pool.result(await pool.submit(origin_job(port)), timeout=10)
    # Then the report says the port refuses, as CloudFront's 502 OriginConnectError
    assert end is not None and end.report is not None
    tcp = end.report.check("tcp.https")
    assert tcp is not None and tcp.status is Status.FAIL
    assert tcp.cloudfront_error == "OriginConnectError"


async def test_submitting_while_redis_is_down_fails_at_once(
    pool: QueueClient, redis_server: RedisServer
) -> None:
    # Given Redis stopped
    redis_server.stop()
    # When a job is submitted
    started = time.perf_counter()
    with pytest.raises(QueueError, match=r"is unavailable: the job was not queued") as err:
        await pool.submit(origin_job(443))
    # Then the error comes at once, not after a hang
    assert time.perf_counter() - started < 1.0
    # And it reads as plain words, not redis-py's or asyncio's text
    assert "(connection refused (ECONNREFUSED))." in str(err.value)
    assert "Connect call failed" not in str(err.value) and "Error 111" not in str(err.value)


async def test_duplicate_submissions_become_one_job(pool: QueueClient) -> None:
    # Given two identical requests (different job ids, e.g. a button clicked twice)
    first, second = origin_job(8443), origin_job(8443)
    assert first.job_id != second.job_id
    # When both are submitted
    id1 = await pool.submit(first)
    id2 = await pool.submit(second)
    # Then they share one job, queued once
    assert id1 == id2 == first.job_id
    assert await pool.redis.xlen(pool.keys.jobs) == 1
    # And a request with different settings is a job of its own
    assert await pool.submit(origin_job(8444)) != id1
    assert await pool.redis.xlen(pool.keys.jobs) == 2


async def test_rate_limits_refuse_users_and_channels_with_a_clear_message(
    redis_server: RedisServer,
) -> None:
    # Given limits of 2 jobs per user and 3 per channel per minute
    cfg = QueueConfig(limits=Limits(per_user=2, per_channel=3, window=60))
    pool = QueueClient(redis_server.url, cfg)
    try:
        alice = {"user": "U1", "channel": "C1"}
        await pool.submit(origin_job(8001, requested_by=alice))
        # And a duplicate shares the job but counts for the limit
        assert await pool.submit(origin_job(8001, requested_by=alice))
        # When the same user asks again within the window
        # Then the refusal names the limit and when to retry
        with pytest.raises(RateLimited, match=r"user U1 may start 2 diagnoses per 60 s; try again"):
            await pool.submit(origin_job(8003, requested_by=alice))
        with pytest.raises(RateLimited):  # a duplicate too, once over the limit
            await pool.submit(origin_job(8001, requested_by=alice))
        await pool.submit(origin_job(8002, requested_by={"user": "U4", "channel": "C2"}))
        # And the channel limit applies across users
        await pool.submit(origin_job(8004, requested_by={"user": "U2", "channel": "C1"}))
        with pytest.raises(RateLimited, match=r"channel C1 may start 3 diagnoses"):
            await pool.submit(origin_job(8005, requested_by={"user": "U3", "channel": "C1"}))
        # And refused requests were not queued
        assert await pool.redis.xlen(pool.keys.jobs) == 3
    finally:
        await pool.close()


async def test_a_full_backlog_refuses_new_jobs(redis_server: RedisServer) -> None:
    # Given a queue bounded to 3 jobs, full
    pool = QueueClient(redis_server.url, QueueConfig(max_backlog=3))
    try:
        for port in (8001, 8002, 8003):
            await pool.submit(origin_job(port))
        # When one more is submitted, Then it is refused with the reason
        with pytest.raises(QueueError, match=r"queue is full \(3 jobs"):
            await pool.submit(origin_job(8004))
    finally:
        await pool.close()


async def test_a_job_asking_for_private_targets_is_refused_by_a_worker_not_allowing_them(
    pool: QueueClient, redis_server: RedisServer, dns_world: DnsWorld
) -> None:
    # Given a worker whose operator does not allow private targets
    engine = dns_world.engine(allow_private=False)
    async with worker(redis_server.url, engine):
        # When a job asks for --allow-private
        end = await pool.result(await pool.submit(origin_job(8443, allow_private=True)), 10)
    # Then it fails with a clear message, before any DNS query or connection
    assert end is not None and end.kind is EventKind.FAILED
    assert "not configured to allow private targets" in (end.error or "")
    assert dns_world.resolver.queries() == []


async def test_the_workers_own_safety_blocks_a_loopback_target(
    pool: QueueClient, redis_server: RedisServer, dns_world: DnsWorld
) -> None:
    # Given a worker not allowing private targets, and a job with no safety wish
    async with worker(redis_server.url, dns_world.engine(allow_private=False)):
        # When its target resolves to a loopback address
        end = await pool.result(await pool.submit(origin_job(8443)), 10)
    # Then the worker refuses to connect to it
    assert end is not None and end.kind is EventKind.FAILED
    assert f"resolves to {ORIGIN_ADDRESS}, a loopback address" in (end.error or "")


async def test_a_job_may_make_safety_stricter(
    pool: QueueClient, redis_server: RedisServer, dns_world: DnsWorld
) -> None:
    # Given a worker allowing private targets
    async with worker(redis_server.url, dns_world.engine(allow_private=True)):
        # When a job asks for private targets to be refused
        end = await pool.result(await pool.submit(origin_job(8443, allow_private=False)), 10)
    # Then the stricter wish is honoured
    assert end is not None and end.kind is EventKind.FAILED
    assert "a loopback address" in (end.error or "")


async def test_job_settings_are_validated_and_clamped_by_the_worker(
    pool: QueueClient, redis_server: RedisServer, dns_world: DnsWorld
) -> None:
    # Given a worker bounding connection timeouts to 2 s
    engine = dns_world.engine(max_connect_timeout=2.0)
    bad = origin_job(8443)
    bad = Job(bad.kind, bad.target, {**bad.origin, "connect_timeout": 99}, bad.only)
    with listening_port(ORIGIN_ADDRESS) as port:
        async with worker(redis_server.url, engine):
            # When a job carries an out-of-range timeout, and another one a 10 s timeout
            refused = await pool.result(await pool.submit(bad), 10)
            clamped = await pool.result(await pool.submit(origin_job(port, connect_timeout=10)), 10)
    # Then the first is refused with CloudFront's range, the second runs with the bound
    assert refused is not None and refused.kind is EventKind.FAILED
    assert "connection timeout 99 s is outside CloudFront's range 1-10 s" in (refused.error or "")
    assert clamped is not None and clamped.report is not None
    assert clamped.report.settings["connect_timeout"] == 2.0


async def test_a_job_past_its_deadline_reports_a_timeout(
    pool: QueueClient, redis_server: RedisServer, dns_world: DnsWorld
) -> None:
    # Given a worker with a 1 s job deadline and an origin that drops SYNs (10 s connect timeout)
    with black_hole_port(ORIGIN_ADDRESS) as port:
        async with worker(
            redis_server.url, dns_world.engine(), settings=WorkerSettings(job_timeout=1)
        ):
            # When the diagnosis is submitted
            end = await pool.result(
                await pool.submit(origin_job(port, connect_timeout=10)), timeout=10
            )
    # Then it ends as FAILED with the deadline, rather than hanging
    assert end is not None and end.kind is EventKind.FAILED
    assert "did not finish within 1 s (the job's deadline)" in (end.error or "")


async def test_a_job_that_always_crashes_is_dead_lettered_after_n_tries(
    redis_server: RedisServer,
) -> None:
    # Given a job function that always crashes, and at most 2 deliveries
    cfg = QueueConfig(min_idle=0.3, max_deliveries=2, block=0.2)
    calls: list[str] = []

    async def crashing(job: Job, engine: EngineSettings, **_: Any) -> JobEvent:
        calls.append(job.job_id)
        raise RuntimeError("boom")

    pool = QueueClient(redis_server.url, cfg)
    try:
        async with worker(redis_server.url, EngineSettings(), cfg, run_job=crashing) as w:
            # When it is submitted
            job_id = await pool.submit(origin_job(8443))
            end = await pool.result(job_id, timeout=15)
            # Then it ran twice, then was dead-lettered with a readable reason
            assert end is not None and end.kind is EventKind.FAILED
            assert "gave up after 2 attempts" in (end.error or "")
            assert "last error: RuntimeError: boom" in (end.error or "")
            assert calls == [job_id, job_id]
            # (the worker counts the dead letter once Redis has stored it, which the client may
            # see first)
            await until(lambda: w.counters.dead == 1)
            assert (w.counters.crashed, w.counters.dead) == (2, 1)
        dead = await worker_side(pool).dead_letters()
        assert [d["job_id"] for d in dead] == [job_id]
        assert dead[0]["reason"] == end.error and dead[0]["deliveries"] == "3"
        assert await pool.redis.xlen(pool.keys.jobs) == 0
    finally:
        await pool.close()


async def test_a_malformed_payload_is_dead_lettered_without_running(
    pool: QueueClient, redis_server: RedisServer
) -> None:
    # Given a job function that records calls, and garbage on the job stream
    calls: list[Job] = []

    async def recording(job: Job, engine: EngineSettings, **_: Any) -> JobEvent:
        calls.append(job)
        return JobEvent(job.job_id, EventKind.DONE)

    await pool.redis.xadd(pool.keys.jobs, {"job": "{not json"})
    async with worker(redis_server.url, EngineSettings(), run_job=recording) as w:
        # When a worker reads it
        await w.wait_for(lambda c: c.dead == 1, timeout=10)
    # Then it is dead-lettered with the reason, and never run
    dead = await worker_side(pool).dead_letters()
    assert len(dead) == 1 and "could not be read" in dead[0]["reason"]
    assert calls == []
    assert await pool.redis.xlen(pool.keys.jobs) == 0


async def test_a_rerun_reporting_a_check_twice_yields_it_once(pool: QueueClient) -> None:
    # Given a job whose check was published by two runs (a worker died after publishing it)
    job_id = origin_job(8443).job_id
    check = CheckResult("tcp.https", "Port", Status.PASS, "Port 8443 is open.")
    for _ in range(2):
        await worker_side(pool).publish(JobEvent(job_id, EventKind.CHECK, check=check))
    await pool.redis.xadd(pool.keys.events(job_id), {"e": "not an event"})  # and some garbage
    await worker_side(pool).publish(JobEvent(job_id, EventKind.DONE))
    # When a subscriber reads the events
    events = [e async for e in pool.events(job_id)]
    # Then the check comes once, then the end (the garbage is skipped)
    assert [e.kind for e in events] == [EventKind.CHECK, EventKind.DONE]


async def test_a_live_long_job_is_not_taken_over(redis_server: RedisServer) -> None:
    # Given a job that runs for many times min-idle on worker A, and an idle worker B
    cfg = QueueConfig(min_idle=0.3, block=0.2)
    release = asyncio.Event()
    started = asyncio.Event()
    runs: list[str] = []

    async def long_job(job: Job, engine: EngineSettings, **_: Any) -> JobEvent:
        runs.append(job.job_id)
        started.set()
        await release.wait()
        return JobEvent(job.job_id, EventKind.DONE)

    pool = QueueClient(redis_server.url, cfg)
    try:
        async with worker(redis_server.url, EngineSettings(), cfg, run_job=long_job) as a:
            job_id = await pool.submit(origin_job(8443))
            async with asyncio.timeout(5):
                await started.wait()
            async with worker(redis_server.url, EngineSettings(), cfg, run_job=long_job) as b:
                # When B looks for abandoned jobs for > 8 x min-idle
                queue = b.queue
                assert isinstance(queue, CountingQueue)
                base = queue.reclaims
                await b.wait_for(lambda _: queue.reclaims >= base + 8, timeout=10)
                # Then it took nothing over: A's heartbeat kept the job
                assert b.counters.reclaimed == 0
                release.set()
                end = await pool.result(job_id, timeout=10)
        assert end is not None and end.kind is EventKind.DONE
        assert runs == [job_id] and a.counters.done == 1
    finally:
        await pool.close()


async def test_workers_recover_when_redis_restarts_empty(
    pool: QueueClient,
    redis_server: RedisServer,
    dns_world: DnsWorld,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a running worker
    with listening_port(ORIGIN_ADDRESS) as port:
        async with worker(redis_server.url, dns_world.engine()):
            # When Redis crashes and comes back empty (no persistence: the group is gone)
            redis_server.kill()
            redis_server.start()
            # Then the worker recreates its group and runs new jobs
            job_id = await pool.submit(origin_job(port))
            end = await pool.result(job_id, timeout=15)
            assert end is not None and end.kind is EventKind.DONE
    assert "consumer group missing, recreating it" in caplog.messages


@pytest.mark.slow
async def test_ten_thousand_jobs_leave_the_stream_empty_and_every_key_expiring(
    redis_server: RedisServer,
) -> None:
    # Given 10,000 queued jobs and a job function that finishes at once
    cfg = QueueConfig(result_ttl=600, block=0.2)
    pool = QueueClient(redis_server.url, cfg)

    async def instant(job: Job, engine: EngineSettings, **_: Any) -> JobEvent:
        return JobEvent(job.job_id, EventKind.DONE)

    try:
        ids: list[str] = []
        for start in range(0, 10_000, 500):
            batch = [origin_job(1024 + n) for n in range(start, start + 500)]
            ids += await asyncio.gather(*(pool.submit(j) for j in batch))
        assert len(set(ids)) == 10_000
        assert await pool.redis.xlen(pool.keys.jobs) == 10_000
        # When a worker drains the queue
        w = Worker(
            QueueConsumer(redis_server.url, cfg),
            EngineSettings(),
            WorkerSettings(concurrency=200, burst=True),
            run_job=instant,
        )
        async with asyncio.timeout(120):
            counters = await w.run()
        await w.queue.close()
        # Then every job finished once, and the stream holds nothing
        assert counters.done == 10_000
        assert await worker_side(pool).depth() == (0, 0)
        assert int(await pool.redis.memory_usage(pool.keys.jobs) or 0) < 16_384
        # And every other key expires within the result TTL
        ttls = await _ttls(pool)
        kinds = {k.split(":")[1] for k in ttls}
        assert kinds <= {"res", "ev", "dd"}  # result, events, coalescing key (10 s) per job
        assert sum(1 for k in ttls if k.split(":")[1] in ("res", "ev")) == 2 * 10_000
        assert all(0 < t <= 600 for t in ttls.values())
    finally:
        await pool.close()


async def _ttls(pool: QueueClient) -> dict[str, int]:
    keys = [k async for k in pool.redis.scan_iter(count=1000) if k != pool.keys.jobs]
    out: dict[str, int] = {}
    for chunk in (keys[i : i + 1000] for i in range(0, len(keys), 1000)):
        async with pool.redis.pipeline(transaction=False) as pipe:
            for k in chunk:
                pipe.ttl(k)
            out.update(zip(chunk, await pipe.execute(), strict=True))
    return out


async def test_a_job_taken_over_elsewhere_is_stopped_here(redis_server: RedisServer) -> None:
    # Given worker A running a long job
    cfg = QueueConfig(min_idle=0.3, block=0.2)
    started = asyncio.Event()

    async def long_job(job: Job, engine: EngineSettings, **_: Any) -> JobEvent:
        started.set()
        await asyncio.Event().wait()  # only a cancellation ends it
        raise AssertionError("unreachable")

    pool = QueueClient(redis_server.url, cfg)
    try:
        async with worker(redis_server.url, EngineSettings(), cfg, run_job=long_job) as a:
            await pool.submit(origin_job(8443))
            async with asyncio.timeout(5):
                await started.wait()
            # When another consumer takes the entry over (as after A was cut off for min-idle)
            pending: Any = await pool.redis.xpending_range(pool.keys.jobs, cfg.group, "-", "+", 1)
            await pool.redis.xclaim(
                pool.keys.jobs, cfg.group, "other-worker", 0, [pending[0]["message_id"]]
            )
            # Then A's heartbeat notices, and A stops the job without storing anything
            await a.wait_for(lambda c: c.lost == 1, timeout=5)
            assert a.running == 0 and a.counters.done == 0
    finally:
        await pool.close()


async def test_a_watcher_of_a_lost_job_gets_a_clear_error(pool: QueueClient) -> None:
    # Given a job id nobody will ever finish (e.g. Redis restarted without persistence)
    # When its events are awaited with a short idle timeout
    # Then the watcher gets a clear error rather than waiting forever
    with pytest.raises(QueueError, match=r"no news of job abc123 for 0.3 s; it may have been lost"):
        async for _ in pool.events("abc123", idle_timeout=0.3):
            pass


def test_a_bad_redis_url_is_a_configuration_error() -> None:
    # Given a URL that is not a Redis URL, When a pool is made, Then the error names it
    with pytest.raises(ConfigError, match=r"invalid Redis URL 'http://user:\[redacted\]@") as err:
        QueueClient("http://user:secret@example.com:8080")
    # And the password is not in it
    assert "secret" not in str(err.value)


async def test_a_worker_whose_loop_dies_of_a_bug_stops_instead_of_idling(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a queue whose read of new jobs hits a bug
    class BuggyQueue(QueueConsumer):
        async def read_new(self, consumer: str, count: int) -> list[Any]:
            raise RuntimeError("bug")

    w = Worker(BuggyQueue(redis_server.url, FAST), EngineSettings())
    # When the worker runs, Then it stops by itself and says why
    async with asyncio.timeout(10):
        await w.run()
    await w.queue.close()
    assert w.failed
    assert "worker loop crashed; stopping" in caplog.messages


# -- following job events: one reader per client ----------------------------------------------


async def until(predicate: Callable[[], bool], timeout: float = 5) -> None:
    """Wait for a condition (checked every few ms), failing the test past `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


async def follow(pool: QueueClient, job_id: str, **kwargs: Any) -> list[JobEvent]:
    return [e async for e in pool.events(job_id, **kwargs)]


def progress(job_id: str, check_id: str = "tcp.https") -> JobEvent:
    check = CheckResult(check_id, "Port", Status.PASS, "Port 8443 is open.")
    return JobEvent(job_id, EventKind.CHECK, check=check)


def ids_of(events: list[JobEvent]) -> list[str]:
    return [e.check.id if e.check else e.kind.value for e in events]


async def clients_named(pool: QueueClient, name: str) -> int:
    return sum(1 for c in await pool.redis.client_list() if c.get("name") == name)


@pytest.mark.parametrize("batch", [256, 50], ids=["one-read", "pipelined-reads"])
async def test_two_hundred_followers_share_a_few_connections(
    pool: QueueClient, redis_server: RedisServer, batch: int
) -> None:
    # Given a client with at most 16 Redis connections following 200 running jobs
    cfg = QueueConfig(block=0.2, max_connections=16, events_batch=batch)
    client = QueueClient(f"{redis_server.url}?client_name=followers", cfg)
    ids = [uuid.uuid4().hex for _ in range(200)]
    tasks = [asyncio.create_task(follow(client, i)) for i in ids]
    try:
        await until(lambda: client.followers == 200)
        # When a command is submitted meanwhile (Slack's 3 s ack waits for it)
        started = time.perf_counter()
        await client.submit(origin_job(8443))
        # Then it gets a connection at once (with a connection per follower it got none for 2 s)
        assert time.perf_counter() - started < 1.0
        # When every job reports a check, then its end
        for i in ids:
            await worker_side(pool).publish(progress(i), JobEvent(i, EventKind.DONE))
        # Then all 200 followers see both
        async with asyncio.timeout(10):
            seen = await asyncio.gather(*tasks)
        assert all(ids_of(events) == ["tcp.https", "done"] for events in seen)
        # And the client opened a few connections, not one per follower
        assert await clients_named(pool, "followers") <= 4
    finally:
        for t in tasks:
            t.cancel()
        await client.close()


async def test_a_late_follower_of_a_running_job_gets_its_history_at_once(
    pool: QueueClient, redis_server: RedisServer
) -> None:
    # Given a client whose reads block for 1.5 s, following a running job with two checks done
    client = QueueClient(redis_server.url, QueueConfig(block=1.5, socket_timeout=2.0))
    job = uuid.uuid4().hex
    early, late = client.events(job), client.events(job)
    try:
        await worker_side(pool).publish(progress(job, "dns.resolve"))
        assert ids_of([await anext(early)]) == ["dns.resolve"]
        await worker_side(pool).publish(progress(job, "tcp.https"))
        assert ids_of([await anext(early)]) == ["tcp.https"]
        # When another follower of that job starts (the reader has just begun a new read)
        started = time.perf_counter()
        history = [await anext(late), await anext(late)]
        # Then it gets the job's history from the start, without waiting for the read to end
        assert time.perf_counter() - started < 0.75  # (the read in flight blocks for 1.5 s)
        assert ids_of(history) == ["dns.resolve", "tcp.https"]
        # And when the job ends, both followers get the end
        await worker_side(pool).publish(JobEvent(job, EventKind.DONE))
        async with asyncio.timeout(5):
            ends = [[e async for e in early], [e async for e in late]]
        assert [ids_of(e) for e in ends] == [["done"], ["done"]]
        assert client.followers == 0
    finally:
        await early.aclose()
        await late.aclose()
        await client.close()


async def test_followers_of_jobs_that_never_finish_hit_the_idle_timeout(pool: QueueClient) -> None:
    # Given three followers of jobs that never report anything, and one of a job that finishes
    silent = [uuid.uuid4().hex for _ in range(3)]
    finished = uuid.uuid4().hex
    tasks = [asyncio.create_task(follow(pool, i, idle_timeout=0.5)) for i in [*silent, finished]]
    await until(lambda: pool.followers == 4)
    # When the one job reports and ends
    await worker_side(pool).publish(progress(finished), JobEvent(finished, EventKind.DONE))
    async with asyncio.timeout(5):
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    # Then its follower gets everything, and the others get a clear error after 0.5 s of silence
    assert isinstance(outcomes[-1], list) and ids_of(outcomes[-1]) == ["tcp.https", "done"]
    for job, outcome in zip(silent, outcomes, strict=False):
        assert isinstance(outcome, QueueError)
        assert f"no news of job {job} for 0.5 s; it may have been lost" in str(outcome)
    assert pool.followers == 0


async def test_followers_carry_on_after_redis_restarts(
    pool: QueueClient, redis_server: RedisServer
) -> None:
    # Given a follower of a running job that has reported one check
    client = QueueClient(redis_server.url, QueueConfig(block=0.2, reconnect_for=10))
    job = uuid.uuid4().hex
    events = client.events(job)
    try:
        await worker_side(pool).publish(progress(job, "dns.resolve"))
        assert ids_of([await anext(events)]) == ["dns.resolve"]
        # When Redis goes away long enough for the reader to notice, then comes back with its data
        redis_server.stop(save=True)
        await until(lambda: client._reader.failing_since is not None)  # white box: it noticed
        redis_server.start()
        # And the job reports another check and ends
        await worker_side(pool).publish(progress(job, "tcp.https"), JobEvent(job, EventKind.DONE))
        # Then the follower gets the rest, once each
        async with asyncio.timeout(10):
            rest = [e async for e in events]
        assert ids_of(rest) == ["tcp.https", "done"]
    finally:
        await events.aclose()
        await client.close()


async def test_followers_give_up_when_redis_stays_unreachable(redis_server: RedisServer) -> None:
    # Given a follower that keeps retrying for 0.5 s while Redis is unreachable
    client = QueueClient(redis_server.url, QueueConfig(block=0.2, reconnect_for=0.5))
    job = uuid.uuid4().hex
    task = asyncio.create_task(follow(client, job))
    try:
        await until(lambda: client.followers == 1)
        # When Redis stops for good
        redis_server.stop()
        # Then the follower ends with a clear error, not a hang
        with pytest.raises(QueueError, match=rf"is unavailable: lost track of job {job}"):
            async with asyncio.timeout(10):
                await task
    finally:
        task.cancel()
        await client.close()


async def test_closing_a_client_ends_its_followers_and_removes_its_wake_up_stream(
    pool: QueueClient, redis_server: RedisServer
) -> None:
    # Given a client following one job, then a second (which wakes the read in flight)
    client = QueueClient(redis_server.url, FAST)
    tasks = [asyncio.create_task(follow(client, uuid.uuid4().hex))]
    await until(lambda: client.followers == 1)
    tasks.append(asyncio.create_task(follow(client, uuid.uuid4().hex)))
    async with asyncio.timeout(5):
        while not [k async for k in pool.redis.scan_iter("cf502:wake:*")]:
            await asyncio.sleep(0.005)
    # When the client is closed
    await client.close()
    # Then both followers end with a clear error
    for task in tasks:
        with pytest.raises(QueueError, match=r"the job queue client was closed"):
            await task
    # And its wake-up stream is gone
    assert [k async for k in pool.redis.scan_iter("cf502:wake:*")] == []


async def test_an_events_key_that_is_not_a_stream_fails_only_its_own_follower(
    pool: QueueClient,
) -> None:
    # Given a job whose events key holds a string (not ours), and a healthy job
    bad, good = uuid.uuid4().hex, uuid.uuid4().hex
    await pool.redis.set(pool.keys.events(bad), "garbage")
    tasks = [asyncio.create_task(follow(pool, i)) for i in (bad, good)]
    # When the healthy job reports and ends
    await worker_side(pool).publish(progress(good), JobEvent(good, EventKind.DONE))
    async with asyncio.timeout(5):
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    # Then only the bad job's follower fails, saying why
    assert isinstance(outcomes[0], QueueError)
    assert f"the events of job {bad} are unreadable" in str(outcomes[0])
    assert "holds a string, not a stream" in str(outcomes[0])
    assert isinstance(outcomes[1], list) and ids_of(outcomes[1]) == ["tcp.https", "done"]


async def test_a_follower_that_stops_reading_holds_a_bounded_backlog(pool: QueueClient) -> None:
    # Given a finished job with 200 checks, whose follower reads one event and then stalls
    stalled = uuid.uuid4().hex
    checks = [progress(stalled, f"check.{n}") for n in range(200)]
    await worker_side(pool).publish(*checks, JobEvent(stalled, EventKind.DONE))
    events = pool.events(stalled)
    try:
        first = await anext(events)
        # When it stalls: two reads' worth is buffered for it, then its stream is left alone
        await until(lambda: pool.buffered == 128)
        # Then another follower of another job is served meanwhile
        other = uuid.uuid4().hex
        task = asyncio.create_task(follow(pool, other))
        await worker_side(pool).publish(progress(other), JobEvent(other, EventKind.DONE))
        async with asyncio.timeout(5):
            assert ids_of(await task) == ["tcp.https", "done"]
        # And nothing more was buffered for the stalled one
        assert pool.buffered == 128
        # And once it reads again, it gets every check once, then the end
        rest = [e async for e in events]
        assert ids_of([first, *rest]) == [c.check.id for c in checks if c.check] + ["done"]
        assert pool.buffered == 0
    finally:
        await events.aclose()


# -- poison entries, fair admission, finish vs heartbeat, vanished jobs ----------------------------


def nested_entry(depth: int = 5000) -> str:
    """A job whose target is nested `depth` levels deep (json.loads raises RecursionError)."""
    return '{"job_id":"deep1","kind":"diagnose","origin":{},"target":' + (
        '{"a":' * depth + "1" + "}" * depth + "}"
    )


POISON: dict[str, tuple[bytes | str, str]] = {
    "nested": (nested_entry(), "malformed job payload (RecursionError"),
    "oversize": (
        json.dumps({**origin_job(8443).to_dict(), "pad": "x" * 1_000_000}),
        f"the job payload is larger than {FAST.max_job_bytes} bytes",
    ),
    "not-utf8": (b'{"job_id":"bad\xff\xfe","kind":"diagnose"}', "is not valid UTF-8"),
}


@pytest.mark.parametrize("name", list(POISON))
async def test_an_entry_that_cannot_be_read_is_dead_lettered_and_the_worker_keeps_serving(
    pool: QueueClient, redis_server: RedisServer, name: str
) -> None:
    # Given a poison entry on the job stream, then a good job
    entry, reason = POISON[name]
    calls: list[str] = []

    async def recording(job: Job, engine: EngineSettings, **_: Any) -> JobEvent:
        calls.append(job.job_id)
        return JobEvent(job.job_id, EventKind.DONE)

    await pool.redis.xadd(pool.keys.jobs, {"job": entry})
    good = await pool.submit(origin_job(8443))
    async with worker(redis_server.url, EngineSettings(), run_job=recording) as w:
        # When a worker reads them
        end = await pool.result(good, timeout=10)
        # Then the good job is served, and the worker is still running
        assert end is not None and end.kind is EventKind.DONE
        await w.wait_for(lambda c: c.dead == 1, timeout=5)
        assert not w.failed
    # And the poison entry was dead-lettered with the reason, never run, and is gone
    assert calls == [good]
    dead = await worker_side(pool).dead_letters()
    assert len(dead) == 1 and reason in dead[0]["reason"], dead[0]["reason"]
    assert len(dead[0]["job"]) <= FAST.max_job_bytes  # an oversize entry is kept as an excerpt
    assert await worker_side(pool).depth() == (0, 0)


class HeldJobs:
    """A job function holding every job until released, counting them per user (all workers)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.running: dict[str, int] = {}
        self.most: dict[str, int] = {}
        self.done: list[str] = []

    async def __call__(self, job: Job, engine: EngineSettings, **_: Any) -> JobEvent:
        user = job.requested_by.get("user", "-")
        self.running[user] = self.running.get(user, 0) + 1
        self.most[user] = max(self.most.get(user, 0), self.running[user])
        try:
            await self.release.wait()
        finally:
            self.running[user] -= 1
        self.done.append(job.job_id)
        return JobEvent(job.job_id, EventKind.DONE)


async def test_one_users_jobs_wait_their_turn_across_workers_and_none_is_dropped(
    redis_server: RedisServer,
) -> None:
    # Given two workers with 8 slots each, and a cap of 2 running jobs per user
    cfg = QueueConfig(min_idle=0.5, block=0.2, limits=Limits(running_per_user=2))
    held = HeldJobs()
    pool = QueueClient(redis_server.url, cfg)
    try:
        async with (
            worker(redis_server.url, EngineSettings(), cfg, run_job=held) as w1,
            worker(redis_server.url, EngineSettings(), cfg, run_job=held) as w2,
        ):
            # When user A submits 6 jobs, then user B one
            alice = {"user": "UA", "channel": "C1"}
            a_ids = [await pool.submit(origin_job(8000 + n, requested_by=alice)) for n in range(6)]
            b_id = await pool.submit(origin_job(9000, requested_by={"user": "UB"}))
            # Then B's job runs at once, while only 2 of A's run and 4 wait outside the stream
            await until(lambda: held.running.get("UB") == 1 and held.running.get("UA") == 2)
            assert w1.running + w2.running == 3
            assert await pool.redis.xlen(pool.keys.jobs) == 3
            assert await pool.redis.llen(pool.keys.waiting("UA")) == 4
            # And once released, every job of A completes, never more than 2 at once
            held.release.set()
            ends = [await pool.result(i, timeout=10) for i in [*a_ids, b_id]]
        assert all(e is not None and e.kind is EventKind.DONE for e in ends)
        assert held.most == {"UA": 2, "UB": 1}
        assert sorted(held.done) == sorted([*a_ids, b_id])
        # And nothing is left: no queued job, no waiting one, no running count
        assert await worker_side(pool).depth() == (0, 0)
        assert not await pool.redis.exists(pool.keys.waiting("UA"), pool.keys.active("UA"))
    finally:
        await pool.close()


async def test_a_job_handed_back_on_shutdown_keeps_its_users_turn(
    redis_server: RedisServer,
) -> None:
    # Given a cap of 1 per user, user A's first job running on a worker and the second waiting
    cfg = QueueConfig(min_idle=0.5, block=0.2, limits=Limits(running_per_user=1))
    held = HeldJobs()
    pool = QueueClient(redis_server.url, cfg)
    alice = {"user": "UA"}
    try:
        stopping = WorkerSettings(concurrency=4, grace=0)
        async with worker(redis_server.url, EngineSettings(), cfg, stopping, run_job=held):
            first = await pool.submit(origin_job(8001, requested_by=alice))
            second = await pool.submit(origin_job(8002, requested_by=alice))
            await until(lambda: held.running.get("UA") == 1)
        # When that worker stops and hands the running job back
        assert await worker_side(pool).depth() == (1, 0)
        # Then the handed-back job still holds A's turn: the second still waits
        assert await pool.redis.scard(pool.keys.active("UA")) == 1
        assert await pool.redis.llen(pool.keys.waiting("UA")) == 1
        # And another worker runs both, one at a time
        held.release.set()
        async with worker(redis_server.url, EngineSettings(), cfg, run_job=held):
            ends = [await pool.result(i, timeout=10) for i in (first, second)]
        assert all(e is not None and e.kind is EventKind.DONE for e in ends)
        assert held.most == {"UA": 1}
    finally:
        await pool.close()


async def test_one_users_slow_diagnoses_do_not_delay_another_users(
    pool: QueueClient, redis_server: RedisServer, dns_world: DnsWorld
) -> None:
    # Given a worker with 8 slots (default cap: 2 running diagnoses per user)
    settings = WorkerSettings(concurrency=8, grace=0)
    with black_hole_port(ORIGIN_ADDRESS) as silent, listening_port(ORIGIN_ADDRESS) as healthy:
        async with worker(redis_server.url, dns_world.engine(), settings=settings) as w:
            # When user A asks for 8 diagnoses of an origin that never answers (10 s each)
            alice = {"user": "UA", "channel": "C1"}
            for n in range(8):
                job = origin_job(silent, connect_timeout=10, path=f"/{n}", requested_by=alice)
                await pool.submit(job)
            await until(lambda: w.counters.started >= 2)
            # And then user B asks for a diagnosis of a healthy origin
            started = time.perf_counter()
            bob = origin_job(
                healthy, only=("dns.resolve", "tcp.https"), requested_by={"user": "UB"}
            )
            end = await pool.result(await pool.submit(bob), timeout=30)
            took = time.perf_counter() - started
            # Then B's report is complete within seconds (A's first ones are still running)
            assert end is not None and end.report is not None, end
            assert {c.status for c in end.report.checks} == {Status.PASS}
            assert took < 5.0, f"user B waited {took:.1f} s"
            # And A's other 6 wait their turn, not dropped
            await w.wait_for(lambda c: c.done == 1, timeout=5)  # B's
            assert w.counters.started == 3
            assert await pool.redis.llen(pool.keys.waiting("UA")) == 6


async def test_a_heartbeat_that_meets_the_jobs_own_finish_is_not_a_takeover(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a heartbeat that carries the running job's entry but reaches Redis only after the
    # job's own finish script (held with events: the interleaving is forced, not hoped for)
    caplog.set_level(logging.INFO, logger="cf502.worker")
    cfg = QueueConfig(min_idle=0.3, block=0.2)
    beat_has_job, finished, beat_answered = asyncio.Event(), asyncio.Event(), asyncio.Event()

    class RacingQueue(QueueConsumer):
        async def heartbeat(self, consumer: str, running: Any) -> list[str]:
            if not running or finished.is_set():
                return await super().heartbeat(consumer, running)
            beat_has_job.set()
            await finished.wait()
            try:
                return await super().heartbeat(consumer, running)
            finally:
                beat_answered.set()

        async def finish(self, *args: Any, **kwargs: Any) -> bool:
            stored = await super().finish(*args, **kwargs)
            finished.set()
            await beat_answered.wait()  # the heartbeat's answer is handled before the job goes on
            return stored

    async def job_fn(job: Job, engine: EngineSettings, **_: Any) -> JobEvent:
        await beat_has_job.wait()
        return JobEvent(job.job_id, EventKind.DONE)

    w = Worker(RacingQueue(redis_server.url, cfg), EngineSettings(), run_job=job_fn)
    task = asyncio.create_task(w.run())
    pool = QueueClient(redis_server.url, cfg)
    try:
        # When the job runs and finishes
        job_id = await pool.submit(origin_job(8443))
        end = await pool.result(job_id, timeout=10)
        await w.wait_for(lambda c: c.done + c.lost >= 1, timeout=10)
        # Then it is done, logged and counted as done, not as taken over
        assert end is not None and end.kind is EventKind.DONE
        assert (w.counters.done, w.counters.lost) == (1, 0)
        assert "job done" in caplog.messages
        assert "job taken over by another worker; stopped here" not in caplog.messages
    finally:
        w.stop()
        async with asyncio.timeout(10):
            await task
        await w.queue.close()
        await pool.close()


async def test_watchers_of_jobs_lost_in_a_redis_restart_fail_within_seconds(
    redis_server: RedisServer,
) -> None:
    # Given a worker with 2 slots, both busy; a third job queued behind them; and user A's second
    # job waiting behind A's running one (cap 1) -- each with a client waiting for its report
    cfg = QueueConfig(
        min_idle=0.5, block=0.2, vanished_check=0.5, limits=Limits(running_per_user=1)
    )
    held = HeldJobs()
    client = QueueClient(redis_server.url, cfg)
    alice = {"user": "UA"}
    try:
        async with worker(
            redis_server.url, EngineSettings(), cfg, WorkerSettings(concurrency=2), run_job=held
        ) as w:
            ids = [
                await client.submit(origin_job(8001, requested_by=alice)),  # running
                await client.submit(origin_job(8002)),  # running
                await client.submit(origin_job(8003)),  # queued
                await client.submit(origin_job(8004, requested_by=alice)),  # waiting for A's turn
            ]
            await until(lambda: sum(held.running.values()) == 2)
            waiting = [asyncio.create_task(client.result(i, timeout=900)) for i in ids]
            # And they stay waiting while the vanished-job check runs several times
            reader = client._reader  # white box: the time of its next check
            first = asyncio.get_running_loop().time()
            await until(lambda: reader._next_probe > first + 3 * cfg.vanished_check)
            assert not any(t.done() for t in waiting)
            # When Redis restarts without persistence (every job is lost)
            redis_server.kill()
            redis_server.start()
            lost_at = time.perf_counter()
            async with asyncio.timeout(30):
                outcomes = await asyncio.gather(*waiting, return_exceptions=True)
            took = time.perf_counter() - lost_at
            # And the worker stops the lost jobs it was running, rather than running them on
            await w.wait_for(lambda c: c.lost == 2, timeout=10)
    finally:
        await client.close()
    # Then every waiting client fails within seconds, saying what happened
    for job_id, outcome in zip(ids, outcomes, strict=True):
        assert isinstance(outcome, QueueError), outcome
        assert f"job {job_id} is gone: it is neither queued, running nor finished" in str(outcome)
    assert took < 5.0, f"took {took:.1f} s"
