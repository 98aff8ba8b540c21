"""http.response / http.headers / http.latency / http.redirect against real misbehaving servers on
loopback (tests/servers/http.py), plus the pure parser and judges on hand-made inputs."""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager

import h11
import pytest

from cf502.checks.http._exchange import (
    Exchange,
    ExchangeTimeouts,
    origin_exchange,
    start_exchanges,
)
from cf502.checks.http._report import ExchangeFinding, combine
from cf502.checks.http._wire import (
    BODY_CAP,
    EVENT_CAP,
    HEAD_CAP,
    INTERIM_CAP,
    STEP_EVENTS,
    ResponseObservation,
    ResponseParser,
)
from cf502.checks.http.headers import Headers, judge_headers
from cf502.checks.http.latency import Latency, judge_latency
from cf502.checks.http.redirect import Redirect, judge_redirect
from cf502.checks.http.response import Response
from cf502.checks.probe import Probe
from cf502.checks.registry import BY_ID
from cf502.checks.tls._probe import RECORDS_PER_READ
from cf502.engine import run_checks
from cf502.model import CheckResult, Status
from cf502.net import ConnectOutcome
from cf502.settings import EngineSettings, OriginSettings, ProtocolPolicy
from cf502.target import parse_target
from tests.servers.http import (
    EARLY_HINTS,
    HttpServer,
    http_origin,
    tls_ca,
    tls_server_context,
)
from tests.servers.tcp import closed_port

__all__ = ["http_origin", "tls_ca", "tls_server_context"]  # fixtures used by name below

ORIGIN = "origin.example.test"
CHECKS = (Response(), Headers(), Latency(), Redirect())


def make_probe(path: str = "/", **origin: object) -> Probe:
    settings: dict[str, object] = {
        "protocol_policy": ProtocolPolicy.HTTP_ONLY,
        "connect_timeout": 1,
        "read_timeout": 1,
        "path": path,
    }
    settings.update(origin)
    probe = Probe(
        parse_target(ORIGIN),
        OriginSettings(**settings),  # type: ignore[arg-type]
        EngineSettings(allow_private=True),
    )
    probe.addresses = ("127.0.0.1",)
    return probe


async def run_all(probe: Probe) -> dict[str, CheckResult]:
    return {c.id: await c.run(probe) for c in CHECKS}


def statuses(results: dict[str, CheckResult]) -> dict[str, Status]:
    return {cid: r.status for cid, r in results.items()}


# The most one parse step may hold the event loop: ~50 ms, with room for a loaded 2-core machine.
# Before parsing went in steps, a 1xx flood held it for seconds and a body of 1-byte chunks for
# over 100 ms per read.
MAX_LOOP_GAP = 0.2


