"""dns.resolve and dns.authoritative against a real DNS server on loopback, plus their pure parts.

Every scenario runs through `cf502.engine.diagnose(..., only=[...])` against `DnsWorld`: a resolver
on 127.0.0.1 and ns1-ns3.example.test on 127.0.0.2-4, all on one port.
"""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rrset
import pytest

from cf502.checks.dns._lookup import Resolution, ZoneSurvey
from cf502.checks.dns._wire import (
    Reply,
    ServerAnswer,
    aws_endpoint,
    cname_chain,
    server_answer,
    zone_of_nodata,
)
from cf502.checks.dns.authoritative import Authoritative, judge_authoritative
from cf502.checks.dns.resolve import Resolve, judge_resolution
from cf502.engine import diagnose
from cf502.errors import TargetNotAllowed
from cf502.model import CheckResult, Report, Status
from cf502.settings import OriginSettings, ProtocolPolicy
from cf502.target import parse_target
from tests.servers.dns import (
    Behaviour,
    DnsWorld,
    dns_world_fixture,  # noqa: F401  (provides the `dns_world` fixture)
    example_zones,
)

SILENT_TIMEOUT = 0.5


async def run(
    world: DnsWorld,
    name: str,
    check_id: str,
    *,
    origin: OriginSettings | None = None,
    **engine: object,
) -> tuple[CheckResult, Report]:
    report = await diagnose(
        parse_target(name), origin or OriginSettings(), world.engine(**engine), only=[check_id]
    )
    res = report.check(check_id)
    assert res is not None
    return res, report


def evidence(res: CheckResult) -> dict[str, str]:
    return {e.label: e.value for e in res.evidence}


# ---------------------------------------------------------------------------------------------
# dns.resolve


async def test_resolve_passes_on_good_zone(dns_world: DnsWorld) -> None:
    # Given a zone where www.example.test has an A record
    # When resolving it through the test resolver
    res, report = await run(dns_world, "www.example.test", "dns.resolve")
    # Then it passes, names the resolver that answered, and vets that address for the others
    assert res.status is Status.PASS, res.summary
    assert res.summary == "www.example.test resolves to 127.0.0.10."
    assert evidence(res)["resolver"] == f"127.0.0.1:{dns_world.port}"
    assert report.addresses == ("127.0.0.10",)
    assert f"dig @127.0.0.1 -p {dns_world.port} +short www.example.test A" in res.commands
    assert dns_world.resolver.queries()[0].rd  # asked recursively, as a stub resolver does


async def test_resolve_returns_ipv4_then_ipv6(dns_world: DnsWorld) -> None:
    # Given an origin with both A and AAAA records
    dns_world.set_zones(example_zones(www6="::1"))
    # When resolving it
    res, report = await run(dns_world, "www.example.test", "dns.resolve")
    # Then both families are listed, IPv4 first
    assert res.status is Status.PASS
    assert report.addresses == ("127.0.0.10", "::1")
    assert evidence(res)["IPv6 addresses (AAAA)"] == "::1"


async def test_resolve_fails_on_nxdomain(dns_world: DnsWorld) -> None:
    # Given a name that does not exist in the zone
    # When resolving it
    res, report = await run(dns_world, "missing.example.test", "dns.resolve")
    # Then it fails with NXDOMAIN, predicts CloudFront's 502 OriginDnsError, and vets nothing
    assert res.status is Status.FAIL
    assert "missing.example.test does not exist (NXDOMAIN)" in res.summary
    assert f"127.0.0.1:{dns_world.port}" in res.summary
    assert (res.cloudfront_status, res.cloudfront_error) == (502, "OriginDnsError")
    assert report.verdict.likely_cause == "dns.resolve"
    assert report.addresses == ()


async def test_resolve_fails_on_nodata(dns_world: DnsWorld) -> None:
    # Given a name that exists but only has a TXT record
    # When resolving it
    res, _ = await run(dns_world, "nodata.example.test", "dns.resolve")
    # Then it fails with NODATA, a message distinct from NXDOMAIN
    assert res.status is Status.FAIL
    assert "exists but has no A or AAAA record (NODATA)" in res.summary
    assert res.cloudfront_error == "OriginDnsError"


async def test_resolve_fails_on_servfail(dns_world: DnsWorld) -> None:
    # Given a resolver that answers SERVFAIL
    dns_world.resolver.behaviour = Behaviour.SERVFAIL
    # When resolving the origin
    res, _ = await run(dns_world, "www.example.test", "dns.resolve")
    # Then it fails naming SERVFAIL and the resolver
    assert res.status is Status.FAIL
    assert f"the resolver 127.0.0.1:{dns_world.port} answered SERVFAIL" in res.summary
    assert res.cloudfront_status == 502


