"""cf502/ops/metrics.py and cf502/ops/health.py: the series, their helpers, and the metrics/health server
on a real loopback port."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client import REGISTRY

from cf502.model import CheckResult, Report, Status, Verdict
from cf502.ops import metrics
from cf502.ops.health import Readiness, ReadyCheck
from cf502.ops.metrics import MetricsServer, QueueStats, start_metrics_server


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def server() -> AsyncIterator[MetricsServer]:
    srv = await start_metrics_server(0, "127.0.0.1")
    try:
        yield srv
    finally:
        await srv.close()


async def _get(url: str) -> tuple[int, str, str]:
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


def _report(status: Status = Status.FAIL) -> Report:
    checks = (
        CheckResult("dns.resolve", "Origin name resolves", Status.PASS, "ok", duration_ms=12),
        CheckResult("tcp.https", "HTTPS port open", status, "refused", duration_ms=1500),
    )
    verdict = Verdict(status, "tcp.https" if status is Status.FAIL else None, "summary")
    return Report({"host": "origin.example.com"}, {}, checks, verdict, 1600, "2026-01-01T00:00:00")


def test_observe_report_counts_outcomes_and_durations() -> None:
    # Given the counters before
    fails = _value("cf502_check_results_total", check="tcp.https", status="fail")
    slow = _value("cf502_check_duration_seconds_bucket", check="tcp.https", le="2.5")
    fast = _value("cf502_check_duration_seconds_bucket", check="tcp.https", le="1.0")
    diagnoses = _value("cf502_diagnosis_duration_seconds_count", status="fail")
    # When a report with a failing 1.5 s check is observed
    metrics.observe_report(_report())
    # Then the outcome is counted by check id and status, and the durations land in the buckets
    assert _value("cf502_check_results_total", check="tcp.https", status="fail") == fails + 1
    assert _value("cf502_check_duration_seconds_bucket", check="tcp.https", le="2.5") == slow + 1
    assert _value("cf502_check_duration_seconds_bucket", check="tcp.https", le="1.0") == fast
    assert _value("cf502_diagnosis_duration_seconds_count", status="fail") == diagnoses + 1


def test_job_lifecycle_counts_running_done_and_failed() -> None:
    done = _value("cf502_jobs_done_total", kind="diagnose")
    refused = _value("cf502_jobs_failed_total", kind="diagnose", reason="refused")
    crashed = _value("cf502_jobs_failed_total", kind="diagnose", reason="crash")
    running = _value("cf502_jobs_running")
    # Given a job that finishes with a report
    with metrics.job_running("diagnose"):
        # Then it counts as running while it runs
        assert _value("cf502_jobs_running") == running + 1
    # And as done afterwards
    assert _value("cf502_jobs_done_total", kind="diagnose") == done + 1
    # Given a job that ends without a report
    with metrics.job_running("diagnose"):
        metrics.job_failed("diagnose", "refused")
    # Then it counts as failed with its reason, not as done
    assert _value("cf502_jobs_failed_total", kind="diagnose", reason="refused") == refused + 1
    assert _value("cf502_jobs_done_total", kind="diagnose") == done + 1
    # Given a job that crashes
    with pytest.raises(RuntimeError), metrics.job_running("diagnose"):
        raise RuntimeError("bug")
    # Then it counts as failed by crash, and nothing is left running
    assert _value("cf502_jobs_failed_total", kind="diagnose", reason="crash") == crashed + 1
    assert _value("cf502_jobs_running") == running


def test_slack_calls_and_errors_with_bounded_labels() -> None:
    calls = _value("cf502_slack_api_calls_total", method="chat.update")
    errors = _value("cf502_slack_api_errors_total", method="chat.update", error="ratelimited")
    # When two calls are made, one rate-limited
    metrics.record_slack_call("chat.update")
    metrics.record_slack_call("chat.update", "ratelimited")
    # Then both are counted and the error is counted by its code
    assert _value("cf502_slack_api_calls_total", method="chat.update") == calls + 2
    assert (
        _value("cf502_slack_api_errors_total", method="chat.update", error="ratelimited")
        == errors + 1
    )
    # And a hostile error string cannot create a long or odd label value
    squeezed = _value("cf502_slack_api_errors_total", method="chat.update", error="x" * 40)
    metrics.record_slack_call("chat.update", "x" * 500 + "\n{}")
    assert (
        _value("cf502_slack_api_errors_total", method="chat.update", error="x" * 40) == squeezed + 1
    )


async def test_metrics_endpoint_serves_every_named_series(server: MetricsServer) -> None:
    # Given a job and a diagnosis went through this process
    metrics.job_queued("diagnose")
    with metrics.job_running("diagnose"):
        metrics.observe_report(_report())
    metrics.record_slack_call("chat.postMessage")
    # When Prometheus scrapes /metrics
    status, ctype, body = await _get(f"{server.url}/metrics")
    # Then it gets the text format with every series the dashboards use
    assert status == 200
    assert ctype.startswith("text/plain")
    for series in (
        "cf502_jobs_queued_total",
        "cf502_jobs_running",
        "cf502_jobs_done_total",
        "cf502_jobs_failed_total",
        "cf502_check_results_total",
        "cf502_check_duration_seconds_bucket",
        "cf502_diagnosis_duration_seconds_bucket",
        "cf502_slack_api_calls_total",
        "cf502_slack_api_errors_total",
        "cf502_queue_depth",
        "cf502_queue_oldest_pending_age_seconds",
        "process_resident_memory_bytes",
    ):
        assert f"\n{series}" in body, series


async def test_queue_gauges_are_refreshed_at_scrape_time() -> None:
    scrapes = 0

    async def refresh() -> QueueStats:
        nonlocal scrapes
        scrapes += 1
        return QueueStats(depth=7 * scrapes, oldest_age=2.5)

    # Given a server whose queue statistics come from a callback
    srv = await start_metrics_server(0, "127.0.0.1", refresh=refresh)
    try:
        # When it is scraped twice
        await _get(f"{srv.url}/metrics")
        _, _, body = await _get(f"{srv.url}/metrics")
    finally:
        await srv.close()
    # Then each scrape read the queue afresh
    assert "cf502_queue_depth 14.0" in body
    assert "cf502_queue_oldest_pending_age_seconds 2.5" in body


async def test_scrape_answers_when_the_queue_cannot_be_read() -> None:
    never = asyncio.Event()

    async def stuck() -> QueueStats:
        await never.wait()  # Redis that never answers
        raise AssertionError("unreachable")

    # Given a queue read that hangs
    srv = await start_metrics_server(0, "127.0.0.1", refresh=stuck)
    try:
        # When Prometheus scrapes
        status, _, body = await _get(f"{srv.url}/metrics")
    finally:
        await srv.close()
    # Then the scrape still answers (within the refresh deadline) with the other series
    assert status == 200
    assert "cf502_jobs_running" in body


async def test_health_without_redis_is_ready(server: MetricsServer) -> None:
    # Given a process with no Redis (the embedded pool)
    # When the orchestrator probes it
    live = await _get(f"{server.url}/healthz")
    ready = await _get(f"{server.url}/readyz")
    # Then it is alive and ready, and says Redis is not configured
    assert live[0] == 200 and '"not configured"' in live[2]
    assert ready[0] == 200 and '"ready"' in ready[2]


async def test_readyz_fails_while_the_dependency_is_down() -> None:
    async def down() -> Readiness:
        return Readiness(False, "redis: Connection refused", 0.4)

    check: ReadyCheck = down
    # Given a process whose readiness check fails
    srv = await start_metrics_server(0, "127.0.0.1", ready=check)
    try:
        live = await _get(f"{srv.url}/healthz")
        ready = await _get(f"{srv.url}/readyz")
    finally:
        await srv.close()
    # Then it is still alive (restarting it would not fix Redis) but not ready
    assert live[0] == 200
    assert ready[0] == 503
    assert "Connection refused" in ready[2]


async def test_container_healthcheck_command(server: MetricsServer) -> None:
    # Given the image's HEALTHCHECK command, `python -m cf502.ops.healthprobe PORT`
    async def run(*args: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "cf502.ops.healthprobe", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    # When it probes a live server, a closed port, and a nonsense port
    ok = await run(str(server.port))
    closed_port = await _closed_port()
    down = await run(str(closed_port))
    bad = await run("http")
    # Then it exits 0, 1 and 2, with a one-line reason on failure
    assert ok.returncode == 0, ok.stderr
    assert down.returncode == 1 and len(down.stderr.strip().splitlines()) == 1
    assert bad.returncode == 2 and "not a TCP port" in bad.stderr


async def _closed_port() -> int:
    # A port that was just bound and released: nothing listens there.
    srv = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = int(srv.sockets[0].getsockname()[1])
    srv.close()
    await srv.wait_closed()
    return port
