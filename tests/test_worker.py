"""`cf502 worker` as real processes: SIGKILL mid-job, SIGTERM, Redis restarts, and `cf502 check
--redis-url`. Real redis-server, real DNS, real (slow or refusing) TCP origins on loopback."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from cf502.errors import ConfigError, QueueError
from cf502.model import Status
from cf502.pool.jobs import EventKind, JobEvent
from cf502.pool.queue.client import QueueClient
from cf502.pool.queue.config import QueueConfig
from cf502.pool.queue.consumer import QueueConsumer
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

CFG = QueueConfig(block=0.2)


class WorkerProcess:
    """`python -m cf502 worker` with JSON log lines collected from stderr as they come."""

    def __init__(self, url: str, world: DnsWorld, *options: str, safe: bool = False) -> None:
        cmd = [
            sys.executable, "-m", "cf502", "worker",
            "--redis-url", url,
            "--resolver", f"127.0.0.1:{world.port}",
            "--dns-port", str(world.port),
            "--dns-timeout", "1",
            "--log-format", "json",
            *([] if safe else ["--allow-private"]),
            *options,
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._cond:
                self.raw.append(line)
                try:
                    self.lines.append(json.loads(line))
                except ValueError:
                    pass
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def count(self, event: str) -> int:
        with self._cond:
            return sum(1 for line in self.lines if line.get("event") == event)

    def last(self, event: str) -> dict[str, Any]:
        with self._cond:
            return next(line for line in reversed(self.lines) if line.get("event") == event)

    def _wait(self, predicate: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not predicate()):
                    raise AssertionError(f"worker log never showed it:\n{''.join(self.raw)}")
                self._cond.wait(left)

    async def wait_for(self, event: str, count: int = 1, timeout: float = 15) -> None:
        """Wait (without blocking the event loop) until `event` was logged `count` times."""
        await asyncio.to_thread(self._wait, lambda: self.count(event) >= count, timeout)

    async def ready(self) -> WorkerProcess:
        await self.wait_for("worker ready")
        return self

    async def exit_code(self, timeout: float = 20) -> int:
        return await asyncio.to_thread(self.proc.wait, timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._reader.join(10)


@asynccontextmanager
async def workers(
    url: str, world: DnsWorld, *options: str, n: int = 1, safe: bool = False
) -> AsyncIterator[list[WorkerProcess]]:
    procs = [WorkerProcess(url, world, *options, safe=safe) for _ in range(n)]
    try:
        for p in procs:
            await p.ready()
        yield procs
    finally:
        for p in procs:
            p.stop()


async def until(predicate: Callable[[], bool], timeout: float = 15) -> None:
    """Wait for a condition (checked every few ms), failing the test past `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


def worker_side(client: QueueClient) -> QueueConsumer:
    """The worker's API on the client's connection, to look at the queue as a worker does."""
    return QueueConsumer(client.where, client.config, client=client.redis)


async def ends_once(pool: QueueClient, job_id: str) -> int:
    """How many DONE/FAILED entries the job's events stream holds."""
    rows: Any = await pool.redis.xrange(pool.keys.events(job_id))
    kinds = [json.loads(fields["e"])["kind"] for _, fields in rows]
    return len([k for k in kinds if k != EventKind.CHECK.value])


async def results(pool: QueueClient, ids: list[str], timeout: float) -> list[JobEvent]:
    ends = await asyncio.gather(*(pool.result(i, timeout) for i in ids))
    missing = [i for i, e in zip(ids, ends, strict=True) if e is None]
    assert not missing, f"{len(missing)} jobs never finished"
    return [e for e in ends if e is not None]


@pytest.fixture
async def pool(redis_server: RedisServer) -> AsyncIterator[QueueClient]:
    p = QueueClient(redis_server.url, CFG)
    yield p
    await p.close()


@pytest.mark.slow
async def test_a_worker_killed_mid_job_loses_none_of_20_diagnoses(
    pool: QueueClient, redis_server: RedisServer, dns_world: DnsWorld
) -> None:
    # Given 20 slow diagnoses (the origin drops SYNs: 3 s each) running on worker A
    url = redis_server.url
    with black_hole_port(ORIGIN_ADDRESS) as port:
        only = ("dns.resolve", "tcp.https")
        jobs = [origin_job(port, connect_timeout=3, only=only, path=f"/{i}") for i in range(20)]
        async with workers(url, dns_world, "--concurrency", "20", "--min-idle", "1") as [a]:
            ids = [await pool.submit(j) for j in jobs]
            await a.wait_for("job started", 20)
            # When A is killed with SIGKILL in the middle of them
            a.proc.send_signal(signal.SIGKILL)
            assert await a.exit_code() == -signal.SIGKILL
            assert a.count("job done") == 0  # all 20 were mid-job
            # And another worker comes up
            async with workers(url, dns_world, "--concurrency", "20", "--min-idle", "1") as [b]:
                ends = await results(pool, ids, timeout=20)
                # Then it took over all 20 and completed each
                assert b.count("job taken over from a silent worker") == 20
    assert all(e.kind is EventKind.DONE and e.report is not None for e in ends)
    for end in ends:
        assert end.report is not None
        tcp = end.report.check("tcp.https")
        assert tcp is not None and tcp.status is Status.FAIL and tcp.cloudfront_status == 504
    # And each has exactly one result, and nothing is left queued or dead
    assert [await ends_once(pool, i) for i in ids] == [1] * 20
    assert await worker_side(pool).depth() == (0, 0)
    assert await worker_side(pool).dead_letters() == []


@pytest.mark.slow
async def test_sigterm_lets_running_jobs_finish(
    pool: QueueClient, redis_server: RedisServer, dns_world: DnsWorld
) -> None:
    # Given a worker with a 10 s grace running 5 diagnoses of about 1 s
    with black_hole_port(ORIGIN_ADDRESS) as port:
        jobs = [origin_job(port, connect_timeout=1, path=f"/{i}") for i in range(5)]
        async with workers(redis_server.url, dns_world, "--grace", "10") as [w]:
            ids = [await pool.submit(j) for j in jobs]
            await w.wait_for("job started", 5)
            # When it gets SIGTERM
            w.proc.send_signal(signal.SIGTERM)
            # Then it exits cleanly after finishing them, handing nothing back
            assert await w.exit_code() == 0
            stopped = w.last("worker stopped")
    assert (stopped["done"], stopped["requeued"]) == (5, 0)
    ends = await results(pool, ids, timeout=1)
    assert all(e.kind is EventKind.DONE for e in ends)
    assert await worker_side(pool).depth() == (0, 0)


@pytest.mark.slow
async def test_sigterm_hands_back_jobs_that_outlast_the_grace(
    pool: QueueClient, redis_server: RedisServer, dns_world: DnsWorld
) -> None:
    # Given a worker with a 0.2 s grace running 5 diagnoses of 5 s
    with black_hole_port(ORIGIN_ADDRESS) as port:
        jobs = [origin_job(port, connect_timeout=5, path=f"/{i}") for i in range(5)]
        async with workers(redis_server.url, dns_world, "--grace", "0.2") as [w]:
            ids = [await pool.submit(j) for j in jobs]
            await w.wait_for("job started", 5)
            # When it gets SIGTERM
            w.proc.send_signal(signal.SIGTERM)
            assert await w.exit_code() == 0
            # Then it stops at once and hands all 5 back: queued afresh, none pending, no result
            assert w.last("worker stopped")["requeued"] == 5
        assert await worker_side(pool).depth() == (5, 0)
        assert [await pool.redis.exists(pool.keys.result(i)) for i in ids] == [0] * 5
    # And another worker completes them (the port is closed now: refused at once)
    async with workers(redis_server.url, dns_world):
        ends = await results(pool, ids, timeout=15)
    assert all(e.report is not None and e.report.failed for e in ends)
    assert [await ends_once(pool, i) for i in ids] == [1] * 5


@pytest.mark.slow
async def test_redis_restarted_under_load_loses_no_job(
    pool: QueueClient, redis_server: RedisServer, dns_world: DnsWorld
) -> None:
    # Given two workers busy with 30 diagnoses of about 1 s, 5 at a time each
    url = redis_server.url
    with black_hole_port(ORIGIN_ADDRESS) as port:
        jobs = [origin_job(port, connect_timeout=1, path=f"/{i}") for i in range(30)]
        opts = ("--concurrency", "5", "--min-idle", "2")
        async with workers(url, dns_world, *opts, n=2) as procs:
            ids = [await pool.submit(j) for j in jobs]
            for p in procs:
                await p.wait_for("job started", 1)
            # When Redis shuts down (saving its data) while jobs are queued and running
            redis_server.stop(save=True)
            # Then a client submitting meanwhile gets a clear error at once
            started = time.perf_counter()
            with pytest.raises(QueueError, match="unavailable"):
                await pool.submit(origin_job(port, path="/late"))
            assert time.perf_counter() - started < 1.0
            # And the workers notice, and keep retrying
            for p in procs:
                await p.wait_for("redis unavailable, retrying with backoff")
            # And once Redis is back, they reconnect and finish every job, once each
            redis_server.start()
            for p in procs:
                await p.wait_for("redis reachable again")
            ends = await results(pool, ids, timeout=40)
            assert all(e.kind is EventKind.DONE for e in ends)
            assert [await ends_once(pool, i) for i in ids] == [1] * 30
    assert await worker_side(pool).depth() == (0, 0)


def cf502(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cf502", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _essence(report: dict[str, Any]) -> Any:
    checks = [(c["id"], c["status"], c["summary"]) for c in report["checks"]]
    return checks, report["verdict"]["status"], report["verdict"]["likely_cause"]


@pytest.mark.parametrize("healthy", [True, False], ids=["healthy", "refusing"])
async def test_cli_check_through_the_pool_prints_the_same_report_as_a_local_run(
    redis_server: RedisServer, dns_world: DnsWorld, healthy: bool
) -> None:
    # Given a worker and an origin (listening, or refusing connections)
    with listening_port(ORIGIN_ADDRESS) as open_port:
        port = open_port if healthy else closed_port(ORIGIN_ADDRESS)
        common = [f"www.example.test:{port}", "--only", "tcp.https", "--json"]
        common += ["--connect-timeout", "1"]
        async with workers(redis_server.url, dns_world):
            # When it is checked through the pool, and locally
            remote = await asyncio.to_thread(
                cf502, "check", *common, "--redis-url", redis_server.url
            )
        local = cf502(
            "check",
            *common,
            "--resolver",
            f"127.0.0.1:{dns_world.port}",
            "--dns-port",
            str(dns_world.port),
            "--allow-private",
        )
    # Then both give the same checks, verdict and exit status
    assert remote.returncode == local.returncode == (0 if healthy else 1), remote.stderr
    assert _essence(json.loads(remote.stdout)) == _essence(json.loads(local.stdout))


async def test_cli_check_through_the_pool_fails_at_once_when_redis_is_down(
    redis_server: RedisServer,
) -> None:
    # Given Redis stopped
    redis_server.stop()
    # When a check is sent to the pool
    started = time.perf_counter()
    out = cf502("check", "www.example.test", "--redis-url", redis_server.url)
    # Then one line says so, with exit status 2 and no traceback, without waiting for anything
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert "The job queue (Redis at redis://127.0.0.1:" in out.stderr
    assert time.perf_counter() - started < 10  # interpreter start-up included


def test_cli_check_through_the_pool_refuses_worker_only_options() -> None:
    # Given --redis-url with an operator-only option, When run
    out = cf502(
        "check", "www.example.test", "--redis-url", "redis://127.0.0.1:1", "--resolver", "9.9.9.9"
    )
    # Then it is a usage error naming the option
    assert out.returncode == 2
    assert "--resolver is a worker setting" in out.stderr


async def test_cli_asking_a_safe_worker_for_private_targets_is_refused(
    redis_server: RedisServer, dns_world: DnsWorld
) -> None:
    # Given a worker that does not allow private targets
    async with workers(redis_server.url, dns_world, safe=True):
        # When the CLI asks it for --allow-private
        out = await asyncio.to_thread(
            cf502, "check", "www.example.test", "--redis-url", redis_server.url, "--allow-private"
        )
    # Then the request is refused with the worker's reason
    assert out.returncode == 2
    assert "not configured to allow private targets" in out.stderr


def test_worker_without_a_queue_is_a_usage_error() -> None:
    # Given no --redis-url and no REDIS_URL, When the worker starts
    out = cf502("worker")
    # Then it says what is missing in one line
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "cf502: error: Give --redis-url URL (or set REDIS_URL): the worker needs the job queue."
    )


def test_the_worker_reads_the_operators_settings_from_the_environment() -> None:
    # Given the same variables the bot reads
    env = {
        "CF502_ALLOW_PRIVATE": "true",
        "CF502_RESOLVER": "127.0.0.1:5353",
        "CF502_DNS_TIMEOUT": "2.5",
        "CF502_MAX_READ_TIMEOUT": "60",
    }
    # When the worker builds its engine settings, Then they are the operator's
    engine = EngineSettings.from_environ(env)
    assert engine.allow_private and engine.resolver == "127.0.0.1:5353"
    assert (engine.dns_timeout, engine.max_read_timeout) == (2.5, 60.0)
    # And a malformed value is named in one line
    with pytest.raises(ConfigError, match=r"^CF502_DNS_PORT must be a port number \(1-65535\)\.$"):
        EngineSettings.from_environ({"CF502_DNS_PORT": "fifty-three"})


async def test_two_workers_survive_poison_entries_and_serve_the_next_job(
    pool: QueueClient, redis_server: RedisServer, dns_world: DnsWorld
) -> None:
    # Given two worker processes
    depth = 5000
    nested = '{"job_id":"deep1","kind":"diagnose","origin":{},"target":' + (
        '{"a":' * depth + "1" + "}" * depth + "}"
    )
    oversize = json.dumps({**origin_job(8443).to_dict(), "pad": "x" * 2_000_000})
    poison: list[bytes | str] = [nested, oversize, b'{"job_id":"\xff\xfe\xfd"}', nested]
    with listening_port(ORIGIN_ADDRESS) as port:
        async with workers(redis_server.url, dns_world, n=2) as procs:
            # When the job stream gets entries nested 5,000 deep, of 2 MB, and not UTF-8 (one at
            # a time: Redis hands each to the worker that has waited longest, so both get some)
            for n, entry in enumerate(poison, 1):
                await pool.redis.xadd(pool.keys.jobs, {"job": entry})
                await until(lambda: sum(p.count("job dead-lettered") for p in procs) >= n)  # noqa: B023
            # Then each is dead-lettered with its reason, by both workers
            assert all(p.count("job dead-lettered") >= 1 for p in procs)
            dead = await worker_side(pool).dead_letters()
            assert len(dead) == 4, dead
            reasons = sorted(d["reason"] for d in dead)
            assert sum("RecursionError" in r for r in reasons) == 2, reasons
            assert sum("larger than 65536 bytes" in r for r in reasons) == 1, reasons
            assert sum("not valid UTF-8" in r for r in reasons) == 1, reasons
            # And both workers are still running and serve the next jobs
            ids = [await pool.submit(origin_job(port, path=f"/{n}")) for n in range(4)]
            ends = await results(pool, ids, timeout=15)
            assert all(e.kind is EventKind.DONE for e in ends)
            assert [p.proc.poll() for p in procs] == [None, None]
            await until(lambda: sum(p.count("job done") for p in procs) == 4)
    assert await worker_side(pool).depth() == (0, 0)
