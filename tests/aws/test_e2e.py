"""`cf502 check SITE --json` end to end with read-only AWS: a real cf502 process, the emulator on
127.0.0.1 holding a distribution whose alias and origins are local test hosts (real TLS and HTTP
servers, a real DNS server), each origin diagnosed with the configured ports, protocol policy,
timeouts, Host forwarding and custom headers, found by alias, by id and by its cloudfront.net
name; the secret header value never printed."""

from __future__ import annotations

import itertools
import json
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.aws.conftest import Guard
from tests.aws.emulator import Emulator, behavior, custom_origin
from tests.certs import issue_leaf, key_pem, pki, write_pem
from tests.servers.cloudfront import edge_handler
from tests.servers.dns import NS_ADDRESSES, DnsWorld, Zones
from tests.servers.http import ORIGIN_ROUTES, HttpServerThread

_n = itertools.count()
SECRET = "e2e-0r1g1n-v3r1fy-secret"
ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3"


@dataclass
class World:
    site: str  # each test's own: the emulator outlives a test, and an alias is one distribution's
    dns: DnsWorld
    ca_file: str
    edge: HttpServerThread
    primary: HttpServerThread
    secondary: HttpServerThread
    distribution: dict[str, Any]


def _zones(site: str, cf_domain: str) -> Zones:
    ns = "\n".join(f"@ NS {n}" for n in NS_ADDRESSES)
    glue = "\n".join(f"{n} A {a}" for n, a in NS_ADDRESSES.items())
    example = f"""
$TTL 300
@ SOA ns1 hostmaster 2024010101 3600 600 86400 300
{ns}
{glue}
{site.removesuffix(".example.test")} CNAME {cf_domain}.
origin-a A 127.0.0.11
origin-b A 127.0.0.12
"""
    cloudfront = f"""
$TTL 60
@ SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60
@ NS ns1.example.test.
{cf_domain.removesuffix(".cloudfront.net")} A 127.0.0.1
"""
    return Zones.from_text({"example.test.": example, "cloudfront.net.": cloudfront})


@pytest.fixture
def world(aws: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    site = f"shop{next(_n)}.example.test"
    folder = tmp_path_factory.mktemp("pki")
    ca = pki()
    ca_file = write_pem(folder / "root.pem", ca.root.cert)

    def tls(*names: str) -> ssl.SSLContext:
        chain = write_pem(
            folder / f"{names[0]}.pem", issue_leaf(names, ca.intermediate), ca.intermediate.cert
        )
        key = folder / "leaf.key"
        key.write_bytes(key_pem(ca.leaf_key))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(chain), str(key))
        return ctx

    good = ORIGIN_ROUTES["/"]
    with (
        DnsWorld() as dns,
        HttpServerThread("127.0.0.1", tls=tls(site), routes={}, default=edge_handler("hit-200")) as edge,
        # Host is forwarded: the primary's certificate must cover the site's name
        HttpServerThread("127.0.0.11", tls=tls(site), routes={}, default=good) as primary,
        HttpServerThread("127.0.0.12", routes={}, default=good) as secondary,
    ):  # fmt: skip
        d = aws.distribution(
            aliases=(site,),
            origins=[
                custom_origin(
                    "primary", "origin-a.example.test", https_port=primary.port, read_timeout=7,
                    keepalive=9, attempts=2, connect_timeout=4, ssl=("TLSv1.2",),
                    headers={"X-Origin-Verify": SECRET}, path="/live",
                ),
                custom_origin("secondary", "origin-b.example.test", http_port=secondary.port, policy="http-only"),
            ],
            groups=[{
                "Id": "failover",
                "FailoverCriteria": {"StatusCodes": {"Quantity": 2, "Items": [502, 504]}},
                "Members": {"Quantity": 2, "Items": [{"OriginId": "primary"}, {"OriginId": "secondary"}]},
            }],
            default=behavior("primary"),
            behaviors=[behavior("failover", "/shop/*", origin_request_policy=ALL_VIEWER)],
        )  # fmt: skip
        aws.client("cloudfront").get_distribution(Id=d["Id"])  # moto: InProgress -> Deployed
        dns.set_zones(_zones(site, d["DomainName"]))
        yield World(site, dns, str(ca_file), edge, primary, secondary, d)


