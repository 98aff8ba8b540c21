"""cloudfront.edge against a fake CloudFront edge (TLS, loopback) found through a real DNS server,
compared with the direct request to a real origin; plus two whole diagnoses end to end.

The fake edge's certificate is issued by the test CA (`tls_ca`), which the probes trust through
EngineSettings(ca_file=...), as an operator's --ca-file would; edges whose certificate does not
verify show that the check verifies it like a viewer's browser."""

from __future__ import annotations

import ssl
import time
from pathlib import Path
from typing import Any

import pytest
import trustme

from cf502.checks.cloudfront import BODY_CAP, USER_AGENT, Edge, edge_observation, error_page_reason
from cf502.checks.probe import Probe
from cf502.engine import diagnose
from cf502.model import CheckResult, Status
from cf502.settings import EngineSettings, OriginSettings, ProtocolPolicy
from cf502.target import parse_target
from tests.servers.dns import ORIGIN_ADDRESS, DnsWorld, dns_world_fixture, example_zones
from tests.servers.http import (
    CF_ERROR_PAGE,
    ORIGIN_ROUTES,
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


@pytest.fixture(scope="module")
def ca_file(tls_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test CA as a PEM file, for EngineSettings(ca_file=...)."""
    path = tmp_path_factory.mktemp("edge-ca") / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(path))
    return str(path)


def edge_probe(
    world: DnsWorld,
    edge: HttpServer,
    origin_port: int,
    path: str = "/",
    *,
    records: str = f"cdn A {EDGE_ADDRESS}",
    **more: Any,
) -> Probe:
    """A probe for www.example.test over HTTP on `origin_port`, with CDN resolving to the edge.
    Pass `ca_file` (the test CA) for the edge's certificate to verify."""
    world.set_zones(example_zones(extra=records))
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
    dns_world: DnsWorld,
    http_origin: HttpServer,
    tls_server_context: ssl.SSLContext,
    ca_file: str,
) -> None:
    # Given a healthy origin, and an edge answering with CloudFront's own 502 error page
    async with FakeEdge(tls_server_context, "cf-502") as edge:
        probe = edge_probe(dns_world, edge, http_origin.port, ca_file=ca_file)
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
    dns_world: DnsWorld,
    http_origin: HttpServer,
    tls_server_context: ssl.SSLContext,
    ca_file: str,
) -> None:
    # Given an origin that answers 502 itself, relayed by the edge with the origin's body
    async with FakeEdge(tls_server_context, "origin-502") as edge:
        probe = edge_probe(dns_world, edge, http_origin.port, "/origin-502", ca_file=ca_file)
        # When cloudfront.edge runs
        res = await Edge().run(probe)
    # Then it says the origin itself returns 502 and CloudFront caches it
    assert res.status is Status.FAIL
    assert "the origin itself returns 502" in res.summary
    assert "caches it for the error-caching TTL" in res.summary
    assert res.cloudfront_status == 502


async def test_cloudfront_502_with_a_broken_origin_says_fix_the_origin(
    dns_world: DnsWorld,
    http_origin: HttpServer,
    tls_server_context: ssl.SSLContext,
    ca_file: str,
) -> None:
    # Given an origin sending garbage, and CloudFront's 502 page at the edge
    async with FakeEdge(tls_server_context, "cf-502") as edge:
        probe = edge_probe(dns_world, edge, http_origin.port, "/garbage", ca_file=ca_file)
        # When cloudfront.edge runs
        res = await Edge().run(probe)
    # Then it fails and points at the origin's own failure
    assert res.status is Status.FAIL
    assert "and directly" in res.summary and "not HTTP" in res.summary
    assert "fix the origin" in res.summary


async def test_healthy_path_through_cloudfront_passes(
    dns_world: DnsWorld,
    http_origin: HttpServer,
    tls_server_context: ssl.SSLContext,
    ca_file: str,
) -> None:
    # Given an edge answering 200 (a cache miss) and a healthy origin
    async with FakeEdge(tls_server_context, "ok") as edge:
        probe = edge_probe(dns_world, edge, http_origin.port, ca_file=ca_file)
        # When cloudfront.edge runs
        res = await Edge().run(probe)
    # Then it passes, showing the cache result
    assert res.status is Status.PASS, res.summary
    assert "CloudFront answers 200 (Miss from cloudfront, POP LHR61-P1)" in res.summary


