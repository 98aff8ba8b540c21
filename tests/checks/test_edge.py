"""cloudfront.edge against a fake CloudFront edge (TLS, loopback) found through a real DNS server,
compared with the direct request to a real origin; plus two whole diagnoses end to end."""

from __future__ import annotations

import ssl
from typing import Any

from cf502.checks.edge import Edge, error_page_reason
from cf502.config import EngineSettings, OriginSettings, ProtocolPolicy
from cf502.engine import diagnose
from cf502.model import CheckResult, Status
from cf502.probe import Probe
from cf502.target import parse_target
from tests.servers.dns import ORIGIN_ADDRESS, DnsWorld, dns_world_fixture, example_zones
from tests.servers.http import (
    CF_ERROR_PAGE,
    FakeEdge,
    HttpServer,
    http_origin,
    tls_ca,
    tls_server_context,
)

# fixtures used by name (dns_world_fixture provides `dns_world`)
__all__ = ["dns_world_fixture", "http_origin", "tls_ca", "tls_server_context"]

CDN = "cdn.example.test"
EDGE_ADDRESS = "127.0.0.1"


def edge_probe(
    world: DnsWorld, edge: HttpServer, origin_port: int, path: str = "/", **more: Any
) -> Probe:
    """A probe for www.example.test over HTTP on `origin_port`, with CDN resolving to the edge."""
    world.set_zones(example_zones(extra=f"cdn A {EDGE_ADDRESS}"))
    settings: dict[str, Any] = {
        "protocol_policy": ProtocolPolicy.HTTP_ONLY,
        "http_port": origin_port,
        "path": path,
        "connect_timeout": 1,
        "read_timeout": 1,
        "cloudfront_domain": CDN,
    }
    settings.update(more.pop("origin", {}))
    probe = Probe(
        parse_target("www.example.test"),
        OriginSettings(**settings),
        world.engine(edge_port=edge.port, **more),
    )
    probe.addresses = ("127.0.0.1",)
    return probe


def evidence(res: CheckResult) -> dict[str, str]:
    return {e.label: e.value for e in res.evidence}


async def test_cloudfront_502_while_origin_answers_200_points_between_them(
    dns_world: DnsWorld, http_origin: HttpServer, tls_server_context: ssl.SSLContext
) -> None:
    # Given a healthy origin, and an edge answering with CloudFront's own 502 error page
    async with FakeEdge(tls_server_context, "cf-502") as edge:
        probe = edge_probe(dns_world, edge, http_origin.port)
        # When cloudfront.edge runs
        res = await Edge().run(probe)
    # Then it fails, saying the cause is between CloudFront and the origin
    assert res.status is Status.FAIL, res.summary
    assert "CloudFront answers 502 (Error from cloudfront, POP LHR61-P1)" in res.summary
    assert "CloudFront wasn't able to connect to the origin." in res.summary
    assert "while the origin answers 200 OK directly" in res.summary
    assert "the cause is between CloudFront and the origin" in res.summary
    assert res.cloudfront_status == 502
    # And it shows CloudFront's headers
    ev = evidence(res)
    assert ev["X-Cache"] == "Error from cloudfront"
    assert ev["X-Amz-Cf-Pop"] == "LHR61-P1"
    assert ev["Server"] == "CloudFront"
    assert ev["Via"].endswith(".cloudfront.net (CloudFront)")
    assert "X-Amz-Cf-Id" in ev
    assert "at least 10 s" in ev["cache buster"]
    # And the edge got a viewer request with a cache-busting query, the origin CloudFront's
    (seen,) = edge.seen
    assert seen.header("Host") == CDN
    assert seen.path == "/" and len(seen.query("cf502")) == 8
    assert http_origin.seen[0].header("User-Agent") == "Amazon CloudFront"
    # And the equivalent commands include the through-CloudFront curl -sI
    assert any(c.startswith("curl -sI ") and "cf502=" in c for c in res.commands)


async def test_origins_own_502_is_told_apart(
    dns_world: DnsWorld, http_origin: HttpServer, tls_server_context: ssl.SSLContext
) -> None:
    # Given an origin that answers 502 itself, relayed by the edge with the origin's body
    async with FakeEdge(tls_server_context, "origin-502") as edge:
        probe = edge_probe(dns_world, edge, http_origin.port, "/origin-502")
        # When cloudfront.edge runs
        res = await Edge().run(probe)
    # Then it says the origin itself returns 502 and CloudFront caches it
    assert res.status is Status.FAIL
    assert "the origin itself returns 502" in res.summary
    assert "caches it for the error-caching TTL" in res.summary
    assert res.cloudfront_status == 502


async def test_cloudfront_502_with_a_broken_origin_says_fix_the_origin(
    dns_world: DnsWorld, http_origin: HttpServer, tls_server_context: ssl.SSLContext
) -> None:
    # Given an origin sending garbage, and CloudFront's 502 page at the edge
    async with FakeEdge(tls_server_context, "cf-502") as edge:
        probe = edge_probe(dns_world, edge, http_origin.port, "/garbage")
        # When cloudfront.edge runs
        res = await Edge().run(probe)
    # Then it fails and points at the origin's own failure
    assert res.status is Status.FAIL
    assert "and directly" in res.summary and "not HTTP" in res.summary
    assert "fix the origin" in res.summary


