"""Hostile origins against a real `cf502 check` process, as an attacker would try them: a flood of
1xx responses, a body of 1-byte chunks, a head that drips. Each must end within its time bound,
on little CPU (the child's own rusage), with the right check named."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.servers.dns import ORIGIN_ADDRESS, DnsWorld, example_zones
from tests.servers.http import HttpServerThread

HOST = "www.example.test"


@pytest.fixture(scope="module")
def world() -> Iterator[DnsWorld]:
    with DnsWorld() as w:
        w.set_zones(example_zones())
        yield w


@pytest.fixture(scope="module")
def origin() -> Iterator[HttpServerThread]:
    with HttpServerThread(ORIGIN_ADDRESS) as server:
        yield server


@dataclass(frozen=True, slots=True)
class Run:
    code: int
    wall: float
    cpu: float  # user + system seconds of the cf502 process
    report: dict[str, Any]
    stderr: str

    def check(self, check_id: str) -> dict[str, Any]:
        return next(c for c in self.report["checks"] if c["id"] == check_id)


def cf502(world: DnsWorld, origin: HttpServerThread, path: str, read_timeout: int) -> Run:
    argv = [
        sys.executable, "-m", "cf502", "check", HOST, "--json", "--allow-private",
        "--resolver", f"127.0.0.1:{world.port}", "--dns-port", str(world.port),
        "--dns-timeout", "1", "--connect-timeout", "1", "--read-timeout", str(read_timeout),
        "--protocol-policy", "http-only", "--http-port", str(origin.port), "--path", path,
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert proc.stdout, proc.stderr
    return Run(proc.returncode, wall, cpu, json.loads(proc.stdout), proc.stderr)


# A cf502 process spends about 0.4 s of CPU starting and diagnosing a healthy origin; before the
# caps, these origins cost it 7-50 s.
CPU_BOUND = 3.0


def test_1xx_flood_fails_http_response_at_once(world: DnsWorld, origin: HttpServerThread) -> None:
    # Given an origin streaming 103 Early Hints without end
    # When cf502 check runs with a 5 s response timeout
    run = cf502(world, origin, "/interim-flood", read_timeout=5)
    # Then it fails http.response naming the flood, in well under the timeout, on little CPU
    assert run.code == 1, run.stderr
    res = run.check("http.response")
    assert res["status"] == "fail"
    assert "flood of interim (1xx) responses" in res["summary"]
    assert (res["cloudfront_status"], res["cloudfront_error"]) == (
        502,
        "OriginInvalidResponseError",
    )
    assert run.report["verdict"]["likely_cause"] == "http.response"
    assert run.wall < 4 and run.cpu < CPU_BOUND, (run.wall, run.cpu)
    # And the DNS checks running alongside were not starved (a stalled loop made them time out)
    assert run.check("dns.authoritative")["status"] == "pass"


def test_body_of_1_byte_chunks_costs_little_cpu(world: DnsWorld, origin: HttpServerThread) -> None:
    # Given an origin sending a valid 2 MiB chunked body in 1-byte chunks
    # When cf502 check runs
    run = cf502(world, origin, "/tiny-chunks", read_timeout=5)
    # Then reading stops after a bounded number of pieces, the framing judged sound (valid
    # HTTP/1.1 that CloudFront relays), and the process spends little CPU
    res = run.check("http.response")
    assert res["status"] == "pass", res
    assert "well framed, in 16,384 pieces" in res["summary"]
    assert run.code == 0, run.report
    assert run.wall < 4 and run.cpu < CPU_BOUND, (run.wall, run.cpu)


def test_dripping_head_fails_http_latency_within_the_response_timeout(
    world: DnsWorld, origin: HttpServerThread
) -> None:
    # Given an origin that sends its status line, then one header byte per second
    # When cf502 check runs with a 3 s response timeout (1 s connection timeout)
    run = cf502(world, origin, "/drip-head", read_timeout=3)
    # Then http.latency fails predicting CloudFront's 504, and the diagnosis ends at about
    # connection + response timeout (it was the 5 s budget, or 50 s with the defaults, and PASS)
    assert run.code == 1, run.stderr
    res = run.check("http.latency")
    assert res["status"] == "fail", res
    assert "no complete status line and headers within the 3 s response timeout" in res["summary"]
    assert (res["cloudfront_status"], res["cloudfront_error"]) == (504, "OriginCommError")
    assert run.report["verdict"]["likely_cause"] == "http.latency"
    assert 3 <= run.wall < 3 + 1 + 2.5, run.wall
    assert run.cpu < CPU_BOUND, run.cpu