async def test_resolve_fails_on_timeout_within_the_dns_timeout(dns_world: DnsWorld) -> None:
    # Given a resolver that answers, but gets nothing in time for the origin's name
    dns_world.resolver.silent_for.add("www.example.test")
    # When resolving the origin with a short DNS timeout
    started = time.monotonic()
    res, report = await run(
        dns_world, "www.example.test", "dns.resolve", dns_timeout=SILENT_TIMEOUT
    )
    elapsed = time.monotonic() - started
    # Then it fails as the origin's DNS, after about the DNS timeout (the control query that
    # told the two apart ran alongside) and no longer
    assert res.status is Status.FAIL
    assert f"gave no answer within {SILENT_TIMEOUT:g} s" in res.summary
    assert res.cloudfront_error == "OriginDnsError"
    assert report.verdict.cloudfront_status == 502
    assert elapsed < 2 * SILENT_TIMEOUT
    # And the control query reached the resolver
    dns_world.resolver.wait_for(".")


async def test_silent_resolver_is_an_error_not_an_origin_failure(dns_world: DnsWorld) -> None:
    # Given a resolver that answers nothing at all
    dns_world.resolver.behaviour = Behaviour.SILENT
    # When resolving the origin with a short DNS timeout
    started = time.monotonic()
    res, report = await run(
        dns_world, "www.example.test", "dns.resolve", dns_timeout=SILENT_TIMEOUT
    )
    elapsed = time.monotonic() - started
    # Then the check could not run: our resolver is the problem, no 502 is predicted
    assert res.status is Status.ERROR
    assert res.summary == (
        f"Could not check: the resolver 127.0.0.1:{dns_world.port} did not answer (not even a "
        "query for the root zone); check --resolver or the network."
    )
    assert res.cloudfront_status is None and report.verdict.cloudfront_status is None
    assert (report.verdict.status, report.verdict.likely_cause) == (Status.ERROR, "dns.resolve")
    # And it cost one DNS timeout, not two
    assert elapsed < 2 * SILENT_TIMEOUT


async def test_resolver_socket_that_drops_queries_is_an_error(dns_world: DnsWorld) -> None:
    # Given a resolver address where a bound UDP socket takes queries and never answers
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as drop:
        drop.bind(("127.0.0.5", 0))
        port = drop.getsockname()[1]
        res, report = await run(
            dns_world,
            "www.example.test",
            "dns.resolve",
            resolver=f"127.0.0.5:{port}",
            dns_timeout=SILENT_TIMEOUT,
        )
    # Then it is an error about the resolver, and nothing downstream is judged
    assert res.status is Status.ERROR
    assert f"the resolver 127.0.0.5:{port} did not answer" in res.summary
    assert "--resolver" in res.summary
    assert report.verdict.status is Status.ERROR and report.verdict.cloudfront_status is None
    # While a resolver that answers NXDOMAIN for the origin is the origin's fault (502)
    nx, nx_report = await run(dns_world, "gone.example.test", "dns.resolve")
    assert nx.status is Status.FAIL and nx.cloudfront_status == 502
    assert nx_report.verdict.cloudfront_error == "OriginDnsError"


async def test_resolver_that_refuses_us_is_an_error_not_an_origin_failure(
    dns_world: DnsWorld,
) -> None:
    # Given a resolver that answers REFUSED (it does not recurse for this host)
    dns_world.resolver.behaviour = Behaviour.REFUSED
    # When resolving the origin
    res, _ = await run(dns_world, "www.example.test", "dns.resolve")
    # Then the check could not run: the problem is our resolver, not CloudFront's view
    assert res.status is Status.ERROR
    assert "refused to resolve www.example.test (REFUSED)" in res.summary
    assert res.cloudfront_status is None


async def test_resolve_follows_cname_chain(dns_world: DnsWorld) -> None:
    # Given alias2 -> alias -> www
    # When resolving alias2
    res, _ = await run(dns_world, "alias2.example.test", "dns.resolve")
    # Then the chain is shown in order with the final address
    assert res.status is Status.PASS
    assert evidence(res)["CNAME chain"] == (
        "alias2.example.test -> alias.example.test -> www.example.test"
    )
    assert "127.0.0.10 via alias.example.test -> www.example.test" in res.summary


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("lb.example.test", "an Elastic Load Balancing load balancer in us-east-1"),
        ("nlb.example.test", "an Elastic Load Balancing load balancer in eu-west-1"),
        ("api.example.test", "an Amazon API Gateway endpoint in eu-west-1"),
    ],
)
async def test_resolve_recognises_aws_endpoints(dns_world: DnsWorld, name: str, words: str) -> None:
    # Given an origin that is a CNAME to an AWS endpoint served by the test server
    # When resolving it
    res, _ = await run(dns_world, name, "dns.resolve")
    # Then the endpoint is named in the summary and the evidence
    assert res.status is Status.PASS, res.summary
    assert words in res.summary
    assert words in evidence(res)["AWS endpoint"]