class LoopWatch:
    """The largest gap between the ticks of a task running on the loop alongside."""

    def __init__(self) -> None:
        self.max_gap = 0.0
        self.ticks = 0

    async def tick(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.max_gap = max(self.max_gap, now - last)
            self.ticks += 1
            last = now


@asynccontextmanager
async def loop_watch() -> AsyncIterator[LoopWatch]:
    watch = LoopWatch()
    task = asyncio.create_task(watch.tick())
    try:
        yield watch
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# --- a healthy origin ----------------------------------------------------------------------------


async def test_good_origin_passes_every_http_check(http_origin: HttpServer) -> None:
    # Given a healthy plain-HTTP origin and an http-only origin protocol policy
    probe = make_probe(http_port=http_origin.port)
    # When the four HTTP checks run
    results = await run_all(probe)
    # Then all pass, from ONE request that looks like CloudFront's
    assert statuses(results) == dict.fromkeys(results, Status.PASS), results
    assert len(http_origin.seen) == 1
    seen = http_origin.seen[0]
    assert (seen.method, seen.target) == ("GET", "/")
    assert seen.header("Host") == ORIGIN
    assert seen.header("User-Agent") == "Amazon CloudFront"
    assert re.fullmatch(
        r"1\.1 [0-9a-f]{32}\.cloudfront\.net \(CloudFront\)", seen.header("Via") or ""
    )
    cf_id = seen.header("X-Amz-Cf-Id") or ""
    assert re.fullmatch(r"[A-Za-z0-9_-]{54}==", cf_id)
    # And the id is in the evidence so the origin's logs can be searched for it
    evidence = dict((e.label, e.value) for e in results["http.response"].evidence)
    assert evidence["X-Amz-Cf-Id sent"] == cf_id
    assert "HTTP/1.1 200 OK" in results["http.response"].summary
    assert "22 of 22 body bytes" in results["http.response"].summary


async def test_equivalent_curl_goes_to_the_vetted_address_with_cloudfronts_host(
    http_origin: HttpServer,
) -> None:
    # Given a forwarded Host header
    probe = make_probe(http_port=http_origin.port, host_header="cdn.example.test")
    # When http.latency runs
    res = await Latency().run(probe)
    # Then the origin saw that Host, and the curl line reproduces the request and its timings
    assert http_origin.seen[0].header("Host") == "cdn.example.test"
    (cmd,) = res.commands
    port = http_origin.port
    assert f"--connect-to cdn.example.test:{port}:127.0.0.1:{port}" in cmd
    assert "-H 'Host: cdn.example.test'" in cmd
    assert "-H 'User-Agent: Amazon CloudFront'" in cmd
    assert "%{time_connect}" in cmd and "%{time_starttransfer}" in cmd
    assert "%{size_header}" in cmd
    assert cmd.endswith(f"http://cdn.example.test:{port}/")


async def test_chunked_body_passes(http_origin: HttpServer) -> None:
    # Given an origin answering with a valid chunked body
    probe = make_probe("/chunked", http_port=http_origin.port)
    # When http.response runs
    res = await Response().run(probe)
    # Then it passes and counts the de-chunked bytes
    assert res.status is Status.PASS, res.summary
    assert "chunked body complete (12 bytes)" in res.summary


async def test_https_only_request_uses_tls_with_cloudfronts_offer(
    tls_server_context: ssl.SSLContext,
) -> None:
    # Given a healthy HTTPS origin (certificate from a test CA; not verified here)
    async with HttpServer(tls=tls_server_context) as server:
        probe = make_probe(protocol_policy=ProtocolPolicy.HTTPS_ONLY, https_port=server.port)
        # When the HTTP checks run
        results = await run_all(probe)
    # Then they pass over TLS 1.2 (CloudFront's maximum), and the latency shows the handshake
    assert statuses(results) == dict.fromkeys(results, Status.PASS), results
    latency = dict((e.label, e.value) for e in results["http.latency"].evidence)
    assert "TLS handshake" in latency
    assert "TLS " in results["http.latency"].summary
    assert any("-k --tls-max 1.2" in c for c in results["http.response"].commands)


async def test_https_request_goes_on_the_connection_tls_handshake_negotiated(
    tls_server_context: ssl.SSLContext,
) -> None:
    # Given a healthy HTTPS origin, https-only, and the TCP, TLS and HTTP checks as the engine runs
    # them (the handshakes start alongside tcp.https)
    checks = [BY_ID[c] for c in ("tcp.https", "tls.handshake", *(c.id for c in CHECKS))]
    async with HttpServer(tls=tls_server_context) as server:
        probe = make_probe(protocol_policy=ProtocolPolicy.HTTPS_ONLY, https_port=server.port)
        try:
            results = await run_checks(checks, {c.id for c in checks}, probe)
        finally:
            await probe.close()
        # Then all pass, from ONE TLS connection: CloudFront's handshake, then its request on it
        assert statuses(results) == dict.fromkeys(results, Status.PASS), results
        assert (server.connections, len(server.seen)) == (1, 1)
    # And the latency still shows the handshake, the cipher is the one negotiated
    latency = dict((e.label, e.value) for e in results["http.latency"].evidence)
    assert "TLS handshake" in latency
    handshake = {e.label: e.value for e in results["tls.handshake"].evidence}
    assert any("ECDHE" in str(v) for v in handshake.values()), handshake


async def test_a_handshake_nobody_sends_a_request_on_is_closed_with_the_diagnosis(
    tls_server_context: ssl.SSLContext,
) -> None:
    # Given an HTTPS origin and a diagnosis that runs an HTTP check (so the handshake's connection
    # is kept) whose request never comes (only the TLS checks get to run here)
    async with HttpServer(tls=tls_server_context) as server:
        probe = make_probe(protocol_policy=ProtocolPolicy.HTTPS_ONLY, https_port=server.port)
        probe.running = frozenset({"tcp.https", "tls.handshake", "http.response"})
        res = await BY_ID["tls.handshake"].run(probe)
        assert res.status is Status.PASS, res.summary
        assert server.connections == 1
        # When the diagnosis ends
        await probe.close()
        # Then the origin sees the connection go (its handler ends), without a request
        async with asyncio.timeout(5):
            while server._tasks:
                await asyncio.sleep(0.01)
        assert server.seen == []


async def test_https_request_after_a_handshake_that_was_not_kept_opens_its_own(
    tls_server_context: ssl.SSLContext,
) -> None:
    # Given an HTTPS origin whose handshake was observed without keeping the connection (no
    # check sending the request was expected)
    async with HttpServer(tls=tls_server_context) as server:
        probe = make_probe(protocol_policy=ProtocolPolicy.HTTPS_ONLY, https_port=server.port)
        try:
            assert (await BY_ID["tls.handshake"].run(probe)).status is Status.PASS
            # When the HTTP checks run after all
            results = await run_all(probe)
        finally:
            await probe.close()
        # Then the request gets a connection of its own and they pass
        assert statuses(results) == dict.fromkeys(results, Status.PASS), results
        assert (server.connections, len(server.seen)) == (2, 1)


# Hostile origins over HTTPS: the request goes on the handshake's pyOpenSSL connection, and every
# bound of the plain exchange holds the same (the same findings, deadlines and caps).
HOSTILE = (
    "/truncated",
    "/garbage",
    "/bad-chunked",
    "/endless-headers",
    "/big-body",
    "/interim-flood",
    "/tiny-chunks?kib=64",
    "/stall-body",
    "/drip-head?gap=0.2",
    "/never",
)


@pytest.mark.parametrize("path", HOSTILE)
async def test_hostile_origin_is_judged_the_same_over_https(
    path: str, tls_server_context: ssl.SSLContext
) -> None:
    # Given the same hostile behaviour served over plain HTTP and over HTTPS
    found: dict[str, tuple[object, ...]] = {}
    for scheme in ("http", "https"):
        tls = tls_server_context if scheme == "https" else None
        async with HttpServer(tls=tls) as server:
            policy = ProtocolPolicy.HTTPS_ONLY if tls else ProtocolPolicy.HTTP_ONLY
            probe = make_probe(
                path, protocol_policy=policy, http_port=server.port, https_port=server.port
            )
            # When the HTTP checks run
            started = time.monotonic()
            try:
                results = await run_all(probe)
                ex = await origin_exchange(probe, scheme, "127.0.0.1")
            finally:
                await probe.close()
            elapsed = time.monotonic() - started
        r = ex.response
        found[scheme] = (
            statuses(results),
            (r.status, r.error_kind, ex.timeout, ex.io_error),
            (r.head_cap_hit, r.body_cap_hit, r.event_cap_hit, r.complete),
        )
        # Then each ends within the response timeout (1 s) and a margin
        assert elapsed < 2.5, (scheme, elapsed)
    # And HTTPS concludes exactly as HTTP does
    assert found["https"] == found["http"]


async def test_body_of_1_byte_tls_records_costs_bounded_cpu(
    tls_server_context: ssl.SSLContext,
) -> None:
    # Given an HTTPS origin sending its 20 KiB body one byte per TLS record (each record costs a
    # decryption; a 1 MiB body would be a million of them) and a task ticking on the same loop
    async with HttpServer(tls=tls_server_context) as server:
        probe = make_probe(
            "/tiny-records", protocol_policy=ProtocolPolicy.HTTPS_ONLY, https_port=server.port
        )
        # When http.response runs
        async with loop_watch() as watch:
            res = await Response().run(probe)
            ex = await origin_exchange(probe, "https", "127.0.0.1")
    # Then each record counts as a piece, as a read does: reading stops after EVENT_CAP of them
    assert res.status is Status.PASS, res.summary
    r = ex.response
    assert r.event_cap_hit and r.body_bytes < 20 * 1024, r
    assert EVENT_CAP <= r.body_events < EVENT_CAP + RECORDS_PER_READ
    assert f"in {r.body_events:,} pieces" in res.summary
    # And no step held the loop for long
    assert watch.max_gap < MAX_LOOP_GAP, watch.max_gap


async def test_the_request_started_early_is_the_one_every_check_judges(
    http_origin: HttpServer,
) -> None:
    # Given the exchanges started as the engine starts them, before any check has run
    probe = make_probe(http_port=http_origin.port)
    start_exchanges(probe)

    def not_started() -> Awaitable[Exchange]:
        raise AssertionError("start_exchanges did not start the exchange")

    ex = await probe.begin(("http", "http", "127.0.0.1"), not_started)
    # Then the origin got the request without any check asking for it
    assert ex.response.status == 200 and len(http_origin.seen) == 1
    # And the four checks judge that one exchange: no second request
    results = await run_all(probe)
    assert statuses(results) == dict.fromkeys(results, Status.PASS), results
    assert len(http_origin.seen) == 1
    await probe.close()


# --- http.response -------------------------------------------------------------------------------


async def test_truncated_body_fails_naming_the_bytes(http_origin: HttpServer) -> None:
    # Given an origin that announces 1000 bytes and closes after 10
    probe = make_probe("/truncated", http_port=http_origin.port)
    # When http.response runs
    res = await Response().run(probe)
    # Then it fails and says how much arrived
    assert res.status is Status.FAIL
    assert "closed the connection after 10 of 1000 body bytes" in res.summary
    assert res.cloudfront_error == "OriginReadError"


async def test_zero_size_body_against_content_length_fails(http_origin: HttpServer) -> None:
    # Given an origin that announces a body and closes before sending any of it
    probe = make_probe("/zero-body", http_port=http_origin.port)
    # When http.response runs
    res = await Response().run(probe)
    # Then it fails as a zero-size object
    assert res.status is Status.FAIL
    assert "before sending any of the 1000 body bytes" in res.summary
    assert res.cloudfront_error == "OriginZeroSizeObjectError"


async def test_garbage_reply_fails_at_once_not_at_the_deadline(http_origin: HttpServer) -> None:
    # Given something on the port that answers with an SSH banner and keeps the connection open
    probe = make_probe("/garbage", http_port=http_origin.port, read_timeout=10)
    # When http.response runs
    started = time.monotonic()
    res = await Response().run(probe)
    elapsed = time.monotonic() - started
    # Then it fails as a non-HTTP reply (502) without waiting for the 10 s response timeout
    assert res.status is Status.FAIL
    assert "not HTTP" in res.summary and "SSH-2.0" in res.summary
    assert (res.cloudfront_status, res.cloudfront_error) == (502, "OriginInvalidResponseError")
    assert elapsed < 2


async def test_malformed_status_line_fails(http_origin: HttpServer) -> None:
    # Given an origin whose status code is not a number
    probe = make_probe("/bad-status", http_port=http_origin.port)
    # When the checks run
    results = await run_all(probe)
    # Then http.response fails with 502 and the headers cannot be measured
    res = results["http.response"]
    assert res.status is Status.FAIL
    assert "malformed" in res.summary and "2x0" in res.summary
    assert (res.cloudfront_status, res.cloudfront_error) == (502, "OriginInvalidResponseError")
    assert results["http.headers"].status is Status.SKIP


async def test_bad_chunking_fails(http_origin: HttpServer) -> None:
    # Given an origin whose second chunk size is not hexadecimal
    probe = make_probe("/bad-chunked", http_port=http_origin.port)
    # When http.response runs
    res = await Response().run(probe)
    # Then it fails naming the chunked body
    assert res.status is Status.FAIL
    assert "chunked body is malformed after 5 body bytes" in res.summary
    assert res.cloudfront_error == "OriginInvalidResponseError"


async def test_two_100_continue_responses_fail(http_origin: HttpServer) -> None:
    # Given an origin that sends two 100 Continue before its answer
    probe = make_probe("/two-continues", http_port=http_origin.port)
    # When http.response runs
    res = await Response().run(probe)
    # Then it fails: CloudFront accepts only one
    assert res.status is Status.FAIL
    assert "more than one 100 Continue" in res.summary
    assert res.cloudfront_status == 502


async def test_interim_flood_fails_at_once_naming_it_without_stalling_the_loop(
    http_origin: HttpServer,
) -> None:
    # Given an origin streaming 103 Early Hints without end, and a task ticking on the same loop
    probe = make_probe("/interim-flood", http_port=http_origin.port, read_timeout=5)
    # When the checks run
    async with loop_watch() as watch:
        started, cpu = time.monotonic(), time.thread_time()
        results = await run_all(probe)
        elapsed, cpu = time.monotonic() - started, time.thread_time() - cpu
    # Then http.response fails naming the flood (502), long before the 5 s response timeout
    res = results["http.response"]
    assert res.status is Status.FAIL, res.summary
    assert "flood of interim (1xx) responses" in res.summary
    assert f"{INTERIM_CAP + 1} (103 x{INTERIM_CAP + 1})" in res.summary
    assert (res.cloudfront_status, res.cloudfront_error) == (502, "OriginInvalidResponseError")
    assert results["http.headers"].status is Status.SKIP
    assert elapsed < 2 and cpu < 1, (elapsed, cpu)
    # And the loop was never held for long (other diagnoses and heartbeats kept running)
    assert watch.max_gap < MAX_LOOP_GAP, watch.max_gap


async def test_body_of_1_byte_chunks_costs_bounded_cpu(http_origin: HttpServer) -> None:
    # Given an origin sending a valid 2 MiB chunked body in 1-byte chunks (a million parser
    # events before the 1 MiB body cap), and a task ticking on the same loop
    probe = make_probe("/tiny-chunks", http_port=http_origin.port, read_timeout=5)
    # When http.response runs (the server shares this thread, so its CPU counts too)
    async with loop_watch() as watch:
        started, cpu = time.monotonic(), time.thread_time()
        res = await Response().run(probe)
        elapsed, cpu = time.monotonic() - started, time.thread_time() - cpu
    # Then reading stops after EVENT_CAP pieces, well under a second of CPU (it was ~11 s)
    assert res.status is Status.PASS, res.summary
    assert f"well framed, in {EVENT_CAP:,} pieces (chunks and reads)" in res.summary
    assert cpu < 1.5 and elapsed < 3, (cpu, elapsed)
    # And no parse step held the loop for long
    assert watch.max_gap < MAX_LOOP_GAP, watch.max_gap


async def test_dripping_head_fails_at_the_response_timeout(http_origin: HttpServer) -> None:
    # Given an origin sending its status line, then one header byte every 0.2 s (each byte well
    # within the 1 s per-packet gap, the head never complete)
    probe = make_probe("/drip-head?gap=0.2", http_port=http_origin.port, read_timeout=1)
    # When the checks run
    started = time.monotonic()
    results = await run_all(probe)
    elapsed = time.monotonic() - started
    # Then http.latency fails at the 1 s response timeout, not at the 3 s budget, predicting 504
    res = results["http.latency"]
    assert res.status is Status.FAIL, res.summary
    assert "no complete status line and headers within the 1 s response timeout" in res.summary
    assert (res.cloudfront_status, res.cloudfront_error) == (504, "OriginCommError")
    assert 1 <= elapsed < 1.8, elapsed
    # And the evidence says why 504, though each packet restarts CloudFront's timeout
    evidence = dict((e.label, str(e.value)) for e in res.evidence)
    assert evidence["stopped by"] == "the response timeout (status line and headers not complete)"
    why = evidence["CloudFront with an unfinished head"]
    assert "restarts its response timeout with each packet" in why
    assert "502 (OriginHeaderTooBigError)" in why and "504 is the prediction" in why
    # And http.response leaves the verdict to http.latency
    assert results["http.response"].status is Status.SKIP
    assert "see http.latency" in results["http.response"].summary


async def test_body_without_length_or_chunking_warns(http_origin: HttpServer) -> None:
    # Given an origin that ends its body by closing the connection
    probe = make_probe("/no-length", http_port=http_origin.port)
    # When http.response runs
    res = await Response().run(probe)
    # Then it warns that a cut-off body cannot be told from a complete one
    assert res.status is Status.WARN
    assert "neither Content-Length nor chunked" in res.summary


async def test_big_body_is_read_up_to_the_cap_only(http_origin: HttpServer) -> None:
    # Given an origin sending a 4 MiB body
    probe = make_probe("/big-body", http_port=http_origin.port)
    # When http.response runs
    res = await Response().run(probe)
    # Then it passes after reading the first 1 MiB, and says the rest was not read
    assert res.status is Status.PASS, res.summary
    assert f"the first {BODY_CAP:,} body bytes arrived, the rest was not read" in res.summary


async def test_origins_own_502_is_reported_as_the_origins(http_origin: HttpServer) -> None:
    # Given an origin that itself answers 502
    probe = make_probe("/origin-502", http_port=http_origin.port)
    # When http.response runs
    res = await Response().run(probe)
    # Then it fails, saying the 502 is the origin's and CloudFront caches it
    assert res.status is Status.FAIL
    assert "The origin itself answers 502" in res.summary
    assert "caches it for the error-caching TTL" in res.summary
    assert res.cloudfront_status == 502
    assert "X-Amz-Cf-Id" in res.remediation


# --- http.headers --------------------------------------------------------------------------------


async def test_25kb_of_headers_fail_naming_the_largest(http_origin: HttpServer) -> None:
    # Given an origin sending about 25,000 bytes of headers, the largest a Set-Cookie
    probe = make_probe("/big-headers", http_port=http_origin.port)
    # When the checks run
    results = await run_all(probe)
    # Then http.headers fails over the 20,480-byte limit and names Set-Cookie first
    res = results["http.headers"]
    assert res.status is Status.FAIL
    assert "over CloudFront's 20,480-byte limit" in res.summary
    assert "largest: Set-Cookie" in res.summary
    assert (res.cloudfront_status, res.cloudfront_error) == (502, "OriginHeaderTooBigError")
    # And the response itself is well-formed
    assert results["http.response"].status is Status.PASS


async def test_headers_near_the_limit_warn(http_origin: HttpServer) -> None:
    # Given about 17,500 bytes of headers (over 80 % of the limit)
    probe = make_probe("/near-limit-headers", http_port=http_origin.port)
    # When http.headers runs
    res = await Headers().run(probe)
    # Then it warns with the share of the limit
    assert res.status is Status.WARN
    assert "86% of CloudFront's 20,480-byte limit" in res.summary


async def test_endless_headers_cost_bounded_time_and_memory(http_origin: HttpServer) -> None:
    # Given an origin that sends header lines forever (up to 16 MiB)
    probe = make_probe("/endless-headers", http_port=http_origin.port, read_timeout=5)
    # When the checks run
    started = time.monotonic()
    results = await run_all(probe)
    elapsed = time.monotonic() - started
    # Then http.headers fails at the read cap, quickly, and http.response leaves it to it
    res = results["http.headers"]
    assert res.status is Status.FAIL
    assert f"headers run past {HEAD_CAP:,} bytes" in res.summary
    assert res.cloudfront_error == "OriginHeaderTooBigError"
    assert results["http.response"].status is Status.SKIP
    assert elapsed < 2


# --- http.latency --------------------------------------------------------------------------------


async def test_slow_first_byte_fails_at_the_response_timeout(http_origin: HttpServer) -> None:
    # Given an origin that answers after 3 s, and a 1 s response timeout
    probe = make_probe("/slow?delay=3", http_port=http_origin.port, read_timeout=1)
    # When the checks run
    started = time.monotonic()
    results = await run_all(probe)
    elapsed = time.monotonic() - started
    # Then http.latency predicts CloudFront's 504 and the deadline was kept
    res = results["http.latency"]
    assert res.status is Status.FAIL
    assert "sent nothing within the 1 s response timeout" in res.summary
    assert "504 after about 3 s" in res.summary  # 3 attempts for a GET
    assert (res.cloudfront_status, res.cloudfront_error) == (504, "OriginCommError")
    assert 1 <= elapsed < 1.8
    # And http.response does not blame the response for the timeout
    assert results["http.response"].status is Status.SKIP


async def test_origin_that_never_answers_is_detected_at_the_deadline(
    http_origin: HttpServer,
) -> None:
    # Given an origin that accepts the request and never sends a byte
    probe = make_probe("/never", http_port=http_origin.port, read_timeout=1, connection_attempts=1)
    # When http.latency runs
    started = time.monotonic()
    res = await Latency().run(probe)
    elapsed = time.monotonic() - started
    # Then it fails at the 1 s response timeout, not later
    assert res.status is Status.FAIL
    assert res.cloudfront_status == 504
    assert "504 after about 1 s" in res.summary
    assert 1 <= elapsed < 1.5


async def test_stall_between_packets_fails(http_origin: HttpServer) -> None:
    # Given an origin that sends headers and 10 body bytes, then nothing
    probe = make_probe("/stall-body", http_port=http_origin.port, read_timeout=1)
    # When http.latency runs
    res = await Latency().run(probe)
    # Then the gap between packets is caught; viewers get a cut-off response, not a 504
    assert res.status is Status.FAIL
    assert "stopped sending after" in res.summary
    assert res.cloudfront_error == "OriginCommError"
    assert res.cloudfront_status is None


# --- http.redirect -------------------------------------------------------------------------------


async def test_redirect_to_https_on_the_forwarded_host_is_a_loop(http_origin: HttpServer) -> None:
    # Given an origin redirecting HTTP to https://$host, http-only, and the viewer's Host
    # forwarded: the redirect leads viewers back to CloudFront
    probe = make_probe(
        "/redirect-https", http_port=http_origin.port, host_header="www.example.test"
    )
    # When http.redirect runs
    res = await Redirect().run(probe)
    # Then it reports the loop and the fix
    assert res.status is Status.FAIL
    assert "Redirect loop" in res.summary
    assert "301 to https://www.example.test/redirect-https" in res.summary
    assert "policy http-only" in res.summary
    assert "HTTPS only" in res.remediation
    assert ("Location", "https://www.example.test/redirect-https") in [
        (e.label, e.value) for e in res.evidence
    ]


async def test_redirect_to_https_on_the_origins_own_name_is_no_loop(
    http_origin: HttpServer,
) -> None:
    # Given the same origin, but CloudFront sends the origin's own name as Host (the default)
    probe = make_probe("/redirect-https", http_port=http_origin.port)
    # When http.redirect runs
    res = await Redirect().run(probe)
    # Then it is no loop: it warns that viewers are sent off CloudFront, to the origin itself
    assert res.status is Status.WARN, res.summary
    assert "Redirect loop" not in res.summary and "no redirect loop" in res.summary
    assert f"301 to https://{ORIGIN}/redirect-https, its own name" in res.summary
    assert f"viewers leave CloudFront for https://{ORIGIN}/redirect-https" in res.summary
    assert "connection error" in res.summary
    assert res.cloudfront_status is None
    assert "HTTPS only" in res.remediation


async def test_canonical_redirect_to_the_site_name_is_a_loop_once_it_leads_to_cloudfront(
    http_origin: HttpServer,
) -> None:
    # Given an origin that sends everyone to https://www.example.test, with the Host left alone
    alone = await Redirect().run(make_probe("/redirect-canonical", http_port=http_origin.port))
    # When www.example.test is the CloudFront site, the redirect leads back to CloudFront
    site = await Redirect().run(
        make_probe(
            "/redirect-canonical", http_port=http_origin.port, cloudfront_domain="www.example.test"
        )
    )
    # Then only the second is a loop (the first is just a redirect elsewhere)
    assert alone.status is Status.PASS, alone.summary
    assert site.status is Status.FAIL and "Redirect loop" in site.summary


async def test_healthy_origin_has_no_redirect_finding(http_origin: HttpServer) -> None:
    res = await Redirect().run(make_probe("/", http_port=http_origin.port))
    assert res.status is Status.PASS and "No redirect" in res.summary


async def test_redirect_to_https_with_match_viewer_is_a_loop(http_origin: HttpServer) -> None:
    # Given match-viewer, the redirecting origin on HTTP (to https://$host, the viewer's forwarded
    # Host) and nothing listening on HTTPS
    probe = make_probe(
        "/redirect-https",
        protocol_policy=ProtocolPolicy.MATCH_VIEWER,
        http_port=http_origin.port,
        https_port=closed_port(),
        host_header="www.example.test",
    )
    # When http.redirect runs
    res = await Redirect().run(probe)
    # Then the HTTP half fails with the match-viewer explanation (the HTTPS half was not reached)
    assert res.status is Status.FAIL
    assert "match-viewer" in res.summary
    assert f"HTTP 127.0.0.1:{http_origin.port}: Redirect loop" in res.summary


async def test_redirect_to_the_cloudfront_url_itself_is_a_loop(http_origin: HttpServer) -> None:
    # Given an origin redirecting to the same path on the CloudFront domain
    probe = make_probe(
        "/redirect-self-cdn", http_port=http_origin.port, cloudfront_domain="cdn.example.test"
    )
    # When http.redirect runs
    res = await Redirect().run(probe)
    # Then it is a loop through CloudFront's cache
    assert res.status is Status.FAIL
    assert "http://cdn.example.test/redirect-self-cdn, the URL viewers asked for" in res.summary


async def test_redirect_elsewhere_passes(http_origin: HttpServer) -> None:
    # Given an origin redirecting to another site
    probe = make_probe("/redirect-elsewhere", http_port=http_origin.port)
    # When http.redirect runs
    res = await Redirect().run(probe)
    # Then it passes: CloudFront relays the redirect, no loop
    assert res.status is Status.PASS
    assert "302 to https://elsewhere.example.com/landing" in res.summary


# --- when the request cannot be made -------------------------------------------------------------


async def test_refused_connection_skips_pointing_at_the_tcp_check() -> None:
    # Given nothing listening on the HTTP port
    probe = make_probe(http_port=closed_port())
    # When the checks run
    results = await run_all(probe)
    # Then every HTTP check is skipped with a pointer to tcp.http
    assert statuses(results) == dict.fromkeys(results, Status.SKIP)
    assert "see tcp.http" in results["http.response"].summary


async def test_plain_http_on_the_https_port_skips_pointing_at_tls(http_origin: HttpServer) -> None:
    # Given https-only but a plain HTTP server on the HTTPS port
    probe = make_probe(protocol_policy=ProtocolPolicy.HTTPS_ONLY, https_port=http_origin.port)
    # When http.response runs
    res = await Response().run(probe)
    # Then it is skipped with a pointer to tls.handshake
    assert res.status is Status.SKIP
    assert "see tls.handshake" in res.summary


# --- pure parts ----------------------------------------------------------------------------------


def parse(raw: bytes, method: str = "GET", step: int = 0) -> ResponseObservation:
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=HEAD_CAP + 1)  # as build_request
    conn.send(h11.Request(method=method, target="/", headers=[("Host", "x.test")]))
    conn.send(h11.EndOfMessage())
    parser = ResponseParser(method, conn)
    chunks = [raw[i : i + step] for i in range(0, len(raw), step)] if step else [raw]
    for chunk in chunks:
        parser.feed(chunk)
        while parser.pending:
            parser.resume()
    if not parser.done:
        parser.feed_eof()
        while parser.pending:
            parser.resume()
    return parser.observation()


