"""`cf502 check` end to end, as a user runs it: a real process against real loopback DNS and
origins, each broken in one way; the right check is named and the exit code is the contract's."""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from tests.certs import issue_leaf, pki, write_pem
from tests.servers.dns import ORIGIN_ADDRESS, Behaviour, DnsWorld, example_zones
from tests.servers.tcp import closed_port
from tests.servers.tls import TlsServer

HOST = "www.example.test"


@pytest.fixture(scope="module")
def world() -> Iterator[DnsWorld]:
    with DnsWorld() as w:
        yield w


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(write_pem(tmp_path_factory.mktemp("ca") / "root.pem", pki().root.cert))


def cf502(world: DnsWorld, *args: str, ca_file: str | None = None, private: bool = True):
    argv = [
        sys.executable, "-m", "cf502", "check", *args,
        "--resolver", f"127.0.0.1:{world.port}", "--dns-port", str(world.port),
        "--dns-timeout", "1", "--connect-timeout", "1", "--read-timeout", "2",
    ]  # fmt: skip
    if private:
        argv.append("--allow-private")
    if ca_file:
        argv += ["--ca-file", ca_file]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def good_chain() -> list[x509.Certificate]:
    p = pki()
    return [issue_leaf([HOST], p.intermediate), p.intermediate.cert]


def failing(report: dict[str, object]) -> list[str]:
    checks = report["checks"]
    assert isinstance(checks, list)
    return [c["id"] for c in checks if c["status"] == "fail"]


def test_healthy_origin_passes_with_exit_0_and_the_contract_json(
    world: DnsWorld, ca_file: str
) -> None:
    # Given a healthy HTTPS origin behind a healthy zone
    world.set_zones(example_zones())
    with TlsServer(good_chain(), pki().leaf_key, host=ORIGIN_ADDRESS) as origin:
        # When an engineer runs cf502 check --json
        proc = cf502(world, HOST, "--https-port", str(origin.port), "--json", ca_file=ca_file)
    # Then it exits 0 and prints the contract's JSON
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert {"target", "duration_ms", "checks", "verdict"} <= set(report)
    assert report["verdict"]["status"] == "pass" and report["verdict"]["likely_cause"] is None
    for check in report["checks"]:
        assert {"id", "status", "summary", "remediation", "commands", "duration_ms"} <= set(check)
        assert check["status"] in ("pass", "skip"), check
    assert [c["id"] for c in report["checks"] if c["status"] == "pass"] == [
        "dns.resolve", "dns.authoritative", "tcp.https", "tls.handshake", "tls.cert.expiry",
        "tls.cert.hostname", "tls.cert.trust", "tls.cert.chain", "http.response",
        "http.headers", "http.latency", "http.redirect",
    ]  # fmt: skip


def test_human_report_puts_the_verdict_first(world: DnsWorld, ca_file: str) -> None:
    world.set_zones(example_zones())
    port = closed_port(ORIGIN_ADDRESS)
    proc = cf502(world, HOST, "--https-port", str(port), ca_file=ca_file)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[2].startswith("Verdict: FAIL")
    words = " ".join(proc.stdout.split())  # the report is wrapped to the terminal's width
    assert (
        "Predicted CloudFront response: 502 (log x-edge-detailed-result-type: OriginConnectError)"
        in words
    )
    assert "Likely cause: tcp.https" in proc.stdout
    assert f"$ nc -vz -w 1 {ORIGIN_ADDRESS} {port}" in proc.stdout
    # And it fits an 80-column terminal (the width when stdout is not one)
    assert max(len(line) for line in lines) <= 80
    assert "Traceback" not in proc.stderr


def test_nxdomain_names_dns_resolve(world: DnsWorld) -> None:
    world.set_zones(example_zones())
    proc = cf502(world, "missing.example.test", "--json")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert failing(report) == ["dns.resolve"]
    assert report["verdict"]["likely_cause"] == "dns.resolve"
    assert report["verdict"]["cloudfront_error"] == "OriginDnsError"


def test_lame_name_server_names_dns_authoritative(world: DnsWorld, ca_file: str) -> None:
    world.set_zones(example_zones())
    world.ns["ns2"].behaviour = Behaviour.REFUSED
    try:
        with TlsServer(good_chain(), pki().leaf_key, host=ORIGIN_ADDRESS) as origin:
            proc = cf502(world, HOST, "--https-port", str(origin.port), "--json", ca_file=ca_file)
    finally:
        world.ns["ns2"].behaviour = Behaviour.GOOD
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert failing(report) == ["dns.authoritative"]
    assert "ns2.example.test" in report["verdict"]["summary"]


def test_expired_certificate_names_tls_cert_expiry(world: DnsWorld, ca_file: str) -> None:
    world.set_zones(example_zones())
    p = pki()
    now = dt.datetime.now(dt.UTC)
    expired = issue_leaf(
        [HOST], p.intermediate, not_before=now - dt.timedelta(days=90),
        not_after=now - dt.timedelta(days=2),
    )  # fmt: skip
    with TlsServer([expired, p.intermediate.cert], p.leaf_key, host=ORIGIN_ADDRESS) as origin:
        proc = cf502(world, HOST, "--https-port", str(origin.port), "--json", ca_file=ca_file)
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert failing(report) == ["tls.cert.expiry"]
    assert report["verdict"]["cloudfront_status"] == 502


def test_private_target_is_refused_without_connecting(world: DnsWorld, tmp_path: Path) -> None:
    # Given a name resolving to a loopback address where something listens
    world.set_zones(example_zones())
    with socket.socket() as lst:
        lst.bind((ORIGIN_ADDRESS, 0))
        lst.listen(8)
        lst.setblocking(False)
        port = lst.getsockname()[1]
        # When cf502 runs without --allow-private
        proc = cf502(world, HOST, "--https-port", str(port), private=False)
        # Then it refuses in one line with exit 2, and nothing connected to the listener
        with pytest.raises(BlockingIOError):
            lst.accept()
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "127.0.0.10, a loopback address" in proc.stderr