async def test_blocked_edge_address_is_refused_without_connecting(
    dns_world: DnsWorld,
    http_origin: HttpServer,
    tls_server_context: ssl.SSLContext,
    ca_file: str,
) -> None:
    # Given the CloudFront domain resolving to loopback, and private addresses not allowed
    async with FakeEdge(tls_server_context, "cf-502") as edge:
        probe = edge_probe(dns_world, edge, http_origin.port, allow_private=False, ca_file=ca_file)
        # When cloudfront.edge runs
        res = await Edge().run(probe)
    # Then it is refused with the safety message, and nothing connected to the edge
    assert res.status is Status.ERROR
    assert f"{CDN} resolves to {EDGE_ADDRESS}, a loopback address" in res.summary
    assert "--allow-private" in res.summary
    assert edge.seen == []


async def test_unresolvable_cloudfront_domain_is_an_error(
    dns_world: DnsWorld,
    http_origin: HttpServer,
    tls_server_context: ssl.SSLContext,
    ca_file: str,
) -> None:
    # Given a CloudFront domain that does not exist
    async with FakeEdge(tls_server_context, "ok") as edge:
        probe = edge_probe(
            dns_world,
            edge,
            http_origin.port,
            origin={"cloudfront_domain": "nope.example.test"},
            ca_file=ca_file,
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


# --- the viewer request: certificate, limits, failures --------------------------------------------


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*names).configure_cert(ctx)
    return ctx