async def test_s3_website_endpoint_under_https_policy_warns(dns_world: DnsWorld) -> None:
    # Given an origin CNAMEd to an S3 website endpoint and CloudFront set to https-only
    # When resolving it
    res, _ = await run(dns_world, "site.example.test", "dns.resolve")
    # Then it warns to use the http-only origin protocol policy
    assert res.status is Status.WARN
    assert "an Amazon S3 website endpoint in us-east-1" in res.summary
    assert "HTTP only (port 80)" in res.summary and "https-only" in res.summary
    assert "http-only origin protocol policy" in res.remediation


async def test_s3_website_endpoint_under_http_only_passes(dns_world: DnsWorld) -> None:
    # Given the dotted S3 website form and an http-only origin
    origin = OriginSettings(protocol_policy=ProtocolPolicy.HTTP_ONLY)
    # When resolving it
    res, _ = await run(dns_world, "site2.example.test", "dns.resolve", origin=origin)
    # Then it passes and still says what it is
    assert res.status is Status.PASS, res.summary
    assert "Amazon S3 website endpoint in eu-central-1" in res.summary


async def test_dangling_cname_to_deleted_load_balancer_fails(dns_world: DnsWorld) -> None:
    # Given a CNAME to a load balancer name that no longer exists
    # When resolving it
    res, _ = await run(dns_world, "dangling.example.test", "dns.resolve")
    # Then it fails naming the missing target and the likely reason
    assert res.status is Status.FAIL
    assert (
        "dangling.example.test is an alias (CNAME) of "
        "deleted-lb-42.us-east-1.elb.amazonaws.com, which does not exist (NXDOMAIN)"
    ) in res.summary
    assert "load balancer it points to was probably deleted" in res.summary
    assert "Point the CNAME record of dangling.example.test" in res.remediation


# ---------------------------------------------------------------------------------------------
# dns.authoritative


async def test_authoritative_passes_when_all_servers_agree(dns_world: DnsWorld) -> None:
    # Given three good authoritative servers
    # When surveying the origin's zone
    res, _ = await run(dns_world, "www.example.test", "dns.authoritative")
    # Then it passes, listing every server and the serial
    assert res.status is Status.PASS, res.summary
    assert "All 3 name servers of example.test answer authoritatively and agree" in res.summary
    assert "SOA serial 2024010101" in res.summary
    for ns, addr in (("ns1", "127.0.0.2"), ("ns2", "127.0.0.3"), ("ns3", "127.0.0.4")):
        assert f"{ns}.example.test ({addr})" in res.summary
        # each server was asked directly, without recursion, for the origin and the SOA
        seen = dns_world.ns[ns].queries()
        assert {(q.qname, q.rdtype) for q in seen} == {
            ("www.example.test", "A"),
            ("example.test", "SOA"),
        }
        assert not any(q.rd for q in seen)
    port = dns_world.port
    assert f"dig @127.0.0.1 -p {port} NS example.test +short" in res.commands
    assert f"dig @127.0.0.3 -p {port} www.example.test A +norec" in res.commands
    assert f"dig @127.0.0.1 -p {port} +short www.example.test" in res.commands


async def test_a_diagnosis_asks_the_resolver_each_question_once(dns_world: DnsWorld) -> None:
    # Given an IPv4-only origin: the resolver's NODATA answer to AAAA carries the zone's SOA
    # When both DNS checks run
    report = await diagnose(
        parse_target("www.example.test"),
        OriginSettings(),
        dns_world.engine(),
        only=["dns.resolve", "dns.authoritative"],
    )
    assert [c.status for c in report.checks] == [Status.PASS, Status.PASS], report.checks
    # Then the resolver is asked only what the checks need: the zone comes from that SOA (no
    # SOA walk), and the control query for the root zone is not sent when the lookups are answered
    asked = sorted((q.qname, q.rdtype) for q in dns_world.resolver.queries())
    origin = [("www.example.test", "A"), ("www.example.test", "AAAA"), ("example.test", "NS")]
    servers = [(f"ns{i}.example.test", t) for i in (1, 2, 3) for t in ("A", "AAAA")]
    assert asked == sorted([*origin, *servers])