@pytest.mark.parametrize("step", [0, 1, 7])
def test_parser_counts_the_exact_header_bytes_however_the_bytes_arrive(step: int) -> None:
    # Given a response with an interim 100 Continue, delivered whole or byte by byte
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: b\r\n\r\n"
    # When it is parsed
    obs = parse(b"HTTP/1.1 100 Continue\r\n\r\n" + head + b"abc", step=step)
    # Then only the final head is counted, exactly, and the body is complete
    assert obs.head_bytes == len(head)
    assert obs.interim == (100,)
    assert (obs.complete, obs.body_bytes, obs.body_prefix) == (True, 3, b"abc")


def test_parser_expects_no_body_for_head() -> None:
    # Given the answer to a HEAD request announcing a length
    obs = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", method="HEAD")
    # Then it is complete without a body
    assert (obs.complete, obs.framing, obs.error) == (True, "none", None)


def test_parser_names_a_connection_closed_mid_head() -> None:
    # Given a reply cut inside the headers
    obs = parse(b"HTTP/1.1 200 OK\r\nContent-Le")
    # Then it says so
    assert obs.error_kind == "closed-in-head"


def test_parser_stops_a_flood_of_interim_responses_at_the_count_cap() -> None:
    # Given more 103 Early Hints than any origin sends, in one read
    obs = parse(EARLY_HINTS * 1000)
    # Then it fails naming the flood after INTERIM_CAP + 1, keeping only those
    assert obs.error_kind == "interim-flood", obs
    assert obs.interim == (103,) * (INTERIM_CAP + 1)
    assert "flood of interim (1xx) responses" in (obs.error or "")


