"""The embedded in-process pool: same job code, bounded concurrency, coalescing, limits, safety,
deadlines, crash isolation and bounded memory. Real DNS and TCP origins on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from cf502.errors import QueueError
from cf502.model import Status
from cf502.pool.jobs import EventKind, Job, JobEvent, RateLimited
from cf502.pool.limits import Limits
from cf502.pool.local import LocalPool
from cf502.settings import EngineSettings
from tests.servers.dns import (
    ORIGIN_ADDRESS,
    DnsWorld,
    dns_world_fixture,  # noqa: F401  (provides the `dns_world` fixture)
)
from tests.servers.redis import origin_job
from tests.servers.tcp import black_hole_port, closed_port, listening_port


class Gate:
    """A job function that holds every job until released, counting how many run at once."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.running = 0
        self.most = 0
        self.runs: list[str] = []
        self.changed = asyncio.Condition()

    async def __call__(self, job: Job, engine: EngineSettings, **_: Any) -> JobEvent:
        self.runs.append(job.job_id)
        async with self.changed:
            self.running += 1
            self.most = max(self.most, self.running)
            self.changed.notify_all()
        try:
            await self.release.wait()
        finally:
            self.running -= 1
        return JobEvent(job.job_id, EventKind.DONE)

    async def wait_running(self, n: int) -> None:
        async with asyncio.timeout(5), self.changed:
            await self.changed.wait_for(lambda: self.running >= n)


async def test_a_real_diagnosis_streams_checks_then_the_report(dns_world: DnsWorld) -> None:
    # Given an in-process pool and a healthy origin
    pool = LocalPool(dns_world.engine())
    with listening_port(ORIGIN_ADDRESS) as port:
        # When a diagnosis is submitted and followed
        job_id = await pool.submit(origin_job(port, only=("dns.resolve", "tcp.https")))
        events = [e async for e in pool.events(job_id)]
    # Then each check arrives, then the passing report
    assert [e.kind for e in events] == [EventKind.CHECK, EventKind.CHECK, EventKind.DONE]
    report = events[-1].report
    assert report is not None and {c.status for c in report.checks} == {Status.PASS}
    # And a late subscriber, and result(), see the same end
    assert [e.kind async for e in pool.events(job_id)][-1] is EventKind.DONE
    assert await pool.result(job_id, timeout=1) == events[-1]
    await pool.close()


async def test_a_refusing_origin_is_reported_as_failing(dns_world: DnsWorld) -> None:
    # Given an origin port that refuses connections
    pool = LocalPool(dns_world.engine())
    # When it is diagnosed in-process
    end = await pool.result(await pool.submit(origin_job(closed_port(ORIGIN_ADDRESS))), 10)
    # Then the report fails on the port, as CloudFront's 502
    assert end is not None and end.report is not None
    tcp = end.report.check("tcp.https")
    assert tcp is not None and tcp.status is Status.FAIL and tcp.cloudfront_status == 502
    await pool.close()


async def test_at_most_concurrency_jobs_run_at_once() -> None:
    # Given a pool of 3 and 10 jobs that block until released
    gate = Gate()
    pool = LocalPool(EngineSettings(), concurrency=3, run_job=gate)
    ids = [await pool.submit(origin_job(1024 + n)) for n in range(10)]
    # When 3 are running
    await gate.wait_running(3)
    assert pool.running == 10  # 3 running, 7 waiting for a slot
    gate.release.set()
    # Then all complete, never more than 3 at once
    ends = [await pool.result(i, timeout=5) for i in ids]
    assert all(e is not None and e.kind is EventKind.DONE for e in ends)
    assert gate.most == 3 and pool.running == 0
    await pool.close()