async def test_authoritative_asks_aaaa_when_origin_has_ipv6(dns_world: DnsWorld) -> None:
    # Given an origin with an AAAA record
    dns_world.set_zones(example_zones(www6="::1"))
    # When surveying
    res, _ = await run(dns_world, "www.example.test", "dns.authoritative")
    # Then every server is also asked for AAAA and the answers are compared
    assert res.status is Status.PASS, res.summary
    assert "AAAA: ::1" in res.summary
    assert ("www.example.test", "AAAA") in {
        (q.qname, q.rdtype) for q in dns_world.ns["ns2"].queries()
    }


async def test_silent_name_server_is_intermittent_failure(dns_world: DnsWorld) -> None:
    # Given ns2 never answers
    dns_world.ns["ns2"].behaviour = Behaviour.SILENT
    # When surveying with a short DNS timeout
    started = time.monotonic()
    res, report = await run(
        dns_world, "www.example.test", "dns.authoritative", dns_timeout=SILENT_TIMEOUT
    )
    elapsed = time.monotonic() - started
    # Then it fails as intermittent, naming the silent server, within about one DNS timeout
    assert res.status is Status.FAIL
    assert res.summary.startswith("Intermittent: 1 of 3 name servers of example.test misbehave")
    assert f"ns2.example.test (127.0.0.3) did not answer within {SILENT_TIMEOUT:g} s" in (
        res.summary
    )
    assert "33%" in res.summary
    assert (res.cloudfront_status, res.cloudfront_error) == (502, "OriginDnsError")
    assert "port 53" in res.remediation
    assert report.verdict.likely_cause == "dns.authoritative"
    assert elapsed < 3 * SILENT_TIMEOUT  # servers are asked concurrently


@pytest.mark.parametrize(
    ("behaviour", "words"),
    [
        (Behaviour.REFUSED, "ns3.example.test (127.0.0.4) answers REFUSED"),
        (
            Behaviour.NOT_AUTHORITATIVE,
            "ns3.example.test (127.0.0.4) answers non-authoritatively (no AA flag)",
        ),
        (Behaviour.SERVFAIL, "ns3.example.test (127.0.0.4) answers SERVFAIL"),
    ],
)
async def test_lame_name_server_fails(
    dns_world: DnsWorld, behaviour: Behaviour, words: str
) -> None:
    # Given ns3 is lame in one way
    dns_world.ns["ns3"].behaviour = behaviour
    # When surveying
    res, _ = await run(dns_world, "www.example.test", "dns.authoritative")
    # Then the check fails as intermittent, naming ns3 and how it is lame
    assert res.status is Status.FAIL
    assert "Intermittent: 1 of 3" in res.summary
    assert words in res.summary
    assert "ns1.example.test" not in res.summary
    assert "serve the zone authoritatively" in res.remediation


async def test_all_servers_lame_is_total_failure(dns_world: DnsWorld) -> None:
    # Given every name server refuses
    for server in dns_world.ns.values():
        server.behaviour = Behaviour.REFUSED
    # When surveying
    res, _ = await run(dns_world, "www.example.test", "dns.authoritative")
    # Then it fails, and not as "intermittent"
    assert res.status is Status.FAIL
    assert res.summary.startswith("None of the 3 name servers of example.test answers properly")


async def test_server_with_different_address_disagrees(dns_world: DnsWorld) -> None:
    # Given ns3 serves a stale copy where www has another address
    dns_world.ns["ns3"].zones = example_zones(www="127.0.0.99")
    # When surveying
    res, _ = await run(dns_world, "www.example.test", "dns.authoritative")
    # Then it fails naming ns3, its answer and the majority's answer
    assert res.status is Status.FAIL
    assert (
        "ns3.example.test (127.0.0.4) answers A: 127.0.0.99 where the others answer A: 127.0.0.10"
    ) in res.summary
    assert res.summary.startswith("Intermittent: 1 of 3")
    assert "in sync" in res.remediation


async def test_server_with_different_serial_warns(dns_world: DnsWorld) -> None:
    # Given ns2 has the same records but an older SOA serial
    dns_world.ns["ns2"].zones = example_zones(serial=2023120100)
    # When surveying
    res, _ = await run(dns_world, "www.example.test", "dns.authoritative")
    # Then it does not pass: the serials differ, naming ns2's serial and the others'
    assert res.status is Status.WARN
    assert (
        "ns2.example.test (127.0.0.3) has 2023120100 where the others have 2024010101"
    ) in res.summary
    assert f"dig @127.0.0.3 -p {dns_world.port} example.test SOA +norec +short" in res.commands