async def test_healthy_path_through_cloudfront_passes(
    dns_world: DnsWorld, http_origin: HttpServer, tls_server_context: ssl.SSLContext
) -> None:
    # Given an edge answering 200 (a cache miss) and a healthy origin
    async with FakeEdge(tls_server_context, "ok") as edge:
        probe = edge_probe(dns_world, edge, http_origin.port)
        # When cloudfront.edge runs
        res = await Edge().run(probe)
    # Then it passes, showing the cache result
    assert res.status is Status.PASS, res.summary
    assert "CloudFront answers 200 (Miss from cloudfront, POP LHR61-P1)" in res.summary


async def test_blocked_edge_address_is_refused_without_connecting(
    dns_world: DnsWorld, http_origin: HttpServer, tls_server_context: ssl.SSLContext
) -> None:
    # Given the CloudFront domain resolving to loopback, and private addresses not allowed
    async with FakeEdge(tls_server_context, "cf-502") as edge:
        probe = edge_probe(dns_world, edge, http_origin.port, allow_private=False)
        # When cloudfront.edge runs
        res = await Edge().run(probe)
    # Then it is refused with the safety message, and nothing connected to the edge
    assert res.status is Status.ERROR
    assert f"{CDN} resolves to {EDGE_ADDRESS}, a loopback address" in res.summary
    assert "--allow-private" in res.summary
    assert edge.seen == []


async def test_unresolvable_cloudfront_domain_is_an_error(
    dns_world: DnsWorld, http_origin: HttpServer, tls_server_context: ssl.SSLContext
) -> None:
    # Given a CloudFront domain that does not exist
    async with FakeEdge(tls_server_context, "ok") as edge:
        probe = edge_probe(
            dns_world, edge, http_origin.port, origin={"cloudfront_domain": "nope.example.test"}
        )
        # When cloudfront.edge runs
        res = await Edge().run(probe)
    # Then the check could not run, and says why
    assert res.status is Status.ERROR
    assert "nope.example.test does not exist (NXDOMAIN)" in res.summary


async def test_without_a_cloudfront_domain_the_check_skips(http_origin: HttpServer) -> None:
    # Given no CloudFront domain
    probe = Probe(
        parse_target("www.example.test"),
        OriginSettings(protocol_policy=ProtocolPolicy.HTTP_ONLY, http_port=http_origin.port),
        EngineSettings(allow_private=True),
    )
    # When cloudfront.edge runs
    res = await Edge().run(probe)
    # Then it is skipped and nothing was requested
    assert res.status is Status.SKIP
    assert "--cloudfront-domain" in res.summary
    assert http_origin.seen == []


def test_error_page_reason_reads_cloudfronts_page() -> None:
    # Given CloudFront's error page, and some other HTML
    # Then the reason is the first line after the rule, and other pages are not CloudFront's
    assert error_page_reason(CF_ERROR_PAGE) == "CloudFront wasn't able to connect to the origin."
    assert error_page_reason(b"<html><body>upstream is down</body></html>") is None


# --- whole diagnoses -----------------------------------------------------------------------------


async def test_diagnosis_of_healthy_origin_behind_failing_cloudfront(
    dns_world: DnsWorld, tls_server_context: ssl.SSLContext
) -> None:
    # Given www.example.test (resolving to ORIGIN_ADDRESS) served over HTTP, and an edge 502
    async with (
        HttpServer(ORIGIN_ADDRESS) as origin,
        FakeEdge(tls_server_context, "cf-502") as edge,
    ):
        probe = edge_probe(dns_world, edge, origin.port)
        # When the whole diagnosis runs
        report = await diagnose(parse_target("www.example.test"), probe.origin, probe.engine)
    # Then every HTTP check passes and the verdict names the request through CloudFront
    by_id = {c.id: c.status for c in report.checks}
    for cid in ("http.response", "http.headers", "http.latency", "http.redirect"):
        assert by_id[cid] is Status.PASS, report.check(cid)
    assert by_id["cloudfront.edge"] is Status.FAIL
    assert report.verdict.likely_cause == "cloudfront.edge"
    assert report.verdict.cloudfront_status == 502
    # And the origin got exactly one request from the four HTTP checks and the edge comparison
    assert len(origin.seen) == 1


async def test_diagnosis_of_truncating_origin_blames_the_response(
    dns_world: DnsWorld, tls_server_context: ssl.SSLContext
) -> None:
    # Given an origin that truncates its body
    async with (
        HttpServer(ORIGIN_ADDRESS) as origin,
        FakeEdge(tls_server_context, "cf-502") as edge,
    ):
        probe = edge_probe(dns_world, edge, origin.port, "/truncated")
        # When the whole diagnosis runs
        report = await diagnose(parse_target("www.example.test"), probe.origin, probe.engine)
    # Then the verdict names http.response, upstream of the edge comparison
    assert report.verdict.likely_cause == "http.response"
    assert "after 10 of 1000 body bytes" in report.verdict.summary