def cf502(w: World, target: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CF502_AWS": "true", "CF502_AWS_REGIONS": "us-east-1"}
    argv = [
        sys.executable, "-m", "cf502", "check", target, *args,
        "--resolver", f"127.0.0.1:{w.dns.port}", "--dns-port", str(w.dns.port),
        "--dns-timeout", "1", "--allow-private", "--ca-file", w.ca_file,
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=90, check=False, env=env)


def test_the_site_is_diagnosed_origin_by_origin_with_the_configured_settings(
    world: World, guard: Guard
) -> None:
    # When an engineer checks the site (its viewers' port here) for a path of the failover behavior
    started = time.monotonic()
    proc = cf502(world, f"{world.site}:{world.edge.port}", "--path", "/shop/cart", "--json")
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    report = json.loads(proc.stdout)
    # Then the distribution and the behavior are named
    d = report["distribution"]
    assert (d["id"], d["behavior"], d["target_origin_id"]) == (
        world.distribution["Id"],
        "/shop/*",
        "failover",
    )
    assert report["cloudfront"]["via"] == "aws" and report["cloudfront"]["detected"] is True
    # And both origins of the group are diagnosed, primary first, with the configured settings
    primary, secondary = report["origins"]
    assert (primary["id"], secondary["id"]) == ("primary", "secondary")
    p = primary["settings"]
    assert (p["https_port"], p["protocol_policy"], p["read_timeout"], p["keepalive_timeout"]) == (
        world.primary.port, "https-only", 7.0, 9.0,
    )  # fmt: skip
    assert (p["connect_timeout"], p["connection_attempts"], p["path"]) == (
        4.0,
        2,
        "/live/shop/cart",
    )
    assert (
        p["host_header"] == world.site
    )  # AllViewer forwards Host: it is the site's name (and SNI)
    assert p["custom_headers"] == [{"name": "X-Origin-Verify", "value": "(redacted)"}]
    s = secondary["settings"]
    assert (s["protocol_policy"], s["http_port"]) == ("http-only", world.secondary.port)
    assert {c["id"]: c["status"] for c in primary["checks"]}["tls.cert.hostname"] == "pass"
    assert {c["id"]: c["status"] for c in secondary["checks"]}["tcp.http"] == "pass"
    assert primary["verdict"]["status"] == "pass" and secondary["verdict"]["status"] == "pass"
    # And the probes sent what CloudFront sends: the custom header, the forwarded Host, the path
    seen = world.primary.server.seen
    assert seen and all(r.header("X-Origin-Verify") == SECRET for r in seen)
    assert {r.header("Host") for r in seen} == {world.site}
    assert {r.path for r in seen} == {"/live/shop/cart"}
    # And the top level holds the request through CloudFront and the aws.* checks
    ids = [c["id"] for c in report["checks"]]
    assert ids == ["cloudfront.edge", "aws.distribution", "aws.edge_functions", "aws.error_rates",
                   "aws.load_balancer", "aws.firewall", "aws.error_caching", "aws.access_logs"]  # fmt: skip
    assert {c["id"]: c["status"] for c in report["checks"]}["cloudfront.edge"] == "pass"
    assert report["verdict"]["status"] == "pass"
    # And the secret header value is printed nowhere
    assert SECRET not in proc.stdout + proc.stderr
    print(f"cf502 check {world.site} with AWS: {took:.2f} s, AWS part included")


def test_the_id_and_the_cloudfront_name_find_it_too_and_the_text_report_shows_it(
    world: World, guard: Guard
) -> None:
    by_id = cf502(world, world.distribution["Id"], "--json")
    report = json.loads(by_id.stdout)
    assert report["distribution"]["found_by"] == "id"
    assert [o["id"] for o in report["origins"]] == ["primary"]  # the default behavior
    # The default behavior forwards no Host: CloudFront sends (and names in SNI) the origin's
    # name, which the primary's certificate (for the site) does not cover
    assert report["origins"][0]["settings"]["host_header"] is None
    assert (by_id.returncode, report["verdict"]["likely_cause"]) == (1, "tls.cert.hostname")
    by_name = cf502(world, world.distribution["DomainName"], "--json")
    assert json.loads(by_name.stdout)["distribution"]["found_by"] == "domain", by_name.stderr
    text = cf502(world, f"{world.site}:{world.edge.port}", "--path", "/shop/x")
    lines = text.stdout.splitlines()
    assert lines[2].startswith(f"Distribution {world.distribution['Id']}")
    assert "Behavior /shop/* for /shop/x, to failover: primary, then secondary" in text.stdout
    assert any(line.startswith("Origin 1 of 2: primary (origin-a.example.test)") for line in lines)
    assert "X-Origin-Verify (value redacted)" in " ".join(text.stdout.split())
    assert SECRET not in text.stdout


def test_an_unknown_distribution_id_is_one_line(world: World, guard: Guard) -> None:
    proc = cf502(world, "EDOESNOTEXIST9")
    assert proc.returncode == 2
    assert (
        proc.stderr.strip().count("\n") == 0
        and "no distribution serves EDOESNOTEXIST9" in proc.stderr
    )


def test_an_unknown_aws_check_id_is_refused_before_aws_is_asked(world: World, guard: Guard) -> None:
    proc = cf502(world, world.site, "--only", "aws.nope")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Unknown check id 'aws.nope'" in proc.stderr
    only = cf502(world, f"{world.site}:{world.edge.port}", "--only", "aws.error_caching", "--json")
    report = json.loads(only.stdout)
    assert [c["id"] for c in report["checks"]] == ["aws.error_caching"], only.stderr