async def test_truncated_udp_answer_falls_back_to_tcp(dns_world: DnsWorld) -> None:
    # Given ns1 truncates every UDP answer
    dns_world.ns["ns1"].behaviour = Behaviour.TRUNCATE
    # When surveying
    res, _ = await run(dns_world, "www.example.test", "dns.authoritative")
    # Then ns1 was asked again over TCP and the check passes
    assert res.status is Status.PASS, res.summary
    assert {q.transport for q in dns_world.ns["ns1"].queries()} == {"udp", "tcp"}
    assert "TCP after a truncated UDP answer" in evidence(res)["ns1.example.test (127.0.0.2)"]


async def test_name_server_without_address_fails(dns_world: DnsWorld) -> None:
    # Given the zone lists ns4.example.test, which has no address record
    dns_world.set_zones(example_zones(extra="@ NS ns4"))
    # When surveying
    res, _ = await run(dns_world, "www.example.test", "dns.authoritative")
    # Then it fails naming the unresolvable NS
    assert res.status is Status.FAIL
    assert "ns4.example.test has no address (NXDOMAIN)" in res.summary
    assert "Intermittent: 1 of 4" in res.summary


async def test_name_server_with_nothing_listening_fails(dns_world: DnsWorld) -> None:
    # Given ns3 points at 127.0.0.5, where no DNS server listens
    ns = {"ns1": "127.0.0.2", "ns2": "127.0.0.3", "ns3": "127.0.0.5"}
    dns_world.set_zones(example_zones(ns=ns))
    # When surveying
    res, _ = await run(dns_world, "www.example.test", "dns.authoritative", dns_timeout=1.0)
    # Then ns3 is reported as refusing the port (the kernel's ICMP port unreachable)
    assert res.status is Status.FAIL
    assert (
        f"ns3.example.test (127.0.0.5) refuses connections on port {dns_world.port}"
    ) in res.summary


async def test_zone_not_found_is_an_error(dns_world: DnsWorld) -> None:
    # Given a resolver that answers SERVFAIL to everything
    dns_world.resolver.behaviour = Behaviour.SERVFAIL
    # When surveying
    res, _ = await run(dns_world, "www.example.test", "dns.authoritative")
    # Then the check could not run, and says why
    assert res.status is Status.ERROR
    assert "Could not find the name servers of www.example.test's zone" in res.summary
    assert "the resolver answered SERVFAIL" in res.summary


async def test_cname_origin_is_checked_in_its_own_zone(dns_world: DnsWorld) -> None:
    # Given an origin that is a CNAME into another zone
    # When surveying
    res, _ = await run(dns_world, "lb.example.test", "dns.authoritative")
    # Then the CNAME's own zone is surveyed
    assert res.status is Status.PASS, res.summary
    assert evidence(res)["zone"] == "example.test"
    assert "CNAME my-lb-1234567890.us-east-1.elb.amazonaws.com" in res.summary


async def test_name_server_count_is_capped(dns_world: DnsWorld) -> None:
    # Given a zone with 20 more NS names, all on ns1's address
    extra = "\n".join(f"@ NS n{i:02d}\nn{i:02d} A 127.0.0.2" for i in range(20))
    dns_world.set_zones(example_zones(extra=extra))
    # When surveying
    res, _ = await run(dns_world, "www.example.test", "dns.authoritative")
    # Then at most 13 servers were asked and the rest is reported as left out
    asked = [e for e in res.evidence if e.label.endswith("(127.0.0.2)")]
    assert len(asked) == 13
    assert evidence(res)["not queried"] == "10 more NS names/addresses over the cap"
    assert res.status is Status.PASS, res.summary


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
async def test_ipv6_name_server_is_queried_over_ipv6() -> None:
    # Given a fourth name server, ns6.example.test, reachable only at ::1
    with DnsWorld(extra_ns={"ns6": "::1"}) as world:
        world.set_zones(example_zones(extra="@ NS ns6\nns6 AAAA ::1"))
        # When surveying
        res, _ = await run(world, "www.example.test", "dns.authoritative")
        # Then it was asked over IPv6 and counted with the others
        assert res.status is Status.PASS, res.summary
        assert "All 4 name servers" in res.summary and "ns6.example.test (::1)" in res.summary
        assert world.ns["ns6"].queries()
        assert f"dig @::1 -p {world.port} www.example.test A +norec" in res.commands


@contextmanager
def sentinel_checked(world: DnsWorld) -> Iterator[None]:
    """After the block, prove no name server saw a query: send a sentinel query to each and wait
    for it, so any earlier query would already be logged (one socket, FIFO)."""
    yield
    for server in world.ns.values():
        query = dns.message.make_query("sentinel.example.test", "A")
        dns.query.udp(query, server.address, timeout=2, port=world.port)
        server.wait_for("sentinel.example.test")


