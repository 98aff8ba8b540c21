"""Golden output: the JSON of a diagnosis and the Slack payloads stay the same for the same inputs.

Each scenario runs a real diagnosis (the real engine against real loopback DNS and origins, the
clock stopped at FIXED_NOW) and compares the `cf502 check --json` report, and every Slack message
rendered from it, with the files in tests/golden/reports/ and tests/golden/slack/. Only what
legitimately differs between runs is normalised (see golden.py); everything else is exact.

Regenerate after an intended change, then review the git diff of the golden files:

    CF502_UPDATE_GOLDEN=1 .venv/bin/pytest tests/golden

The product is imported in product.py only, so moving modules touches that one file.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import certifi
import pytest
from cryptography import x509

from tests.certs import issue_leaf, pki, write_pem
from tests.golden.golden import assert_golden, normalise
from tests.golden.product import diagnosis_json, slack_payloads
from tests.servers.dns import ORIGIN_ADDRESS, Behaviour, DnsWorld, example_zones
from tests.servers.http import HttpServer
from tests.servers.tcp import closed_port
from tests.servers.tls import TlsServer

HERE = Path(__file__).parent
# The diagnosis clock; leaf certificates are dated from it. It must stay inside the test CAs'
# validity (the session's real clock +/- 10 years, tests/certs.py), i.e. until mid-2036.
FIXED_NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
HOST = "www.example.test"
DAY = dt.timedelta(days=1)
# CloudFront's timeouts, shortened so the broken cases answer quickly.
TIMEOUTS: dict[str, Any] = {"connect_timeout": 1, "read_timeout": 2}
# Scenarios whose Slack goldens also hold the messages after reruns and a watch (one failing and
# one passing report cover every wording; the other scenarios would repeat them).
FOLLOWUPS = ("healthy", "expired-certificate")


@dataclass(frozen=True)
class Run:
    """A diagnosis: the contract JSON and this run's own values ({placeholder: value})."""

    report: str
    values: dict[str, str]


@dataclass(frozen=True)
class Lab:
    """The loopback world a scenario runs in: DNS on one port, the test root in a CA file."""

    world: DnsWorld
    ca_file: str

    def values(self) -> dict[str, str]:
        ca = pki().intermediate.cert  # the test CAs are dated from the session's real clock
        return {
            "{DNS_PORT}": str(self.world.port),
            "{CA_FILE}": self.ca_file,
            "{CERTIFI}": certifi.where(),
            "{TEST_CA_NOT_BEFORE}": f"{ca.not_valid_before_utc:%Y-%m-%d %H:%M} UTC",
            "{TEST_CA_NOT_AFTER}": f"{ca.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
        }

    async def diagnose(self, target: str, **origin: Any) -> Run:
        report = await diagnosis_json(
            target,
            dns_port=self.world.port,
            ca_file=self.ca_file,
            now=FIXED_NOW,
            **TIMEOUTS,
            **origin,
        )
        values = self.values()
        for key in ("https_port", "http_port"):
            if key in origin:
                values["{ORIGIN_PORT}"] = str(origin[key])
        for check in json.loads(report)["checks"]:
            for ev in check["evidence"]:
                if ev["label"] == "X-Amz-Cf-Id sent":  # a random id per request
                    values["{X_AMZ_CF_ID}"] = ev["value"]
        return Run(report, values)


def leaf(
    *names: str, not_before: dt.datetime | None = None, days_left: int = 60
) -> x509.Certificate:
    return issue_leaf(
        list(names or (HOST,)),
        pki().intermediate,
        not_before=not_before or FIXED_NOW - 30 * DAY,
        not_after=FIXED_NOW + days_left * DAY,
    )


