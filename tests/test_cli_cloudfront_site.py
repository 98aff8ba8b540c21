"""`cf502 check SITE` end to end, as a user runs it in an incident: a real cf502 process, a real DNS
server on loopback where `www.example.test` is a CNAME to `d111abc.cloudfront.net`, and a fake
CloudFront edge answering its own 502. The site is recognised, the 502 decoded, the origin never
blamed, in the JSON and in the human report."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from collections.abc import Iterator

import pytest
import trustme

from tests.servers.cloudfront import CF_DOMAIN, POP, edge_handler, site_zones
from tests.servers.dns import DnsWorld
from tests.servers.http import HttpServerThread

SITE = "www.example.test"


@pytest.fixture(scope="module")
def world() -> Iterator[DnsWorld]:
    with DnsWorld() as w:
        w.set_zones(site_zones("127.0.0.1"))
        yield w


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="module")
def cloudfront(ca: trustme.CA) -> Iterator[HttpServerThread]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(SITE).configure_cert(ctx)
    with HttpServerThread(
        "127.0.0.1", tls=ctx, routes={}, default=edge_handler("connect-502")
    ) as server:
        yield server


def cf502(world: DnsWorld, ca_file: str, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable, "-m", "cf502", "check", *args,
        "--resolver", f"127.0.0.1:{world.port}", "--dns-port", str(world.port),
        "--dns-timeout", "1", "--connect-timeout", "1", "--read-timeout", "2",
        "--allow-private", "--ca-file", ca_file,
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_json_names_the_site_cloudfronts_and_decodes_its_502(
    world: DnsWorld, ca_file: str, cloudfront: HttpServerThread
) -> None:
    # When an engineer checks the site they know, with the port its edge listens on here
    proc = cf502(world, ca_file, f"{SITE}:{cloudfront.port}", "--json")
    # Then it exits 1 (the edge answer is a failure) with the contract's cloudfront object
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    cf = report["cloudfront"]
    assert (cf["detected"], cf["via"], cf["domain"], cf["pop"]) == (True, "cname", CF_DOMAIN, POP)
    assert cf["request_id"]
    assert report["verdict"]["likely_cause"] == "cloudfront.edge"
    assert report["verdict"]["cloudfront_error"] == "OriginConnectError"
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses["cloudfront.edge"] == "fail"
    assert statuses["dns.resolve"] == "pass"
    assert {s for cid, s in statuses.items() if cid not in ("dns.resolve", "cloudfront.edge")} == {
        "skip"
    }
    assert "the origin itself" not in proc.stdout
    assert proc.stderr == ""


def test_the_human_report_says_first_that_cloudfront_serves_the_site(
    world: DnsWorld, ca_file: str, cloudfront: HttpServerThread
) -> None:
    proc = cf502(world, ca_file, f"{SITE}:{cloudfront.port}")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    # The site line comes before the verdict (wrapped to the terminal's width)
    assert lines[2].startswith(f"{SITE} is served by CloudFront ({CF_DOMAIN})")
    head, _, rest = proc.stdout.partition("Verdict: FAIL")
    assert "--origin NAME" in " ".join(head.split()) and rest
    assert "CloudFront response: 502 (log x-edge-detailed-result-type: OriginConnectError)" in (
        proc.stdout
    )
    assert "Predicted CloudFront response" not in proc.stdout
    assert "Traceback" not in proc.stderr


def test_a_bad_origin_option_is_one_line(world: DnsWorld, ca_file: str) -> None:
    proc = cf502(world, ca_file, SITE, "--origin", SITE)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "is the site itself" in proc.stderr