async def test_blocked_name_server_addresses_are_never_queried(dns_world: DnsWorld) -> None:
    # Given a public origin whose name servers sit at loopback, private and metadata addresses
    ns = {"ns1": "127.0.0.2", "ns2": "10.0.0.53", "ns3": "169.254.169.254"}
    # (93.184.215.14 is never connected to: only DNS checks run, against loopback servers)
    dns_world.set_zones(example_zones(www="93.184.215.14", ns=ns))
    # When surveying without allow_private
    with sentinel_checked(dns_world):
        res, _ = await run(dns_world, "www.example.test", "dns.authoritative", allow_private=False)
    # Then each blocked address is reported, none was queried, and the check could not run
    assert res.status is Status.ERROR
    assert "ns1.example.test (127.0.0.2) is a loopback address" in res.summary
    assert "ns2.example.test (10.0.0.53) is a private address" in res.summary
    assert "ns3.example.test (169.254.169.254) is a cloud metadata address" in res.summary
    for server in dns_world.ns.values():
        assert [q.qname for q in server.queries()] == ["sentinel.example.test"]
    assert not any("@10.0.0.53" in c or "@169.254" in c for c in res.commands)


# ---------------------------------------------------------------------------------------------
# The engine's safety gate: refuse before connecting


@contextmanager
def origin_listener(address: str) -> Iterator[tuple[socket.socket, int]]:
    """A plain listening socket standing in for the origin's HTTPS port."""
    with socket.socket() as sock:
        sock.bind((address, 0))
        sock.listen(8)
        sock.setblocking(False)
        yield sock, sock.getsockname()[1]


def accepted(sock: socket.socket) -> bool:
    """Whether a connection is waiting (the kernel completes handshakes before accept)."""
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


_RECORDS = """
private10 A 10.0.0.1
metadata A 169.254.169.254
mapped AAAA ::ffff:10.0.0.1
mixed A 93.184.215.14
mixed AAAA ::ffff:10.0.0.1
"""


@pytest.mark.parametrize(
    ("name", "address", "reason"),
    [
        ("www.example.test", "127.0.0.10", "a loopback address"),
        ("private10.example.test", "10.0.0.1", "a private address"),
        ("metadata.example.test", "169.254.169.254", "a cloud metadata address"),
        ("mapped.example.test", "::ffff:a00:1", "a private address (IPv4 10.0.0.1 inside IPv6)"),
        ("mixed.example.test", "::ffff:a00:1", "a private address (IPv4 10.0.0.1 inside IPv6)"),
    ],
)
async def test_engine_refuses_blocked_targets_before_connecting(
    dns_world: DnsWorld, name: str, address: str, reason: str
) -> None:
    # Given names resolving to loopback, private, metadata and IPv4-mapped private addresses,
    # and an origin listener on 127.0.0.10
    dns_world.set_zones(example_zones(extra=_RECORDS))
    with origin_listener("127.0.0.10") as (sock, port):
        # When diagnosing with every check and without allow_private
        with pytest.raises(TargetNotAllowed) as refused:
            await diagnose(
                parse_target(name),
                OriginSettings(https_port=port, http_port=port, connect_timeout=1),
                dns_world.engine(allow_private=False),
            )
        # Then the target is refused, naming the address and why, and nothing connected
        assert f"resolves to {address}, {reason}" in str(refused.value)
        assert not accepted(sock)


async def test_engine_connects_to_private_target_only_when_allowed(dns_world: DnsWorld) -> None:
    # Given the same loopback origin listener
    with origin_listener("127.0.0.10") as (sock, port):
        # When diagnosing tcp.https with allow_private
        report = await diagnose(
            parse_target("www.example.test"),
            OriginSettings(https_port=port, connect_timeout=1),
            dns_world.engine(allow_private=True),
            only=["tcp.https"],
        )
        # Then the connection reached it: the safety gate is what stopped it above
        tcp = report.check("tcp.https")
        assert tcp is not None and tcp.status is Status.PASS, tcp
        assert accepted(sock)


# ---------------------------------------------------------------------------------------------
# Pure parts


@pytest.mark.parametrize(
    ("name", "kind", "region"),
    [
        ("my-lb-1.us-east-1.elb.amazonaws.com", "elb", "us-east-1"),
        ("dualstack.my-lb-1.ap-southeast-2.elb.amazonaws.com.", "elb", "ap-southeast-2"),
        ("my-nlb-0a1b.elb.us-gov-west-1.amazonaws.com", "elb", "us-gov-west-1"),
        ("b.s3-website-us-east-1.amazonaws.com", "s3-website", "us-east-1"),
        ("b.s3-website.eu-central-1.amazonaws.com", "s3-website", "eu-central-1"),
        ("a1b2.execute-api.cn-north-1.amazonaws.com.cn", "api-gateway", "cn-north-1"),
    ],
)
def test_aws_endpoint_patterns(name: str, kind: str, region: str) -> None:
    # Given an AWS endpoint name, When recognising it, Then kind and region are found
    endpoint = aws_endpoint(["origin.example.com", name])
    assert endpoint is not None
    assert (endpoint.kind, endpoint.region) == (kind, region)


