"""Block Kit for a decoding: what it shows, and that pasted text stays inert."""

from __future__ import annotations

import json

from bot.decode_blocks import decode_blocks, decode_text, slash_form
from cf502.decode import decode
from tests.decode.logs import SITE, w3c
from tests.servers.slack_api import text_of


def test_the_cause_facts_checks_and_both_command_forms() -> None:
    d = decode("\n".join([w3c("OriginDnsError", 502)] * 2 + [w3c("Hit", 200)]))
    text = text_of(decode_blocks(d))
    assert "*OriginDnsError · 502 Bad Gateway*" in text
    assert "could not resolve the origin's domain name" in text
    assert "3 log lines: 2 OriginDnsError, 1 Hit" in text
    assert "`LHR61-P1`" in text
    assert "`dns.resolve`" in text
    assert f"`/cf502 {SITE} --path /api/orders`" in text
    assert f"`cf502 check {SITE} --path /api/orders`" in text
    assert "--origin NAME" in text
    assert decode_text(d).startswith("cf502 decode: OriginDnsError · 502 Bad Gateway: ")


def test_pasted_text_can_neither_ping_nor_link() -> None:
    # Given a log line whose path, edge location and request id carry Slack control sequences
    line = w3c(
        "OriginConnectError",
        502,
        path="/<!channel>",
        **{"x-edge-location": "<!here>", "x-edge-request-id": "<https://evil.example|login>"},
    )
    blocks = decode_blocks(decode(line))
    raw = json.dumps(blocks)
    # Then none of it reaches Slack as markup
    assert "<!channel>" not in raw and "<!here>" not in raw and "<https://" not in raw
    assert "&lt;!channel&gt;" in raw


def test_blocks_stay_within_slack_limits() -> None:
    line = w3c("OriginConnectError", 502, path="/" + "a" * 8000)
    blocks = decode_blocks(decode(line))
    assert len(blocks) <= 10
    for block in blocks:
        texts = [block["text"]["text"]] if "text" in block else []
        texts += [e["text"] for e in block.get("elements", [])]
        assert all(len(t) <= 3000 for t in texts)


def test_slash_form() -> None:
    assert slash_form("cf502 check www.example.com --path /x") == "/cf502 www.example.com --path /x"
    assert slash_form("something else") == "something else"
