"""One size budget for every message: adversarial reports (hundreds of addresses, huge evidence,
evidence full of backticks and Slack markup) still give messages Slack accepts, with no code span
left open and a visible line saying what was shortened."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.blocks import (
    commands_blocks,
    reply_blocks,
    reply_text,
    report_blocks,
    report_text,
    standalone_blocks,
)
from bot.budget import COMPACT_JSON, MAX_BLOCKS, MAX_JSON, fit, size, violations
from bot.decode_blocks import decode_blocks, decode_text
from bot.evidence import evidence_lines
from bot.mrkdwn import clip
from bot.state import ReportState
from cf502.checks import BY_ID
from cf502.decode import Decoding, InputKind
from cf502.model import Evidence, Status
from tests.bot.test_blocks import result, state
from tests.servers.slack_api import text_of

MARKUP = "`<!here>` ``` *bold _it ~st <@U0EVIL001> <https://evil.example|ok> & `"


def many_addresses() -> ReportState:
    """400 addresses: 300 refuse port 443, 100 are open; every other check passes."""
    refused = [f"10.0.{i // 250}.{i % 250}" for i in range(300)]
    opened = [f"10.1.{i // 250}.{i % 250}" for i in range(100)]
    s = state(addresses=tuple(refused + opened), duration_ms=5000)
    for cid in BY_ID:
        s.results[cid] = result(cid, Status.PASS)
    s.results["tcp.https"] = result(
        "tcp.https",
        Status.FAIL,
        f"Intermittent: 300 of 400 addresses fail: {', '.join(refused)} refused port 443.",
        evidence=tuple(
            [
                Evidence(f"{a} port 443", f"refused in {i} ms: connection refused")
                for i, a in enumerate(refused)
            ]
            + [Evidence(f"{a} port 443", "open in 2 ms") for a in opened]
        ),
        remediation=f"Remove the dead addresses {', '.join(refused)} from DNS.",
        commands=tuple(f"nc -vz -w 10 {a} 443" for a in refused),
        cloudfront_status=502,
    )
    return s


def huge() -> ReportState:
    """Every check fails, each with 5,000-character texts full of markup and 200 evidence lines."""
    s = state(addresses=tuple(f"2001:db8::{i:x}" for i in range(300)))
    for cid in BY_ID:
        s.results[cid] = result(
            cid,
            Status.FAIL if cid != "tls.cert.trust" else Status.WARN,
            MARKUP * 80,
            evidence=tuple(Evidence(MARKUP * 3, MARKUP * 60) for _ in range(200)),
            remediation=MARKUP * 80,
            commands=tuple(MARKUP * 40 for _ in range(50)),
            cloudfront_status=502,
            cloudfront_error=MARKUP,
        )
    return s


def every_message(s: ReportState) -> dict[str, tuple[list[dict[str, Any]], str]]:
    """Every message the app renders for a report: name -> (blocks, text)."""
    problems = [r for r in s.ordered_results if r.status in (Status.FAIL, Status.WARN)]
    expanded = ReportState.from_dict(s.to_dict())
    expanded.expanded = True
    running = ReportState.from_dict(s.to_dict())
    running.phase = "running"
    failed = ReportState.from_dict(s.to_dict())
    failed.phase, failed.error = "failed", MARKUP * 200
    out = {
        "root": (report_blocks(s, ttl=86400), report_text(s)),
        "root_expanded": (report_blocks(expanded, ttl=86400), report_text(expanded)),
        "root_compact": (report_blocks(s, compact=True), report_text(s)),
        "root_running": (report_blocks(running), report_text(running)),
        "root_failed": (report_blocks(failed), report_text(failed)),
        "standalone": (standalone_blocks(s), report_text(s)),
        "replies_grouped": (reply_blocks(s, problems), reply_text(problems)),
    }
    for res in problems:
        out[f"reply {res.id}"] = (reply_blocks(s, [res]), reply_text([res]))
        out[f"commands {res.id}"] = (commands_blocks(s, res, "U0BOB0002"), "commands")
    return out


@pytest.mark.parametrize("make", [many_addresses, huge], ids=["400 addresses", "huge markup"])
def test_no_message_of_an_adversarial_report_is_over_the_budget(make: Any) -> None:
    # Given a report built to be as big and as hostile as an origin can make it
    s = make()
    # When every message of it is rendered
    for name, (blocks, text) in every_message(s).items():
        # Then each is within Slack's limits and the budget, with no code span left open
        assert violations(blocks, text=text) == [], name
        assert len(blocks) <= MAX_BLOCKS and size(blocks) <= MAX_JSON, name
        # And nothing in it can mention anyone or form a link
        assert "<!here>" not in text_of(blocks) and "<@U0EVIL001>" not in text_of(blocks), name


def test_hundreds_of_addresses_are_grouped_failures_first() -> None:
    s = many_addresses()
    reply = text_of(reply_blocks(s, [s.results["tcp.https"]]))
    assert "• *300 refused* on port 443 (connection refused): `10.0.0.0`," in reply
    assert "+296 more" in reply
    assert reply.index("300 refused") < reply.index("100 open")
    root = report_blocks(s, ttl=86400)
    assert len(root) <= 8
    assert "addresses `10.0.0.0`, `10.0.0.1`, `10.0.0.2`, `10.0.0.3` +396 more" in text_of(root)


def test_a_shortened_message_says_so() -> None:
    s = huge()
    blocks = reply_blocks(s, [s.results["dns.resolve"]])
    assert "shortened to fit in Slack" in text_of(blocks[-1:])
    assert "full report (text and JSON) is attached in the thread" in text_of(blocks[-1:])


def test_evidence_beyond_the_cap_is_counted() -> None:
    evidence = [Evidence(f"fact {i}", "x") for i in range(30)]
    out = evidence_lines(evidence, max_lines=5)
    assert len(out) == 5 and out[-1] == "_+26 more in the attached report_"


def test_a_few_addresses_are_listed_one_by_one_failures_first() -> None:
    evidence = [
        Evidence("zone", "example.test"),
        Evidence("ns1.example.test (192.0.2.1)", "authoritative; A: 192.0.2.10; 3 ms"),
        Evidence("ns2.example.test (192.0.2.2)", "refused (REFUSED); 2 ms"),
    ]
    out = evidence_lines(evidence)
    assert out[0].startswith("• zone:")
    assert out[1].startswith("• ns2.example.test (192.0.2.2): `refused")
    assert out[2].startswith("• ns1.example.test")


def test_fit_cuts_the_longest_text_first_and_keeps_buttons() -> None:
    button = {
        "type": "actions",
        "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "x" * 200}, "value": "v"}
        ],
    }
    long = {"type": "section", "text": {"type": "mrkdwn", "text": "`code` " * 2000}}
    short = {"type": "section", "text": {"type": "mrkdwn", "text": "keep me"}}
    out = fit([short, long, button], limit=COMPACT_JSON)
    assert size(out) <= COMPACT_JSON
    assert out[0] == short and out[2]["type"] == "actions"
    assert len(out[2]["elements"][0]["text"]["text"]) <= 75
    assert out[1]["text"]["text"].count("`") % 2 == 0
    assert "shortened" in text_of(out[-1:])
    # And what fits is left alone
    assert fit([short]) == [short]


def test_fit_drops_blocks_over_fifty() -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": str(i)}} for i in range(80)]
    out = fit(blocks)
    assert len(out) == MAX_BLOCKS and "shortened" in text_of(out[-1:])


def test_decodings_are_within_the_budget() -> None:
    # Given a decoding of a paste whose every field is huge and hostile
    d = Decoding(
        input_kind=InputKind.W3C_LOG,
        result_type=MARKUP,
        cloudfront_status=502,
        cause=MARKUP * 100,
        checks=tuple(BY_ID),
        command="cf502 check " + MARKUP * 100,
        next_step=MARKUP * 100,
        facts=tuple((MARKUP, MARKUP * 20) for _ in range(40)),
        notes=tuple(MARKUP * 5 for _ in range(40)),
        counts=tuple((MARKUP, i) for i in range(200)),
    )
    # Then its message is within the budget too
    assert violations(decode_blocks(d), text=decode_text(d)) == []


def test_clip_closes_what_it_cuts() -> None:
    # Inside an inline code span: closed again
    out = clip("see `" + "a" * 100 + "` now", 50)
    assert len(out) <= 50 and out.endswith("…`") and out.count("`") == 2
    # Inside a code block: the fence closed
    out = clip("```\n" + "line\n" * 100 + "```", 60)
    assert len(out) <= 60 and out.endswith("…\n```") and out.count("```") == 2
    # A mention, a date or an entity is never cut in half
    assert clip("hello <@U0ALICE01> there", 16) == "hello …"
    assert clip("a &amp; b" + "c" * 50, 9) == "a …"
    assert clip("short", 10) == "short"
    assert json.dumps(clip("x" * 10, 3)) == json.dumps("…")
