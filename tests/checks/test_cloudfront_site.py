"""TARGET served by CloudFront: recognised (by its CNAME chain, its headers, its error page), its
answer requested like a viewer's and decoded, and the origin never judged on the edge's answer;
with `--origin NAME` the real origin is diagnosed and compared.

A fake CloudFront edge (TLS, loopback; `tests/servers/cloudfront.py`) answers like CloudFront in one
situation per test, found through a real DNS server on loopback where `www.example.test` is a
CNAME to `d111abc.cloudfront.net`."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from cf502.cli import build_parser
from cf502.engine import diagnose
from cf502.model import CloudFrontSite, Report, Status
from cf502.options import UsageError, diagnosis_of
from cf502.settings import EngineSettings, OriginSettings
from cf502.target import Target, parse_target
from tests.servers.cloudfront import CF_DOMAIN, POP, edge_handler, site_zones
from tests.servers.dns import ORIGIN_ADDRESS, DnsWorld, dns_world_fixture, example_zones
from tests.servers.http import HttpServer, tls_ca

__all__ = ["dns_world_fixture", "tls_ca"]  # fixtures used by name

SITE = "www.example.test"
EDGE = "127.0.0.1"
ORIGIN_CHECKS = (
    "dns.authoritative", "tcp.https", "tcp.http", "tls.handshake", "tls.cert.expiry",
    "tls.cert.hostname", "tls.cert.trust", "tls.cert.chain", "http.response", "http.headers",
    "http.latency", "http.redirect",
)  # fmt: skip


@pytest.fixture(scope="module")
def ca_file(tls_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("site-ca") / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="module")
def server_context(tls_ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls_ca.issue_cert(SITE, "plain.example.test", "origin.example.test").configure_cert(ctx)
    return ctx


def edge(context: ssl.SSLContext, kind: str, host: str = EDGE) -> HttpServer:
    return HttpServer(host, tls=context, routes={}, default=edge_handler(kind))


def engine(world: DnsWorld, ca_file: str, **more: object) -> EngineSettings:
    return world.engine(ca_file=ca_file, **more)


async def check_site(
    world: DnsWorld, ca_file: str, server: HttpServer, host: str = SITE, **origin: object
) -> Report:
    """`cf502 check HOST:PORT` (the port typed is where the fake edge listens)."""
    world.set_zones(site_zones(EDGE))
    target = parse_target(f"{host}:{server.port}")
    settings = OriginSettings.for_target(target, connect_timeout=1, read_timeout=2, **origin)
    return await diagnose(target, settings, engine(world, ca_file))


def text_of(report: Report) -> str:
    return json.dumps(report.to_dict())


def assert_origin_not_judged(report: Report) -> None:
    for cid in ORIGIN_CHECKS:
        res = report.check(cid)
        assert res is not None and res.status is Status.SKIP, res
        assert "the origin is not known: give it with `--origin NAME`" in res.summary
        assert "is CloudFront's edge, not the origin" in res.summary
    assert "the origin itself" not in text_of(report)


@pytest.fixture
async def cf_502(server_context: ssl.SSLContext) -> AsyncIterator[HttpServer]:
    async with edge(server_context, "connect-502") as server:
        yield server


async def test_a_site_cnamed_to_cloudfront_is_recognised_and_its_502_decoded(
    dns_world: DnsWorld, ca_file: str, cf_502: HttpServer
) -> None:
    # Given www.example.test, a CNAME to d111abc.cloudfront.net, whose edge answers its own 502
    # When it is checked as if it were an origin
    report = await check_site(dns_world, ca_file, cf_502)
    # Then it is recognised by its CNAME chain, with the POP and request id of the edge's answer
    cf = report.cloudfront
    assert (cf.detected, cf.via, cf.domain, cf.pop) == (True, "cname", CF_DOMAIN, POP)
    assert cf.request_id and len(cf.request_id) == 56
    # And the edge's answer is decoded: 502, OriginConnectError, what to look at next
    edge_res = report.check("cloudfront.edge")
    assert edge_res is not None and edge_res.status is Status.FAIL, edge_res
    assert edge_res.cloudfront_status == 502
    assert edge_res.cloudfront_error == "OriginConnectError"
    assert "CloudFront answers 502 (Error from cloudfront, POP FRA56-P4)" in edge_res.summary
    assert "CloudFront wasn't able to connect to the origin." in edge_res.summary
    assert f"cf502 check {SITE} --origin ORIGIN" in edge_res.remediation
    evidence = {e.label: e.value for e in edge_res.evidence}
    assert evidence["x-edge-detailed-result-type"] == "OriginConnectError"
    assert "tcp.https" in evidence["checks that confirm it"]
    assert evidence["CloudFront"] == f"{SITE} is served by CloudFront ({CF_DOMAIN})"
    # And the origin is never judged on the edge's answer
    assert_origin_not_judged(report)
    assert report.verdict.likely_cause == "cloudfront.edge"
    assert report.verdict.cloudfront_error == "OriginConnectError"
    # And the edge got one request only, a viewer's, with a cache-busting query
    (seen,) = cf_502.seen
    assert seen.header("Host") == SITE and len(seen.query("cf502")) == 8


async def test_a_site_without_cname_is_recognised_by_its_headers(
    dns_world: DnsWorld, ca_file: str, cf_502: HttpServer
) -> None:
    # Given plain.example.test resolving straight to the edge (as a Route 53 alias does)
    report = await check_site(dns_world, ca_file, cf_502, "plain.example.test")
    # Then CloudFront's response headers give it away
    assert report.cloudfront.detected and report.cloudfront.via == "headers"
    assert report.cloudfront.domain is None and report.cloudfront.pop == POP
    assert_origin_not_judged(report)
    edge_res = report.check("cloudfront.edge")
    assert edge_res is not None and edge_res.cloudfront_error == "OriginConnectError"
    # And the edge got the origin-style request the http.* checks make anyway, then the viewer's
    assert [s.query("cf502") != "" for s in cf_502.seen] == [False, True]


async def test_a_site_is_recognised_by_cloudfronts_error_page_alone(
    dns_world: DnsWorld, ca_file: str, server_context: ssl.SSLContext
) -> None:
    # Given an edge whose headers a proxy stripped, leaving CloudFront's error page
    async with edge(server_context, "bare-page-502") as server:
        report = await check_site(dns_world, ca_file, server, "plain.example.test")
    assert report.cloudfront.via == "error-page"
    assert_origin_not_judged(report)
    assert report.verdict.likely_cause == "cloudfront.edge"


@pytest.mark.parametrize(
    ("kind", "status", "result_type", "cloudfront_status"),
    [
        ("timeout-504", Status.FAIL, "OriginCommError", 504),
        ("lambda-validation-502", Status.FAIL, "LambdaValidationError", 502),
        ("lambda-execution-503", Status.FAIL, "LambdaExecutionError", 503),
        ("waf-403", Status.WARN, "InvalidRequestBlocked", None),
        ("geo-403", Status.WARN, "ClientGeoBlocked", None),
    ],
)
async def test_each_edge_error_is_decoded(
    dns_world: DnsWorld,
    ca_file: str,
    server_context: ssl.SSLContext,
    kind: str,
    status: Status,
    result_type: str,
    cloudfront_status: int | None,
) -> None:
    async with edge(server_context, kind) as server:
        report = await check_site(dns_world, ca_file, server)
    res = report.check("cloudfront.edge")
    assert res is not None
    assert (res.status, res.cloudfront_error, res.cloudfront_status) == (
        status,
        result_type,
        cloudfront_status,
    ), res.summary
    assert_origin_not_judged(report)
    # Edge functions, WAF and geo restriction are CloudFront's own: no origin diagnosis to run
    origin_side = result_type == "OriginCommError"
    assert (f"cf502 check {SITE} --origin ORIGIN" in res.remediation) is origin_side


async def test_an_error_from_behind_cloudfront_is_not_taken_for_cloudfronts_own(
    dns_world: DnsWorld, ca_file: str, server_context: ssl.SSLContext
) -> None:
    async with edge(server_context, "relayed-502") as server:
        report = await check_site(dns_world, ca_file, server)
    res = report.check("cloudfront.edge")
    assert res is not None and res.status is Status.FAIL
    assert "not CloudFront's own error page" in res.summary
    assert_origin_not_judged(report)


async def test_a_healthy_site_passes_without_claiming_the_origin_is_fine(
    dns_world: DnsWorld, ca_file: str, server_context: ssl.SSLContext
) -> None:
    async with edge(server_context, "hit-200") as server:
        report = await check_site(dns_world, ca_file, server)
    res = report.check("cloudfront.edge")
    assert res is not None and res.status is Status.PASS
    assert "CloudFront answers 200 (Hit from cloudfront, POP FRA56-P4)" in res.summary
    assert report.cloudfront.detected
    assert "CloudFront should be able to use this origin" not in report.verdict.summary


async def test_a_plain_origin_is_not_taken_for_cloudfront_and_costs_no_extra_request(
    dns_world: DnsWorld, ca_file: str
) -> None:
    # Given an ordinary HTTP origin
    dns_world.set_zones(example_zones())
    async with HttpServer(ORIGIN_ADDRESS) as origin:
        target = parse_target(f"http://{SITE}/")
        settings = OriginSettings.for_target(target, http_port=origin.port, read_timeout=2)
        report = await diagnose(target, settings, engine(dns_world, ca_file))
    # Then it is judged as an origin, the report says it is not CloudFront's
    assert report.cloudfront == CloudFrontSite()
    assert report.to_dict()["cloudfront"] == {
        "detected": False, "via": None, "domain": None, "pop": None, "request_id": None,
    }  # fmt: skip
    edge_res = report.check("cloudfront.edge")
    assert edge_res is not None and edge_res.status is Status.SKIP
    assert "does not look like CloudFront" in edge_res.summary
    assert report.check("http.response").status is Status.PASS  # type: ignore[union-attr]
    # And finding that out cost no request: the origin got only the http.* checks' one
    assert len(origin.seen) == 1


# --- --origin NAME -------------------------------------------------------------------------------


def args_of(*argv: str) -> tuple[Target, OriginSettings]:
    args = build_parser().parse_args(["check", *argv])
    return diagnosis_of(args.target, args)


def test_origin_option_diagnoses_the_origin_and_names_the_site() -> None:
    target, origin = args_of("https://www.example.com/health", "--origin", "o.example.com:8443")
    assert target.host == "o.example.com"
    assert origin.cloudfront_domain == "www.example.com"
    assert origin.https_port == 8443 and origin.path == "/health"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["www.example.com", "--origin", "o.example.com", "--cloudfront-domain", "x.test"],
            "Give the CloudFront site once",
        ),
        (["www.example.com", "--origin", "www.example.com"], "is the site itself"),
        (["www.example.com", "--origin", "bad host"], "--origin: 'bad host' contains spaces"),
    ],
)
def test_origin_option_refuses_what_cannot_be_meant(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as err:
        args_of(*argv)
    assert message in str(err.value) and "\n" not in str(err.value)


async def test_with_origin_the_real_origin_is_diagnosed_and_compared(
    dns_world: DnsWorld, ca_file: str, server_context: ssl.SSLContext, tmp_path: Path
) -> None:
    # Given the site www.example.test (CloudFront, answering 502) and its healthy HTTPS origin
    dns_world.set_zones(site_zones(EDGE))
    async with (
        edge(server_context, "connect-502") as cf,
        HttpServer(ORIGIN_ADDRESS, tls=server_context) as origin_server,
    ):
        args = build_parser().parse_args(
            ["check", SITE, "--origin", "origin.example.test", "--https-port",
             str(origin_server.port), "--connect-timeout", "1", "--read-timeout", "2"]
        )  # fmt: skip
        target, settings = diagnosis_of(args.target, args)
        report = await diagnose(target, settings, engine(dns_world, ca_file, edge_port=cf.port))
    # Then the origin checks run on the origin, and pass
    by_id = {c.id: c for c in report.checks}
    for cid in ("tcp.https", "tls.handshake", "tls.cert.hostname", "http.response"):
        assert by_id[cid].status is Status.PASS, by_id[cid]
    # And the viewer request went to the site, and the two are compared
    edge_res = by_id["cloudfront.edge"]
    assert edge_res.status is Status.FAIL
    assert "the cause is between CloudFront and the origin" in edge_res.summary
    assert edge_res.cloudfront_error == "OriginConnectError"
    assert cf.seen[0].header("Host") == SITE
    assert origin_server.seen[0].header("Host") == "origin.example.test"
    # And the report says which site is CloudFront's, and which origin was diagnosed
    assert report.cloudfront.detected and report.cloudfront.domain == CF_DOMAIN
    assert report.target["host"] == "origin.example.test"
    assert report.settings["cloudfront_domain"] == SITE