async def test_viewer_request_is_made_like_a_browsers(
    dns_world: DnsWorld,
    http_origin: HttpServer,
    tls_server_context: ssl.SSLContext,
    ca_file: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a healthy edge, and a proxy in the environment that does not exist
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    async with FakeEdge(tls_server_context, "ok") as edge:
        probe = edge_probe(dns_world, edge, http_origin.port, ca_file=ca_file)
        # When cloudfront.edge runs
        res = await Edge().run(probe)
    # Then the request went straight to the vetted edge address, not through the proxy
    assert res.status is Status.PASS, res.summary
    (seen,) = edge.seen
    # And it was a plain viewer GET: cf502's User-Agent, no compression asked for
    assert seen.method == "GET" and seen.target.startswith("/?cf502=")
    assert seen.header("User-Agent") == USER_AGENT and USER_AGENT.startswith("cf502/0.")
    assert seen.header("Accept-Encoding") == "identity"
    # And the edge's certificate verified against the operator's CA file
    assert evidence(res)["edge certificate"] == (
        f"verifies for {CDN} against Mozilla's list + --ca-file"
    )


@pytest.mark.parametrize(
    ("issuer", "names", "trusted", "words"),
    [
        pytest.param(
            "test",
            ("wrong.example.test",),
            True,
            f"Hostname mismatch, certificate is not valid for '{CDN}'.",
            id="wrong-name",
        ),
        pytest.param(
            "other", (CDN,), True, "unable to get local issuer certificate", id="untrusted-ca"
        ),
        pytest.param(
            "test", (CDN,), False, "unable to get local issuer certificate", id="mozilla-only"
        ),
    ],
)
async def test_edge_certificate_that_does_not_verify_fails(
    dns_world: DnsWorld,
    http_origin: HttpServer,
    tls_ca: trustme.CA,
    ca_file: str,
    issuer: str,
    names: tuple[str, ...],
    trusted: bool,
    words: str,
) -> None:
    # Given an edge whose certificate is for another name, from a CA not trusted, or from the
    # test CA while only Mozilla's roots are trusted
    ca = tls_ca if issuer == "test" else trustme.CA()
    async with FakeEdge(server_context(ca, *names), "ok") as edge:
        probe = edge_probe(dns_world, edge, http_origin.port, ca_file=ca_file if trusted else None)
        # When cloudfront.edge runs
        res = await Edge().run(probe)
    # Then it fails, naming the domain and the TLS error in words
    assert res.status is Status.FAIL, res.summary
    assert f"The edge's certificate for {CDN} does not verify: {words}" in res.summary
    trust = "Mozilla's list + --ca-file" if trusted else "Mozilla's list"
    assert f"(checked against {trust})" in res.summary
    assert "alternate domain name" in res.remediation
    assert res.cloudfront_status is None
    # And no request was sent over the unverified connection
    assert edge.seen == []


@pytest.mark.parametrize(
    ("content", "words"),
    [
        pytest.param(None, "cannot read the CA file", id="missing"),
        pytest.param(b"not a certificate\n", "holds no PEM certificate", id="not-pem"),
    ],
)
async def test_unusable_ca_file_is_an_error_before_any_request(
    dns_world: DnsWorld,
    http_origin: HttpServer,
    tls_server_context: ssl.SSLContext,
    tmp_path: Path,
    content: bytes | None,
    words: str,
) -> None:
    # Given a CA file that is missing or holds no certificate
    bad = tmp_path / "ca.pem"
    if content is not None:
        bad.write_bytes(content)
    async with FakeEdge(tls_server_context, "ok") as edge:
        probe = edge_probe(dns_world, edge, http_origin.port, ca_file=str(bad))
        # When cloudfront.edge runs
        res = await Edge().run(probe)
    # Then the check could not run, says why in one line, and never reached the edge
    assert res.status is Status.ERROR
    assert res.summary.startswith("The request through CloudFront was not made: ")
    assert words in res.summary
    assert str(bad) in res.summary and "\n" not in res.summary
    assert edge.seen == []


async def test_edge_over_ipv6_is_requested_at_its_bracketed_address(
    dns_world: DnsWorld, http_origin: HttpServer, tls_server_context: ssl.SSLContext, ca_file: str
) -> None:
    # Given the CloudFront domain resolving only to ::1, where the edge listens
    async with FakeEdge(tls_server_context, "cf-502", host="::1") as edge:
        probe = edge_probe(
            dns_world, edge, http_origin.port, records="cdn AAAA ::1", ca_file=ca_file
        )
        # When cloudfront.edge runs
        res = await Edge().run(probe)
    # Then the edge at [::1] answered CloudFront's 502, with the domain as Host
    assert res.status is Status.FAIL, res.summary
    assert evidence(res)["CloudFront address"] == f"HTTPS [::1]:{edge.port}"
    assert res.cloudfront_status == 502
    (seen,) = edge.seen
    assert seen.header("Host") == CDN


async def test_non_ascii_path_is_percent_encoded_like_a_browser(
    dns_world: DnsWorld, http_origin: HttpServer, tls_server_context: ssl.SSLContext, ca_file: str
) -> None:
    # Given a path with non-ASCII characters and a query, as typed (the settings encode it)
    path = OriginSettings.for_target(parse_target("www.example.test"), path="/café?lang=fr").path
    async with FakeEdge(tls_server_context, "ok") as edge:
        probe = edge_probe(dns_world, edge, http_origin.port, path, ca_file=ca_file)
        # When the request through CloudFront is made
        observed = await edge_observation(probe, CDN)
    # Then the edge got the path in UTF-8 percent-encoding, the query kept, the buster added
    assert observed.reply is not None and observed.reply.status == 200
    (seen,) = edge.seen
    assert seen.target.startswith("/caf%C3%A9?lang=fr&cf502=")


async def test_huge_edge_body_is_read_only_up_to_the_cap(
    dns_world: DnsWorld, http_origin: HttpServer, tls_server_context: ssl.SSLContext, ca_file: str
) -> None:
    # Given an edge answering 200 with a 4 MiB body
    big = HttpServer(tls=tls_server_context, routes={}, default=ORIGIN_ROUTES["/big-body"])
    async with big as edge:
        probe = edge_probe(dns_world, edge, http_origin.port, ca_file=ca_file)
        # When cloudfront.edge runs
        res = await Edge().run(probe)
        observed = await edge_observation(probe, CDN)  # memoised: the same request
    # Then it passes, having kept only the first BODY_CAP bytes
    assert res.status is Status.PASS, res.summary
    assert observed.reply is not None
    assert len(observed.reply.body_prefix) == BODY_CAP
    assert len(edge.seen) == 1


async def test_edge_that_never_answers_warns_after_the_response_timeout(
    dns_world: DnsWorld, http_origin: HttpServer, tls_server_context: ssl.SSLContext, ca_file: str
) -> None:
    # Given an edge that accepts the request and never answers, and a 1 s response timeout
    silent = HttpServer(tls=tls_server_context, routes={}, default=ORIGIN_ROUTES["/never"])
    async with silent as edge:
        probe = edge_probe(dns_world, edge, http_origin.port, ca_file=ca_file)
        # When cloudfront.edge runs
        started = time.monotonic()
        res = await Edge().run(probe)
        elapsed = time.monotonic() - started
    # Then it warns that CloudFront is probably still waiting on the origin, after the response
    # timeout plus a second's margin for CloudFront's own 504, and not much longer
    assert res.status is Status.WARN, res.summary
    assert f"CloudFront ({CDN}) sent no answer within 2 s" in res.summary
    assert 1.9 <= elapsed < 3.5
    assert len(edge.seen) == 1


async def test_edge_answering_something_not_http_is_an_error(
    dns_world: DnsWorld, http_origin: HttpServer, tls_server_context: ssl.SSLContext, ca_file: str
) -> None:
    # Given an edge whose status line is not HTTP
    bad = HttpServer(tls=tls_server_context, routes={}, default=ORIGIN_ROUTES["/bad-status"])
    async with bad as edge:
        probe = edge_probe(dns_world, edge, http_origin.port, ca_file=ca_file)
        # When cloudfront.edge runs
        res = await Edge().run(probe)
    # Then the check says the edge did not give an HTTP answer
    assert res.status is Status.ERROR
    assert f"{CDN} did not give an HTTP answer:" in res.summary
    assert "status line" not in evidence(res)


async def test_edge_refusing_the_connection_is_an_error(
    dns_world: DnsWorld, http_origin: HttpServer, tls_server_context: ssl.SSLContext, ca_file: str
) -> None:
    # Given an edge address where nothing listens any more
    async with FakeEdge(tls_server_context, "ok") as gone:
        pass
    probe = edge_probe(dns_world, gone, http_origin.port, ca_file=ca_file)
    # When cloudfront.edge runs
    res = await Edge().run(probe)
    # Then it could not reach the edge, in the OS's words
    assert res.status is Status.ERROR
    assert f"Could not reach {CDN} at HTTPS {EDGE_ADDRESS}:{gone.port}: Connection refused." in (
        res.summary
    )


# --- whole diagnoses -----------------------------------------------------------------------------


async def test_diagnosis_of_healthy_origin_behind_failing_cloudfront(
    dns_world: DnsWorld, tls_server_context: ssl.SSLContext, ca_file: str
) -> None:
    # Given www.example.test (resolving to ORIGIN_ADDRESS) served over HTTP, and an edge 502
    async with (
        HttpServer(ORIGIN_ADDRESS) as origin,
        FakeEdge(tls_server_context, "cf-502") as edge,
    ):
        probe = edge_probe(dns_world, edge, origin.port, ca_file=ca_file)
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
    dns_world: DnsWorld, tls_server_context: ssl.SSLContext, ca_file: str
) -> None:
    # Given an origin that truncates its body
    async with (
        HttpServer(ORIGIN_ADDRESS) as origin,
        FakeEdge(tls_server_context, "cf-502") as edge,
    ):
        probe = edge_probe(dns_world, edge, origin.port, "/truncated", ca_file=ca_file)
        # When the whole diagnosis runs
        report = await diagnose(parse_target("www.example.test"), probe.origin, probe.engine)
    # Then the verdict names http.response, upstream of the edge comparison
    assert report.verdict.likely_cause == "http.response"
    assert "after 10 of 1000 body bytes" in report.verdict.summary