@pytest.mark.parametrize(
    "name", ["www.example.com", "elb.amazonaws.com.example.com", "s3.amazonaws.com"]
)
def test_non_aws_names_are_not_endpoints(name: str) -> None:
    # Given ordinary names, When recognising, Then nothing is claimed
    assert aws_endpoint([name]) is None


def test_cname_chain_stops_on_a_loop() -> None:
    # Given a response whose CNAMEs loop a -> b -> a
    response = dns.message.make_response(dns.message.make_query("a.example.", "A"))
    response.answer.append(dns.rrset.from_text("a.example.", 60, "IN", "CNAME", "b.example."))
    response.answer.append(dns.rrset.from_text("b.example.", 60, "IN", "CNAME", "a.example."))
    # When following the chain, Then it stops after a bounded number of steps
    chain = cname_chain(response, "a.example")
    assert chain[:2] == ("b.example", "a.example") and len(chain) == 16


def _reply(
    qname: str, rdtype: str, *, aa: bool = True, rcode: int = 0, rr: str = ""
) -> tuple[dns.message.Message, bool]:
    response = dns.message.make_response(dns.message.make_query(qname, rdtype))
    response.set_rcode(dns.rcode.Rcode(rcode))
    if aa:
        response.flags |= dns.flags.AA
    if rr:
        response.answer.append(dns.rrset.from_text(qname, 60, "IN", rdtype, rr))
    return (response, False)


SOA_RR = "ns1.example.test. hostmaster.example.test. 7 3600 600 86400 300"


def test_server_answer_ok_and_nxdomain_are_authoritative_answers() -> None:
    # Given an AA NXDOMAIN for the origin and an AA SOA
    replies: list[Reply] = [
        _reply("x.example.test.", "A", rcode=dns.rcode.NXDOMAIN),
        _reply("example.test.", "SOA", rr=SOA_RR),
    ]
    # When judging the server, Then it is fine, answering NXDOMAIN with serial 7
    s = server_answer("ns1", "192.0.2.1", replies, types=["A"], zone="example.test", timeout=1)
    assert (s.status, s.answers, s.serial) == ("ok", ("A: NXDOMAIN",), 7)


def test_server_answer_classifies_failures() -> None:
    # Given the ways a server fails, When judging, Then each gets its own status
    def judge(*replies: Reply) -> str:
        return server_answer(
            "ns",
            "192.0.2.1",
            replies,
            types=["A"],
            zone="example.test",
            timeout=1,
        ).status

    soa = _reply("example.test.", "SOA", rr=SOA_RR)
    assert judge(_reply("w.example.test.", "A", rcode=dns.rcode.REFUSED), soa) == "refused"
    assert judge(_reply("w.example.test.", "A", rr="192.0.2.9", aa=False), soa) == (
        "not-authoritative"
    )
    assert judge(_reply("w.example.test.", "A", rcode=dns.rcode.NOTIMP), soa) == "rcode"
    assert judge(
        _reply("w.example.test.", "A", rr="192.0.2.9"), _reply("example.test.", "SOA")
    ) == ("no-soa")
    assert judge(TimeoutError(), soa) == "silent"
    assert judge(ConnectionRefusedError(errno.ECONNREFUSED, "refused"), soa) == "closed"
    assert judge(OSError(errno.ENETUNREACH, "Network is unreachable"), soa) == "unreachable"


def _ok(ns: str, address: str, answer: str = "A: 192.0.2.10", serial: int = 7) -> ServerAnswer:
    return ServerAnswer(ns, address, "ok", answers=(answer,), serial=serial)


def _survey(*servers: ServerAnswer, **kw: object) -> ZoneSurvey:
    return ZoneSurvey(
        "www.example.com",
        kw.pop("zone", "example.com"),  # type: ignore[arg-type]
        ns_names=tuple(dict.fromkeys(s.ns for s in servers)),
        servers=servers,
        resolver="192.0.2.53",
        timeout=2,
        **kw,  # type: ignore[arg-type]
    )


def test_judge_tie_names_the_later_server_as_disagreeing() -> None:
    # Given two servers with different answers (no majority)
    survey = _survey(_ok("a.ns", "192.0.2.1"), _ok("b.ns", "192.0.2.2", "A: 192.0.2.99"))
    # When judging, Then the first listed server's answer is taken as the reference
    res = judge_authoritative(Authoritative(), survey)
    assert res.status is Status.FAIL
    assert "b.ns (192.0.2.2) answers A: 192.0.2.99 where the others answer A: 192.0.2.10" in (
        res.summary
    )