def test_interim_responses_count_against_the_header_budget() -> None:
    # Given a few interim responses, each with 12 KB of Link headers, and then a final response
    hint = b"HTTP/1.1 103 Early Hints\r\nLink: " + b"<" + b"l" * 12_000 + b">\r\n\r\n"
    final = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    # Then six fit in HEAD_CAP and the final response is read
    obs = parse(hint * 5 + final, step=4096)
    assert (obs.status, obs.interim, obs.error) == (200, (103,) * 5, None)
    # But with six the interim heads alone run past HEAD_CAP: a flood, whatever comes after
    obs = parse(hint * 6 + final, step=4096)
    assert obs.error_kind == "interim-flood", obs
    assert f"filling {HEAD_CAP:,} bytes" in (obs.error or "")
    assert obs.status is None


def test_a_final_head_too_big_after_an_interim_one_is_the_header_cap() -> None:
    # Given a 100 Continue, then a final head that never ends
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n" + b"X-Endless: y\r\n" * 10_000
    # When parsed
    obs = parse(raw, step=65536)
    # Then it is the header cap (http.headers' finding), not a flood
    assert (obs.head_cap_hit, obs.error_kind, obs.interim) == (True, None, (100,))


def test_parser_caps_body_events_and_parses_in_bounded_steps() -> None:
    # Given a valid chunked body of 1-byte chunks, 64 KiB on the wire per read
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x.test")]))
    conn.send(h11.EndOfMessage())
    parser = ResponseParser("GET", conn)
    parser.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    read = b"1\r\nx\r\n" * (65536 // 6)
    steps = 0
    while not parser.done:
        # When each read is fed, then parsed step by step
        parser.feed(read)
        steps += 1
        while parser.pending:
            # Then no step parses more than STEP_EVENTS events (the caller yields in between)
            before = parser.observation().body_events
            parser.resume()
            assert parser.observation().body_events - before <= STEP_EVENTS
            steps += 1
    # And reading stops at EVENT_CAP events, well before the 1 MiB body cap
    obs = parser.observation()
    assert obs.event_cap_hit and not obs.body_cap_hit and obs.error is None
    assert obs.body_events == EVENT_CAP
    assert obs.body_bytes < EVENT_CAP
    assert steps >= EVENT_CAP // STEP_EVENTS


def _exchange(
    *,
    scheme: str = "http",
    ttfb_ms: float | None = 5.0,
    connect_ms: float = 1.0,
    status: int | None = 200,
    headers: tuple[tuple[str, str], ...] = (),
    target: str = "/",
    host: str = ORIGIN,
) -> Exchange:
    return Exchange(
        scheme=scheme,
        address="192.0.2.10",
        port=80 if scheme == "http" else 443,
        host=host,
        sni=None,
        method="GET",
        target=target,
        request_id="id",
        connect=ConnectOutcome("192.0.2.10", 80, "open", "", connect_ms),
        timeouts=ExchangeTimeouts(connect=10, tls=10, response=30, gap=30, budget=50),
        ttfb_ms=ttfb_ms,
        total_ms=(ttfb_ms or 0) + 2,
        response=ResponseObservation(
            raw_bytes=100,
            status=status,
            reason="OK",
            http_version="1.1",
            headers=headers,
            head_bytes=sum(len(n) + len(v) + 4 for n, v in headers) + 19,
            framing="content-length",
            content_length=0,
            complete=True,
        ),
    )


def test_latency_warns_over_80_percent_of_the_response_timeout() -> None:
    # Given a first byte after 25 s with a 30 s response timeout
    origin = OriginSettings(read_timeout=30)
    # When judged
    finding = judge_latency(_exchange(ttfb_ms=25_000), origin)
    # Then it warns, predicting 504
    assert finding.status is Status.WARN
    assert "83% of the 30 s response timeout" in finding.summary
    assert finding.cloudfront_status == 504
    # And a fast origin passes
    assert judge_latency(_exchange(ttfb_ms=20), origin).status is Status.PASS


def test_latency_warns_on_a_slow_connect() -> None:
    # Given a 9 s connect with a 10 s connection timeout
    finding = judge_latency(_exchange(connect_ms=9_000), OriginSettings())
    # Then it warns about the connection timeout
    assert finding.status is Status.WARN
    assert "90% of the 10 s connection timeout" in finding.summary


def test_headers_exactly_at_the_limit_pass_and_one_byte_over_fails() -> None:
    # Given header blocks of exactly 20,480 and 20,481 bytes
    def of_size(size: int) -> Exchange:
        pad = size - 19 - len("X-Pad") - 4
        return _exchange(headers=(("X-Pad", "p" * pad),))

    # Then the first is within the limit (a warning, being over 80 %) and the second fails
    assert of_size(20_480).response.head_bytes == 20_480
    assert judge_headers(of_size(20_480)).status is Status.WARN
    assert judge_headers(of_size(20_481)).status is Status.FAIL


@pytest.mark.parametrize(
    ("scheme", "location", "expected"),
    [
        ("http", "https://origin.example.test/", Status.WARN),  # HTTP -> HTTPS, the origin's name
        ("http", "https://www.example.test/", Status.FAIL),  # ... the forwarded Host (viewer's)
        ("http", "https://cdn.example.test/", Status.FAIL),  # ... or the CloudFront name
        ("http", "/", Status.FAIL),  # relative: same URL, same scheme
        ("http", "/login", Status.PASS),  # another page on the same host
        ("https", "http://origin.example.test/", Status.WARN),  # downgrade
        ("https", "https://origin.example.test/other", Status.PASS),
        ("http", "https://elsewhere.example.com/", Status.PASS),
    ],
)
def test_redirect_judgement(scheme: str, location: str, expected: Status) -> None:
    # Given a 301 with this Location for a request to /
    ex = _exchange(scheme=scheme, status=301, headers=(("Location", location),))
    hosts = frozenset({ORIGIN, "cdn.example.test", "www.example.test"})
    # When judged under http-only, CloudFront forwarding the viewer's Host www.example.test
    origin = OriginSettings(
        protocol_policy=ProtocolPolicy.HTTP_ONLY,
        host_header="www.example.test",
        cloudfront_domain="cdn.example.test",
    )
    finding = judge_redirect(ex, origin, hosts)
    # Then
    assert finding.status is expected, finding.summary


def test_combine_names_only_the_failing_exchanges() -> None:
    # Given one passing and one failing exchange
    good = _exchange()
    bad = _exchange(scheme="https")
    pairs = [
        (good, ExchangeFinding(Status.PASS, "fine.")),
        (bad, ExchangeFinding(Status.FAIL, "broken.", "fix it", 502, "OriginReadError")),
    ]
    # When merged
    res = combine(Response(), pairs, evidence=[], commands=[])
    # Then the failure wins and only it is named
    assert res.status is Status.FAIL
    assert res.summary == "HTTPS 192.0.2.10:443: broken."
    assert (res.cloudfront_status, res.remediation) == (502, "fix it")
