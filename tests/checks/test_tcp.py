"""tcp.https / tcp.http against real loopback ports: open, refused, black-holed, partly dead."""

from __future__ import annotations

import time

from cf502.checks.probe import Probe
from cf502.checks.tcp import PortOpen
from cf502.model import Status
from cf502.settings import EngineSettings, OriginSettings, ProtocolPolicy
from cf502.target import parse_target
from tests.servers.tcp import black_hole_port, closed_port, listening_port


def make_probe(addresses: tuple[str, ...], **origin: object) -> Probe:
    p = Probe(
        parse_target("origin.example.test"),
        OriginSettings(**origin),  # type: ignore[arg-type]
        EngineSettings(allow_private=True),
    )
    p.addresses = addresses
    return p


async def test_open_port_passes() -> None:
    with listening_port() as port:
        res = await PortOpen("https").run(make_probe(("127.0.0.1",), https_port=port))
    assert res.status is Status.PASS, res.summary
    assert f"nc -vz -w 10 127.0.0.1 {port}" in res.commands
    assert any("--connect-to" in c for c in res.commands)


async def test_refused_port_fails_with_502() -> None:
    port = closed_port()
    res = await PortOpen("https").run(make_probe(("127.0.0.1",), https_port=port))
    assert res.status is Status.FAIL
    assert f"127.0.0.1 refused port {port}" in res.summary
    assert (res.cloudfront_status, res.cloudfront_error) == (502, "OriginConnectError")


async def test_dropped_syn_fails_with_504_after_connect_timeout() -> None:
    with black_hole_port() as port:
        started = time.monotonic()
        res = await PortOpen("https").run(
            make_probe(("127.0.0.1",), https_port=port, connect_timeout=1)
        )
        elapsed = time.monotonic() - started
    assert res.status is Status.FAIL
    assert "did not answer" in res.summary
    assert res.cloudfront_status == 504
    assert "3 attempts = 3 s" in res.remediation
    assert elapsed < 3  # one attempt, bounded by the connection timeout


async def test_one_dead_address_of_two_is_intermittent() -> None:
    # Given the same port open on 127.0.0.1 and closed on 127.0.0.2
    with listening_port("127.0.0.1") as port:
        res = await PortOpen("https").run(make_probe(("127.0.0.1", "127.0.0.2"), https_port=port))
    assert res.status is Status.FAIL
    assert res.summary.startswith("Intermittent: 1 of 2 addresses fail")
    assert "127.0.0.2" in res.summary and "50%" in res.summary


async def test_http_port_skipped_under_https_only() -> None:
    res = await PortOpen("http").run(make_probe(("127.0.0.1",)))
    assert res.status is Status.SKIP and "https-only" in res.summary


async def test_http_port_checked_under_http_only() -> None:
    port = closed_port()
    res = await PortOpen("http").run(
        make_probe(("127.0.0.1",), http_port=port, protocol_policy=ProtocolPolicy.HTTP_ONLY)
    )
    assert res.status is Status.FAIL and f"refused port {port}" in res.summary
