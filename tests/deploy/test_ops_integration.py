"""Operations end to end: a real `cf502 worker` process and the bot's real HTTP server, with a real
redis-server, the loopback DNS world and real TCP origins. /metrics shows the named series after
real diagnoses, /readyz fails while Redis is down (and recovers), the log lines are JSON with the
job's fields."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import REGISTRY

from bot.app import build_bot
from bot.run import serve_http
from bot.settings import Settings
from cf502.ops.metrics import JOB_METRICS
from cf502.pool.jobs import EventKind, Job, JobKind
from cf502.pool.queue.client import QueueClient
from cf502.settings import OriginSettings
from cf502.target import parse_target
from handlers import register
from tests.servers.dns import ORIGIN_ADDRESS, DnsWorld
from tests.servers.redis import RedisServer
from tests.servers.tcp import closed_port, listening_port

HOST = "www.example.test"  # the DNS world resolves it to ORIGIN_ADDRESS


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def world() -> Iterator[DnsWorld]:
    with DnsWorld() as dns:
        yield dns


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WorkerProcess:
    """`python -m cf502 worker` with a metrics port; keeps its stderr lines."""

    def __init__(self, redis_url: str, world: DnsWorld) -> None:
        self.metrics_port = _free_port()
        self.lines: list[str] = []
        self._ready = threading.Event()
        cmd = [
            sys.executable, "-m", "cf502", "worker",
            "--redis-url", redis_url,
            "--allow-private",
            "--resolver", f"127.0.0.1:{world.port}",
            "--dns-port", str(world.port),
            "--dns-timeout", "1",
            "--min-idle", "2",
            "--concurrency", "4",
            "--metrics-port", str(self.metrics_port),
            "--log-format", "json",
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if "worker ready" in line:
                self._ready.set()
        self._ready.set()  # exited: wake the waiter, which then sees the exit

    def wait_ready(self, timeout: float = 30) -> None:
        if not self._ready.wait(timeout) or self.proc.poll() is not None:
            raise AssertionError("the worker did not start:\n" + "".join(self.lines[-20:]))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def worker(redis: RedisServer, world: DnsWorld) -> Iterator[WorkerProcess]:
    proc = WorkerProcess(redis.url, world)
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


@pytest.fixture
async def pool(redis: RedisServer) -> AsyncIterator[QueueClient]:
    p = QueueClient(redis.url, observer=JOB_METRICS)  # plays the bot, which counts its jobs
    yield p
    await p.close()


def _job(port: int, path: str) -> Job:
    target = parse_target(HOST)
    origin = OriginSettings.for_target(
        target, https_port=port, connect_timeout=1, connection_attempts=1, path=path
    )
    return Job(
        JobKind.DIAGNOSE, target.to_dict(), origin.to_dict(), only=("dns.resolve", "tcp.https")
    )


async def _get(url: str) -> tuple[int, str]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as resp:
        return resp.status, await resp.text()


def _sample(body: str, series: str) -> float:
    """The value of one sample line, e.g. `cf502_jobs_done_total{kind="diagnose"}`."""
    for line in body.splitlines():
        name, _, value = line.rpartition(" ")
        if name == series:
            return float(value)
    raise AssertionError(f"{series} is not exposed")


async def test_worker_metrics_after_real_diagnoses(
    worker: WorkerProcess, pool: QueueClient
) -> None:
    # Given a worker process, a healthy origin and one that refuses connections
    refused = closed_port(ORIGIN_ADDRESS)
    queued = REGISTRY.get_sample_value("cf502_jobs_queued_total", {"kind": "diagnose"}) or 0
    with listening_port(ORIGIN_ADDRESS) as healthy:
        # When both are diagnosed through the queue
        good = await pool.result(await pool.submit(_job(healthy, "/good")), timeout=20)
        bad = await pool.result(await pool.submit(_job(refused, "/bad")), timeout=20)
    assert good is not None and good.kind is EventKind.DONE
    assert bad is not None and bad.kind is EventKind.DONE
    # Then the submitting process (the bot, here the test) counted both jobs as queued
    assert REGISTRY.get_sample_value("cf502_jobs_queued_total", {"kind": "diagnose"}) == queued + 2
    # And Prometheus scrapes the worker's metrics port
    status, body = await _get(f"{worker.url}/metrics")
    assert status == 200
    # Then the worker shows the jobs, the check outcomes by id and status, and the durations
    assert _sample(body, 'cf502_jobs_done_total{kind="diagnose"}') == 2
    assert _sample(body, "cf502_jobs_running") == 0
    assert _sample(body, 'cf502_check_results_total{check="tcp.https",status="pass"}') == 1
    assert _sample(body, 'cf502_check_results_total{check="tcp.https",status="fail"}') == 1
    assert _sample(body, 'cf502_check_results_total{check="dns.resolve",status="pass"}') == 2
    assert _sample(body, 'cf502_check_duration_seconds_count{check="tcp.https"}') == 2
    assert _sample(body, 'cf502_diagnosis_duration_seconds_count{status="fail"}') == 1
    assert _sample(body, 'cf502_diagnosis_duration_seconds_count{status="pass"}') == 1
    # And the queue gauges were read from Redis at scrape time: nothing is left waiting
    assert _sample(body, "cf502_queue_depth") == 0
    assert _sample(body, "cf502_queue_oldest_pending_age_seconds") == 0
    assert _sample(body, "process_resident_memory_bytes") > 0
    # And the worker's log lines are JSON, each job's lines carrying its id and target
    events = [json.loads(line) for line in worker.lines if line.startswith("{")]
    done = [e for e in events if e["event"] == "job done"]
    assert len(done) == 2
    assert {e["target"] for e in done} == {HOST}
    assert {e["job_id"] for e in done} == {good.job_id, bad.job_id}
    assert all({"job_id", "check_id", "target"} <= set(e) for e in events)


async def test_worker_readyz_fails_while_redis_is_down(
    worker: WorkerProcess, redis: RedisServer
) -> None:
    # Given a ready worker
    assert (await _get(f"{worker.url}/readyz"))[0] == 200
    # When Redis goes away
    redis.stop()
    ready = await _get(f"{worker.url}/readyz")
    live = await _get(f"{worker.url}/healthz")
    # Then the worker is not ready, says why, and is still alive (a restart would not help)
    assert ready[0] == 503
    assert json.loads(ready[1])["status"] == "not ready"
    assert live[0] == 200
    # When Redis is back on the same port
    redis.start()
    # Then the worker is ready again, without a restart
    assert (await _get(f"{worker.url}/readyz"))[0] == 200


@pytest.fixture
async def bot_http(redis: RedisServer) -> AsyncIterator[str]:
    """The bot's real HTTP-mode server (as `cf502 bot --http` runs it), queueing to Redis."""
    settings = Settings(
        bot_token="xoxb-1-2-test",
        signing_secret="0123456789abcdef0123456789abcdef",
        api_url=f"http://127.0.0.1:{closed_port()}/api/",  # never reached: no Slack call here
        redis_url=redis.url,
        metrics_on_slack_port=True,  # the operator's opt-in; by default only the metrics port
    )
    bot = build_bot(settings, register)
    server = await serve_http(bot, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.close()
        await bot.close()


async def test_bot_readyz_follows_redis_and_metrics_are_served(
    bot_http: str, redis: RedisServer
) -> None:
    # Given the bot's HTTP server with Redis up
    assert (await _get(f"{bot_http}/readyz"))[0] == 200
    # When Redis goes away
    redis.stop()
    ready = await _get(f"{bot_http}/readyz")
    # Then the bot is not ready (the load balancer stops sending it Slack's requests) but alive
    assert ready[0] == 503
    assert (await _get(f"{bot_http}/healthz"))[0] == 200
    # And /metrics on the same server still answers
    status, body = await _get(f"{bot_http}/metrics")
    assert status == 200 and "cf502_slack_api_calls_total" in body
    # When Redis is back, Then the bot is ready again
    redis.start()
    assert (await _get(f"{bot_http}/readyz"))[0] == 200


def _count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_embedded_pool_counts_its_jobs_like_a_worker(world: DnsWorld) -> None:
    from cf502.pool.local import LocalPool

    # Given the bot's in-process pool (no Redis) and an origin that refuses connections
    pool = LocalPool(world.engine(), observer=JOB_METRICS)
    before = {
        "queued": _count("cf502_jobs_queued_total", kind="diagnose"),
        "done": _count("cf502_jobs_done_total", kind="diagnose"),
        "fail": _count("cf502_check_results_total", check="tcp.https", status="fail"),
        "refused": _count("cf502_jobs_failed_total", kind="diagnose", reason="refused"),
    }
    try:
        # When it diagnoses that origin, and is asked for a private target it may not touch
        end = await pool.result(
            await pool.submit(_job(closed_port(ORIGIN_ADDRESS), "/x")), timeout=20
        )
        strict = LocalPool(world.engine(allow_private=False), observer=JOB_METRICS)
        try:
            refused = await strict.result(await strict.submit(_job(443, "/y")), timeout=20)
        finally:
            await strict.close()
    finally:
        await pool.close()
    assert end is not None and end.kind is EventKind.DONE
    assert refused is not None and refused.kind is EventKind.FAILED
    # Then this process's metrics show both jobs, the failing check and the refusal
    assert _count("cf502_jobs_queued_total", kind="diagnose") == before["queued"] + 2
    assert _count("cf502_jobs_done_total", kind="diagnose") == before["done"] + 1
    assert (
        _count("cf502_check_results_total", check="tcp.https", status="fail") == before["fail"] + 1
    )
    assert (
        _count("cf502_jobs_failed_total", kind="diagnose", reason="refused")
        == before["refused"] + 1
    )
    assert _count("cf502_jobs_running") == 0
