"""The verdict rules on whole diagnoses: the real engine against loopback DNS and TLS origins.

A name with several addresses (some refusing, some serving an expired certificate), a lame name
server beside a wrong-name certificate, `--only` runs and a name with more addresses than are
tested.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from cf502.engine import MAX_ADDRESSES, diagnose
from cf502.model import Affects, Report, Scope, Status
from cf502.settings import OriginSettings
from cf502.target import parse_target
from tests.certs import issue_leaf, pki, write_pem
from tests.servers.dns import (
    ORIGIN_ADDRESS,
    Behaviour,
    DnsWorld,
    dns_world_fixture,  # noqa: F401  (provides the `dns_world` fixture)
    example_zones,
)
from tests.servers.tcp import closed_port
from tests.servers.tls import TlsServer

NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)
MULTI = "multi.example.test"
SERVING = ("127.0.0.21", "127.0.0.22")  # serve TLS
REFUSING = "127.0.0.23"  # nothing listens


@pytest.fixture(name="ca_file")
def ca_file_fixture(tmp_path: Path) -> str:
    return str(write_pem(tmp_path / "root.pem", pki().root.cert))


def expired(name: str) -> list[x509.Certificate]:
    leaf = issue_leaf(
        [name], pki().intermediate, not_before=NOW - 90 * DAY, not_after=NOW - 2 * DAY
    )
    return [leaf, pki().intermediate.cert]


@contextlib.contextmanager
def servers_on_one_port(
    chain: list[x509.Certificate], hosts: tuple[str, ...], avoid: int
) -> Iterator[int]:
    """TLS servers serving `chain` on `hosts`, all on one port (not `avoid`, the DNS port)."""
    for _ in range(20):
        with contextlib.ExitStack() as stack:
            try:
                first = stack.enter_context(TlsServer(chain, pki().leaf_key, host=hosts[0]))
                if first.port == avoid:
                    continue
                for host in hosts[1:]:
                    stack.enter_context(
                        TlsServer(chain, pki().leaf_key, host=host, port=first.port)
                    )
            except OSError:  # the port is taken on another address: try another
                continue
            yield first.port
            return
    raise RuntimeError("no port free on every address")


async def run(
    world: DnsWorld, name: str, ca_file: str, only: list[str] | None = None, **origin: object
) -> Report:
    target = parse_target(name)
    settings = OriginSettings.for_target(target, connect_timeout=1, read_timeout=2, **origin)
    return await diagnose(target, settings, world.engine(ca_file=ca_file), only=only)


async def test_refusing_addresses_do_not_hide_an_expired_certificate_on_the_others(
    dns_world: DnsWorld, ca_file: str
) -> None:
    # Given a name with three addresses: two serve an expired certificate, one refuses
    extra = "\n".join(f"multi A {a}" for a in (*SERVING, REFUSING))
    dns_world.set_zones(example_zones(extra=extra))
    with servers_on_one_port(expired(MULTI), SERVING, dns_world.port) as port:
        report = await run(dns_world, MULTI, ca_file, https_port=port)
    tcp = report.check("tcp.https")
    handshake = report.check("tls.handshake")
    expiry = report.check("tls.cert.expiry")
    response = report.check("http.response")
    assert tcp and handshake and expiry and response
    # Then tcp.https fails for the one address, in plain words
    assert tcp.status is Status.FAIL
    assert tcp.affects == Affects(Scope.SOME, 1, 3)
    assert f"{REFUSING} refused port {port}" in tcp.summary
    evidence = {e.label: e.value for e in tcp.evidence}
    assert "connection refused (ECONNREFUSED)" in evidence[f"{REFUSING} port {port}"]
    assert "Connect call failed" not in str(report.to_dict())
    # And TLS still runs on the two that connect, finding the expired certificate there
    assert handshake.status is Status.PASS
    assert REFUSING not in handshake.summary
    assert expiry.status is Status.FAIL and expiry.affects == Affects(Scope.SOME, 2, 3)
    # And HTTP too, pointing at tcp.https for the refusing address
    assert response.status is not Status.SKIP
    assert "see tcp.https" in response.summary
    # And the likely cause is the failure on more addresses: the certificate
    v = report.verdict
    assert (v.status, v.likely_cause) == (Status.FAIL, "tls.cert.expiry")
    assert v.summary.startswith("Certificate expiry: ")
    assert "Also failing: HTTPS port" in v.summary


async def test_certificate_on_every_address_beats_one_lame_name_server(
    dns_world: DnsWorld, ca_file: str
) -> None:
    # Given ns2 lame (REFUSED) and the origin serving a certificate for another name
    dns_world.ns["ns2"].behaviour = Behaviour.REFUSED
    leaf = issue_leaf(["other.example.test"], pki().intermediate)
    with servers_on_one_port(
        [leaf, pki().intermediate.cert], (ORIGIN_ADDRESS,), dns_world.port
    ) as port:
        report = await run(dns_world, "www.example.test", ca_file, https_port=port)
    lame = report.check("dns.authoritative")
    assert lame and lame.status is Status.FAIL
    assert lame.affects == Affects(Scope.SHARE, 1, 3)
    # Then the certificate, which breaks every request, is the likely cause
    v = report.verdict
    assert (v.status, v.likely_cause, v.cloudfront_status) == (
        Status.FAIL,
        "tls.cert.hostname",
        502,
    )
    assert v.summary.startswith("Certificate name: ")
    assert "Also failing: Authoritative name servers" in v.summary


async def test_only_run_says_what_was_checked(dns_world: DnsWorld, ca_file: str) -> None:
    # Given a healthy origin
    leaf = issue_leaf(["www.example.test"], pki().intermediate)
    with servers_on_one_port(
        [leaf, pki().intermediate.cert], (ORIGIN_ADDRESS,), dns_world.port
    ) as port:
        # When only two checks are asked for
        report = await run(
            dns_world,
            "www.example.test",
            ca_file,
            ["tcp.https", "tls.cert.expiry"],
            https_port=port,
        )
        full = await run(dns_world, "www.example.test", ca_file, https_port=port)
    # Then the verdict is a pass on what ran, never "CloudFront should be able to use it"
    v = report.verdict
    assert [c.id for c in report.checks] == ["tcp.https", "tls.cert.expiry"]
    assert v.status is Status.PASS and v.partial
    assert v.summary == (
        "No problem found in what was checked (tcp.https, tls.cert.expiry). Not a full "
        "diagnosis: the run was limited to the selected checks (--only)."
    )
    # While the full run on the same origin does say so
    assert full.verdict.summary == (
        "No problem found: CloudFront should be able to use this origin."
    )
    assert not full.verdict.partial


async def test_more_addresses_than_tested_are_counted(dns_world: DnsWorld, ca_file: str) -> None:
    # Given a name with 30 addresses, none listening on the port
    addresses = [f"127.0.1.{i}" for i in range(1, 31)]
    dns_world.set_zones(example_zones(extra="\n".join(f"many A {a}" for a in addresses)))
    port = closed_port("127.0.1.1")
    report = await run(dns_world, "many.example.test", ca_file, ["tcp.https"], https_port=port)
    tcp = report.check("tcp.https")
    # Then 16 are tested and the summary says so
    assert len(report.addresses) == MAX_ADDRESSES == 16
    assert tcp and tcp.status is Status.FAIL
    assert "(16 of 30 addresses tested)" in tcp.summary
    assert tcp.affects == Affects(Scope.ALL, 16, 16)