async def test_identical_requests_are_coalesced_and_limits_refuse_clearly() -> None:
    # Given a pool allowing two jobs per user per minute
    gate = Gate()
    gate.release.set()
    pool = LocalPool(EngineSettings(), limits=Limits(per_user=2, window=60), run_job=gate)
    who = {"user": "U1", "channel": "C1"}
    # When the same request comes twice, Then both get one job, run once
    first = await pool.submit(origin_job(8443, requested_by=who))
    assert await pool.submit(origin_job(8443, requested_by=who)) == first
    await pool.result(first, timeout=5)
    assert gate.runs == [first]
    # And the duplicate counted: a different request from the same user is refused
    with pytest.raises(RateLimited, match="user U1 may start 2 diagnoses per 60 s"):
        await pool.submit(origin_job(8444, requested_by=who))
    # And so is one more duplicate
    with pytest.raises(RateLimited):
        await pool.submit(origin_job(8443, requested_by=who))
    await pool.close()


async def test_a_full_pool_refuses_new_jobs() -> None:
    # Given a pool holding at most 2 waiting or running jobs, full
    gate = Gate()
    pool = LocalPool(EngineSettings(), concurrency=1, max_backlog=2, run_job=gate)
    await pool.submit(origin_job(8001))
    await pool.submit(origin_job(8002))
    # When a third comes, Then it is refused
    with pytest.raises(QueueError, match="too many diagnoses are waiting"):
        await pool.submit(origin_job(8003))
    gate.release.set()
    await pool.close()


async def test_safety_is_the_operators_not_the_jobs(dns_world: DnsWorld) -> None:
    # Given a pool whose operator does not allow private targets
    pool = LocalPool(dns_world.engine(allow_private=False))
    # When a job asks for private targets, or simply targets a loopback address
    asked = await pool.result(await pool.submit(origin_job(8443, allow_private=True)), 5)
    plain = await pool.result(await pool.submit(origin_job(8443)), 5)
    # Then both are refused with the reason
    assert asked is not None and "not configured to allow private" in (asked.error or "")
    assert plain is not None and "a loopback address" in (plain.error or "")
    await pool.close()


async def test_a_job_past_its_deadline_reports_a_timeout(dns_world: DnsWorld) -> None:
    # Given a 1 s job deadline and an origin that drops SYNs (10 s connect timeout)
    pool = LocalPool(dns_world.engine(), job_timeout=1)
    with black_hole_port(ORIGIN_ADDRESS) as port:
        # When it is diagnosed
        end = await pool.result(await pool.submit(origin_job(port, connect_timeout=10)), 10)
    # Then it ends FAILED with the deadline
    assert end is not None and end.kind is EventKind.FAILED
    assert "did not finish within 1 s" in (end.error or "")
    await pool.close()


async def test_a_crashing_job_fails_alone_and_the_pool_keeps_serving() -> None:
    # Given a job function that crashes on one port only
    async def flaky(job: Job, engine: EngineSettings, **_: Any) -> JobEvent:
        if job.origin["https_port"] == 8666:
            raise RuntimeError("boom")
        return JobEvent(job.job_id, EventKind.DONE)

    pool = LocalPool(EngineSettings(), run_job=flaky)
    # When that job and another run
    bad = await pool.result(await pool.submit(origin_job(8666)), 5)
    good = await pool.result(await pool.submit(origin_job(8443)), 5)
    # Then the crash is a FAILED event with one line, and the other job is unaffected
    assert bad is not None and bad.error == "cf502 failed while diagnosing: RuntimeError: boom"
    assert good is not None and good.kind is EventKind.DONE
    await pool.close()


async def test_closing_fails_running_jobs_and_refuses_new_ones() -> None:
    # Given a job that is running
    gate = Gate()
    pool = LocalPool(EngineSettings(), run_job=gate)
    job_id = await pool.submit(origin_job(8443))
    await gate.wait_running(1)
    # When the pool closes
    await pool.close()
    # Then its watchers get FAILED, and new jobs are refused
    end = await pool.result(job_id, timeout=1)
    assert end is not None and end.error == "the diagnosis was stopped (shutting down)."
    with pytest.raises(QueueError, match="shut down"):
        await pool.submit(origin_job(8444))