def test_judge_unreachable_ipv6_server_is_a_warning_not_a_failure() -> None:
    # Given one server reachable and one IPv6 address with no route from here
    survey = _survey(
        _ok("a.ns", "192.0.2.1"),
        ServerAnswer("a.ns", "2001:db8::1", "unreachable", "Network is unreachable"),
    )
    # When judging, Then it warns that the address was not checked
    res = judge_authoritative(Authoritative(), survey)
    assert res.status is Status.WARN
    assert "a.ns (2001:db8::1) is unreachable from here" in res.summary
    assert "CloudFront's resolvers cannot use" not in res.summary


def test_judge_survey_error_and_empty_survey() -> None:
    # Given a survey that could not find the zone, When judging, Then ERROR naming the reason
    res = judge_authoritative(Authoritative(), _survey(zone=None, error="SERVFAIL"))
    assert res.status is Status.ERROR and "SERVFAIL" in res.summary
    # Given a zone whose NS set is empty, Then ERROR too (nothing could be asked)
    res = judge_authoritative(Authoritative(), _survey())
    assert res.status is Status.ERROR and "no name server listed" in res.summary


@pytest.mark.parametrize(
    ("error", "words"),
    [
        ("nxdomain", "www.example.com does not exist (NXDOMAIN) according to 192.0.2.53"),
        ("nodata", "has no A or AAAA record (NODATA)"),
        ("servfail", "answered SERVFAIL"),
        ("timeout", "gave no answer within 2 s"),
    ],
)
def test_judge_resolution_failure_messages_are_distinct(error: str, words: str) -> None:
    # Given a failed resolution, When judging, Then the summary names the failure precisely
    res = judge_resolution(
        Resolve(),
        Resolution("www.example.com", (), error=error, resolver="192.0.2.53"),
        server="192.0.2.53",
        timeout=2,
    )
    assert res.status is Status.FAIL
    assert words in res.summary
    assert res.commands[0] == "dig @192.0.2.53 +short www.example.com A"


def test_judge_resolution_internal_load_balancer_warns() -> None:
    # Given an origin CNAMEd to an internal load balancer
    res = judge_resolution(
        Resolve(),
        Resolution(
            "www.example.com",
            ("10.1.2.3",),
            ("internal-app-1.us-east-1.elb.amazonaws.com",),
        ),
        server=None,
    )
    # When judging, Then it warns that CloudFront cannot reach it
    assert res.status is Status.WARN
    assert "internal load balancer" in res.summary and "VPC origin" in res.remediation
    assert res.commands[0] == "dig +short www.example.com A"


def test_judge_resolution_api_gateway_with_forwarded_host_warns() -> None:
    # Given an API Gateway origin and a forwarded Host header that is not its name
    api = "a1b2.execute-api.eu-west-1.amazonaws.com"
    res = judge_resolution(
        Resolve(),
        Resolution(api, ("192.0.2.7",)),
        server=None,
        host_header="www.example.com",
    )
    # When judging, Then it warns about the Host header
    assert res.status is Status.WARN
    assert "Host header www.example.com is forwarded" in res.summary


def _nodata(qname: str, cname: str | None, soa_owner: str) -> dns.message.Message:
    """A resolver's answer to AAAA: no AAAA record (after `cname`, if any), the SOA of `soa_owner`."""
    response = dns.message.make_response(dns.message.make_query(qname, "AAAA"))
    if cname is not None:
        response.answer.append(dns.rrset.from_text(qname + ".", 60, "IN", "CNAME", cname))
    soa = "ns1.example.test. admin.example.test. 1 3600 600 86400 60"
    response.authority.append(dns.rrset.from_text(soa_owner, 60, "IN", "SOA", soa))
    return response


@pytest.mark.parametrize(
    ("qname", "cname", "soa_owner", "zone"),
    [
        ("www.example.test", None, "example.test.", "example.test"),  # NODATA below the apex
        ("example.test", None, "example.test.", "example.test"),  # at the apex itself
        ("www.example.test", "lb.example.net.", "example.net.", None),  # the target's zone
        ("www.example.test", None, "other.test.", None),  # not an ancestor: ignored
        ("www.example.test", None, ".", None),  # the root: left to the walk
    ],
)
def test_zone_of_nodata_takes_only_the_names_own_zone(
    qname: str, cname: str | None, soa_owner: str, zone: str | None
) -> None:
    # Given a resolver's NODATA answer; then the zone is taken only when it is the name's own
    assert zone_of_nodata(_nodata(qname, cname, soa_owner), qname) == zone
