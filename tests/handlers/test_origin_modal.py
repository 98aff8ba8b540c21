"""Diagnose origin… through the real app with signed requests: a CloudFront site's report offers the
button, the button opens a modal (views.open with the click's trigger_id), a refused answer shows
under its field, and an accepted one diagnoses the origin, compared with the site, in the report's
thread. The site is a fake CloudFront edge answering its own 502, behind a CNAME to
d111abc.cloudfront.net on the loopback DNS server; the origin a real TLS server."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import pytest
import trustme

from bot.actions import ORIGIN_MODAL, ActionId, ButtonValue
from tests.handlers.harness import ALICE, CHANNEL, Harness, Sent, harness, settings_for
from tests.handlers.test_actions import buttons
from tests.servers.cloudfront import CF_DOMAIN, edge_handler, site_zones
from tests.servers.dns import ORIGIN_ADDRESS, DnsWorld
from tests.servers.dns import dns_world_fixture as dns_world_fixture
from tests.servers.http import HttpServer
from tests.servers.http import tls_ca as tls_ca
from tests.servers.slack_api import TEAM, FakeSlack, Message, text_of
from tests.servers.slack_api import fake_slack_fixture as fake_slack_fixture

SITE = "www.example.test"
ORIGIN = "origin.example.test"


@pytest.fixture(scope="module")
def server_context(tls_ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls_ca.issue_cert(SITE, ORIGIN).configure_cert(ctx)
    return ctx


@pytest.fixture(scope="module")
def ca_file(tls_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("modal-ca") / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
async def edge(server_context: ssl.SSLContext) -> AsyncIterator[HttpServer]:
    async with HttpServer(
        "127.0.0.1", tls=server_context, routes={}, default=edge_handler("connect-502")
    ) as server:
        yield server


def submission(view: dict[str, Any], values: dict[str, str], *, user: str = ALICE) -> str:
    """A `view_submission` payload as Slack POSTs it, with `values` by block id."""
    state: dict[str, Any] = {}
    for block_id, value in values.items():
        if block_id == "protocol_policy":
            entry = {"type": "static_select", "selected_option": {"value": value}}
        else:
            entry = {"type": "plain_text_input", "value": value}
        state[block_id] = {"value": entry}
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "test"},
        "user": {"id": user, "username": "alice", "name": "alice", "team_id": TEAM},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "trigger_id": "1337.43.fedcba",
        "view": {
            "id": view["id"],
            "team_id": TEAM,
            "type": "modal",
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "blocks": view["blocks"],
            "state": {"values": state},
            "hash": "1700000000.abcdef",
        },
        "response_urls": [],
        "is_enterprise_install": False,
    }
    return urlencode({"payload": json.dumps(payload)})


async def submit(h: Harness, view: dict[str, Any], values: dict[str, str]) -> Sent:
    return await h.post(submission(view, values), "application/x-www-form-urlencoded")


async def site_report(h: Harness, port: int) -> Message:
    await h.command(f"{SITE}:{port}")
    roots = await h.slack.wait_for(lambda f: f.roots(CHANNEL), what="root")
    await h.bot.services.background.drain()
    return h.slack.messages[roots[0].ts]


async def test_the_button_opens_a_modal_whose_answer_diagnoses_the_origin_in_the_thread(
    fake_slack: FakeSlack,
    dns_world: DnsWorld,
    edge: HttpServer,
    server_context: ssl.SSLContext,
    ca_file: str,
) -> None:
    dns_world.set_zones(site_zones("127.0.0.1"))
    base = settings_for(fake_slack, dns_world)
    engine = replace(base.engine, ca_file=ca_file, edge_port=edge.port)
    async with (
        HttpServer(ORIGIN_ADDRESS, tls=server_context) as origin,
        harness(fake_slack, dns_world, engine=engine) as h,
    ):
        # Given the report of the site, which CloudFront serves
        root = await site_report(h, edge.port)
        text = text_of(root.blocks)
        assert f"{SITE} is served by CloudFront ({CF_DOMAIN})" in text
        assert text.startswith("*✖ FAIL*")  # the card: the verdict first, then what the site is
        assert "*CloudFront answered 502:*" in text
        # When Alice clicks Diagnose origin…
        (value,) = buttons(root)[ActionId.DIAGNOSE_ORIGIN]
        sent = await h.click(ActionId.DIAGNOSE_ORIGIN, value, message_ts=root.ts)
        assert sent.status == 200 and sent.seconds < 3
        # Then a modal opens for that click, asking for the origin and its main settings
        (view,) = await fake_slack.wait_for(lambda f: f.views, what="views.open")
        assert view["trigger_id"] == "1337.42.abcdef"
        assert view["callback_id"] == ORIGIN_MODAL
        assert ButtonValue.loads(view["private_metadata"]) == ButtonValue.loads(value)
        ids = [b.get("block_id") for b in view["blocks"] if b["type"] == "input"]
        assert ids == ["origin", "protocol_policy", "https_port", "host_header", "path"]
        # When she gives a port CloudFront does not allow, Then the modal shows why, on that field
        good = {"origin": ORIGIN, "protocol_policy": "https-only", "path": "/"}
        refused = await submit(h, view, {**good, "https_port": "8"})
        assert refused.status == 200
        answer = refused.json()
        assert answer["response_action"] == "errors"
        assert list(answer["errors"]) == ["https_port"]
        assert "not allowed by CloudFront" in answer["errors"]["https_port"]
        assert len(h.pool.jobs) == 1
        # When she gives the origin
        accepted = await submit(h, view, {**good, "https_port": str(origin.port)})
        assert accepted.status == 200 and accepted.body == ""
        # Then the origin is diagnosed, compared with the site, in the report's thread
        report = await fake_slack.wait_for(
            lambda f: next(
                (m for m in f.thread(root.ts) if m in f.roots()),
                None,
            ),
            what="the origin's report in the thread",
        )
        await h.bot.services.background.drain()
        job = h.pool.jobs[-1]
        assert job.target["host"] == ORIGIN
        assert job.origin["cloudfront_domain"] == SITE
        assert job.origin["https_port"] == origin.port
        assert job.requested_by["user"] == ALICE
        done = text_of(fake_slack.messages[report.ts].blocks)
        assert f"origin diagnosed: {ORIGIN}" in done
        assert "the cause is between CloudFront and the origin" in done
        assert origin.seen and origin.seen[0].header("Host") == ORIGIN
        # And that report, of the origin, offers no Diagnose origin… of its own
        assert ActionId.DIAGNOSE_ORIGIN not in buttons(fake_slack.messages[report.ts])


async def test_an_ordinary_origin_report_has_no_diagnose_origin_button(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    dns_world.set_zones(site_zones("127.0.0.1"))
    async with harness(fake_slack, dns_world) as h:
        await h.command(f"{ORIGIN}:1024 --connect-timeout 1")
        roots = await fake_slack.wait_for(lambda f: f.roots(CHANNEL), what="root")
        await h.bot.services.background.drain()
        root = fake_slack.messages[roots[0].ts]
        assert "served by CloudFront" not in text_of(root.blocks)
        assert ActionId.DIAGNOSE_ORIGIN not in buttons(root)
        # And a forged click on it is refused, without a modal
        value = ButtonValue(json.loads(buttons(root)[ActionId.RERUN_ALL][0])["r"]).dumps()
        await h.click(ActionId.DIAGNOSE_ORIGIN, value, message_ts=root.ts)
        await h.bot.services.background.drain()
        note = await fake_slack.wait_for(
            lambda f: [
                c for c in f.calls_to("response_url") if "not of a CloudFront" in str(c.args)
            ],
            what="the refusal",
        )
        assert note and fake_slack.views == []


async def test_a_submission_of_an_expired_report_is_refused_in_the_modal(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    async with harness(fake_slack, dns_world) as h:
        view = {
            "id": "V00000001",
            "callback_id": ORIGIN_MODAL,
            "private_metadata": ButtonValue("0" * 32).dumps(),
            "blocks": [],
        }
        started = time.perf_counter()
        sent = await submit(h, view, {"origin": ORIGIN})
        assert time.perf_counter() - started < 3
        assert sent.json()["response_action"] == "errors"
        assert "expired" in sent.json()["errors"]["origin"]
        assert h.pool.jobs == []