async def test_finished_jobs_are_forgotten_after_their_ttl_or_beyond_max_kept() -> None:
    # Given a pool keeping results 60 s, at most 3 of them, on a clock the test moves
    now = [1000.0]
    gate = Gate()
    gate.release.set()
    pool = LocalPool(
        EngineSettings(), result_ttl=60, max_kept=3, run_job=gate, clock=lambda: now[0]
    )
    ids = []
    for n in range(5):
        ids.append(await pool.submit(origin_job(8000 + n)))
        await pool.result(ids[-1], timeout=5)
    # When another job is submitted, Then only the newest finished ones are kept
    ids.append(await pool.submit(origin_job(8100)))
    await pool.result(ids[-1], timeout=5)
    with pytest.raises(QueueError, match="is unknown"):
        await pool.result(ids[0], timeout=0)
    assert await pool.result(ids[4], timeout=0) is not None
    # And once the TTL passes, the old results go too
    now[0] += 61
    await pool.submit(origin_job(8200))
    with pytest.raises(QueueError, match="is unknown"):
        await pool.result(ids[4], timeout=0)
    await pool.close()


class PerUser:
    """A job function holding every job until released, counting running jobs per user."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.running: dict[str, int] = {}
        self.most: dict[str, int] = {}

    async def __call__(self, job: Job, engine: EngineSettings, **_: Any) -> JobEvent:
        user = job.requested_by.get("user", "-")
        self.running[user] = self.running.get(user, 0) + 1
        self.most[user] = max(self.most.get(user, 0), self.running[user])
        try:
            await self.release.wait()
        finally:
            self.running[user] -= 1
        return JobEvent(job.job_id, EventKind.DONE)


async def until(predicate: Callable[[], bool], timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


async def test_one_user_runs_at_most_the_cap_and_the_rest_wait_without_a_slot() -> None:
    # Given a pool of 4 slots with a cap of 2 running diagnoses per user
    held = PerUser()
    pool = LocalPool(
        EngineSettings(), concurrency=4, limits=Limits(running_per_user=2), run_job=held
    )
    # When user A submits 6 jobs, then user B and a job without a user (the CLI's) one each
    a_ids = [await pool.submit(origin_job(8000 + n, requested_by={"user": "UA"})) for n in range(6)]
    b_id = await pool.submit(origin_job(9000, requested_by={"user": "UB"}))
    cli_id = await pool.submit(origin_job(9001, requested_by={"via": "cli"}))
    # Then B's and the CLI's run at once next to 2 of A's; A's other 4 wait holding no slot
    await until(lambda: held.running == {"UA": 2, "UB": 1, "-": 1})
    # And once released, all complete, never more than 2 of A's at once
    held.release.set()
    ends = [await pool.result(i, timeout=5) for i in [*a_ids, b_id, cli_id]]
    assert all(e is not None and e.kind is EventKind.DONE for e in ends)
    assert held.most == {"UA": 2, "UB": 1, "-": 1}
    assert pool._users == {}  # white box: idle users are forgotten
    await pool.close()


async def test_one_users_slow_diagnoses_do_not_delay_another_users(dns_world: DnsWorld) -> None:
    # Given the bot's pool: 8 slots, default cap of 2 running diagnoses per user
    pool = LocalPool(dns_world.engine(), concurrency=8)
    try:
        with black_hole_port(ORIGIN_ADDRESS) as silent, listening_port(ORIGIN_ADDRESS) as healthy:
            # When user A asks for 8 diagnoses of an origin that never answers (10 s each)
            alice = {"user": "UA", "channel": "C1"}
            for n in range(8):
                job = origin_job(silent, connect_timeout=10, path=f"/{n}", requested_by=alice)
                await pool.submit(job)
            # And then user B asks for a diagnosis of a healthy origin
            started = time.perf_counter()
            bob = origin_job(
                healthy, only=("dns.resolve", "tcp.https"), requested_by={"user": "UB"}
            )
            end = await pool.result(await pool.submit(bob), timeout=30)
            took = time.perf_counter() - started
        # Then B's report is complete within seconds, while A's are still running or waiting
        assert end is not None and end.report is not None, end
        assert {c.status for c in end.report.checks} == {Status.PASS}
        assert took < 5.0, f"user B waited {took:.1f} s"
        assert pool.running == 8
    finally:
        await pool.close()