async def served(lab: Lab, chain: list[x509.Certificate]) -> Run:
    with contextlib.ExitStack() as stack:
        origin = stack.enter_context(TlsServer(chain, pki().leaf_key, host=ORIGIN_ADDRESS))
        if origin.port == lab.world.port:  # one number, two placeholders: hold it, take another
            origin = stack.enter_context(TlsServer(chain, pki().leaf_key, host=ORIGIN_ADDRESS))
        return await lab.diagnose(HOST, https_port=origin.port)


async def healthy(lab: Lab) -> Run:
    return await served(lab, [leaf(), pki().intermediate.cert])


async def expired_certificate(lab: Lab) -> Run:
    chain = [leaf(not_before=FIXED_NOW - 90 * DAY, days_left=-2), pki().intermediate.cert]
    return await served(lab, chain)


async def expiring_certificate(lab: Lab) -> Run:
    return await served(lab, [leaf(days_left=5), pki().intermediate.cert])


async def wrong_name_certificate(lab: Lab) -> Run:
    chain = [leaf("other.example.test"), pki().intermediate.cert]
    return await served(lab, chain)


async def missing_intermediate(lab: Lab) -> Run:
    return await served(lab, [leaf()])


async def closed_https_port(lab: Lab) -> Run:
    port = closed_port(ORIGIN_ADDRESS)
    while port == lab.world.port:  # one number, two placeholders
        port = closed_port(ORIGIN_ADDRESS)
    return await lab.diagnose(HOST, https_port=port)


async def origin_answers_502(lab: Lab) -> Run:
    async with contextlib.AsyncExitStack() as stack:
        origin = await stack.enter_async_context(HttpServer(ORIGIN_ADDRESS))
        if origin.port == lab.world.port:  # one number, two placeholders: hold it, take another
            origin = await stack.enter_async_context(HttpServer(ORIGIN_ADDRESS))
        return await lab.diagnose(
            HOST,
            protocol_policy="http-only",
            http_port=origin.port,
            path="/origin-502",
        )


async def nxdomain(lab: Lab) -> Run:
    return await lab.diagnose("missing.example.test")


async def lame_name_server(lab: Lab) -> Run:
    lab.world.ns["ns2"].behaviour = Behaviour.REFUSED
    try:
        return await served(lab, [leaf(), pki().intermediate.cert])
    finally:
        lab.world.ns["ns2"].behaviour = Behaviour.GOOD


SCENARIOS: dict[str, Callable[[Lab], Coroutine[Any, Any, Run]]] = {
    "healthy": healthy,
    "expired-certificate": expired_certificate,
    "expiring-certificate": expiring_certificate,
    "wrong-name-certificate": wrong_name_certificate,
    "missing-intermediate": missing_intermediate,
    "closed-port": closed_https_port,
    "origin-502": origin_answers_502,
    "nxdomain": nxdomain,
    "lame-name-server": lame_name_server,
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    ca_file = write_pem(tmp_path_factory.mktemp("golden-ca") / "root.pem", pki().root.cert)
    with DnsWorld() as world:
        yield Lab(world, str(ca_file))


@pytest.fixture(scope="module", params=list(SCENARIOS))
def scenario(request: pytest.FixtureRequest, lab: Lab) -> tuple[str, Run]:
    """One diagnosis per scenario, shared by the JSON and the Slack comparisons."""
    lab.world.set_zones(example_zones())
    return request.param, asyncio.run(SCENARIOS[request.param](lab))


def test_report_json_is_unchanged(scenario: tuple[str, Run]) -> None:
    name, run = scenario
    report = json.loads(run.report)
    assert_golden(HERE / "reports" / f"{name}.json", normalise(report, run.values))


def test_slack_payloads_are_unchanged(scenario: tuple[str, Run]) -> None:
    name, run = scenario
    # Rendered from the normalised report (numbers kept, so it is still a report), then normalised.
    report = json.dumps(normalise(json.loads(run.report), run.values, keep_numbers=True))
    payloads = slack_payloads(report, at=FIXED_NOW, followups=name in FOLLOWUPS)
    assert_golden(HERE / "slack" / f"{name}.json", normalise(payloads, run.values))
