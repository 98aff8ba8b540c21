"""Block Kit rendering is pure: states in, dicts out; a verdict card at the root, escaped, within
Slack's limits."""

from __future__ import annotations

import json
from typing import Any

from bot.actions import ActionId, ButtonValue
from bot.blocks import (
    commands_blocks,
    note_text,
    reply_blocks,
    report_blocks,
    report_text,
    standalone_blocks,
    user,
)
from bot.budget import size, violations
from bot.state import Note, ReportState, Watch
from cf502.checks import BY_ID
from cf502.model import CheckResult, CloudFrontSite, Evidence, Status
from cf502.settings import OriginSettings
from tests.servers.slack_api import text_of

REPORT = "ab" * 16
EVIL = "<!channel> <http://evil.example|origin.example.com> & more"
# The checks a closed HTTPS port leaves: DNS passes, TLS and HTTP are never reached.
UNREACHED = ("tls.", "http.")


def result(check_id: str, status: Status, summary: str = "ok", **kw: Any) -> CheckResult:
    return CheckResult(check_id, BY_ID[check_id].title, status, summary, **kw)


def state(**kw: Any) -> ReportState:
    base: dict[str, Any] = {
        "report_id": REPORT,
        "channel": "C1",
        "requested_by": "U0ALICE01",
        "requested_at": 1_700_000_000.0,
        "target": {"host": "origin.example.com", "input": "origin.example.com"},
        "origin": OriginSettings(),
        "only": (),
        "check_ids": tuple(BY_ID),
        "titles": {c: BY_ID[c].title for c in BY_ID},
        "phase": "done",
    }
    base.update(kw)
    return ReportState(**base)


def healthy() -> ReportState:
    s = state(duration_ms=1200, addresses=("192.0.2.1",))
    for cid in BY_ID:
        s.results[cid] = result(cid, Status.PASS)
    return s


def failing() -> ReportState:
    """A closed port: one failure, the checks behind it not reached, one not used."""
    s = state(duration_ms=1200, addresses=("192.0.2.1",))
    for cid in BY_ID:
        if cid.startswith(UNREACHED):
            s.results[cid] = result(cid, Status.SKIP, "Skipped: tcp.https did not pass.")
        else:
            s.results[cid] = result(cid, Status.PASS)
    s.results["tcp.http"] = result("tcp.http", Status.SKIP, "Not used: https-only.", applies=False)
    s.results["tcp.https"] = result(
        "tcp.https",
        Status.FAIL,
        f"refused: {EVIL}",
        evidence=(Evidence("Server", EVIL),),
        remediation=f"Fix {EVIL}. Then check again.",
        commands=("nc -vz 192.0.2.1 443",),
        cloudfront_status=502,
        cloudfront_error="OriginConnectError",
    )
    return s


def lines(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]


def test_a_healthy_report_is_a_card_of_four_blocks() -> None:
    # Given a report where every check passes
    blocks = report_blocks(healthy(), ttl=86400)
    text = text_of(blocks)
    # Then the card says so in its first line and counts the checks in one more
    assert 3 <= len(blocks) <= 4
    assert lines(blocks)[0].startswith("*✔ pass* · `origin.example.com` — no problem found")
    assert f"{len(BY_ID)} passed" in text
    # And there is nothing to watch, but every check can be shown
    actions = next(b for b in blocks if b["type"] == "actions")
    ids = [e["action_id"] for e in actions["elements"]]
    assert ActionId.WATCH not in ids and ActionId.SHOW_ALL in ids
    assert not any("accessory" in b for b in blocks)  # no menus: nothing to do per check


def test_a_failing_report_is_a_card_with_the_fix_and_where_the_fault_lies() -> None:
    # Given a closed port
    s = failing()
    blocks = report_blocks(s, ttl=86400)
    first = lines(blocks)[0].split("\n")
    # Then line 1 is the status, the target and what CloudFront answers and why, in words
    assert first[0].startswith("*✖ FAIL* · `origin.example.com` — *CloudFront 502:* refused:")
    # line 2 the fix in one sentence, line 3 where the fault lies, with the thing named
    assert first[1].startswith("*Fix:* Fix ") and "Then check again" not in first[1]
    assert first[2] == "*Where:* origin: `origin.example.com` port 443 (web server or firewall)"
    # Then only the failing check has its own line (glyph and word) and menu
    own = [b for b in blocks if str(b.get("block_id", "")).startswith("check:")]
    assert [b["block_id"] for b in own] == ["check:tcp.https"]
    assert own[0]["text"]["text"].startswith("✖ FAIL *HTTPS port*")
    assert own[0]["accessory"]["action_id"] == ActionId.CHECK_MENU
    # And one line counts the rest
    assert "1 failed · 3 passed · 9 not reached · 1 not used" in text_of(blocks)
    assert len(blocks) <= 8
    assert "<@U0ALICE01>" in text_of(blocks) and "buttons work for 24 h" in text_of(blocks)


def test_show_all_checks_lists_the_rest_grouped_and_hide_goes_back() -> None:
    # Given the failing report with every check shown
    s = failing()
    s.expanded = True
    blocks = report_blocks(s)
    text = text_of(blocks)
    # Then each pass has a line, the unreached checks share one line with the reason
    assert "✔ pass *DNS resolution*" in text
    assert text.count("○ not reached") == 1 and "Skipped: tcp.https did not pass." in text
    assert "○ not used *HTTP port*" in text
    actions = next(b for b in blocks if b["type"] == "actions")
    ids = [e["action_id"] for e in actions["elements"]]
    assert ActionId.HIDE_CHECKS in ids and ActionId.SHOW_ALL not in ids
    # And still only the problem has a menu
    assert sum("accessory" in b for b in blocks) == 1


def test_origin_text_is_escaped_everywhere() -> None:
    # Given results whose summary, evidence and fix carry Slack markup
    s = failing()
    # When the root, the reply and the commands are rendered
    rendered = [
        report_blocks(s),
        reply_blocks(s, [s.results["tcp.https"]]),
        commands_blocks(s, s.results["tcp.https"], "U0BOB0002"),
        standalone_blocks(s),
    ]
    # Then none of it can ping the channel or form a link
    for blocks in rendered:
        text = text_of(blocks)
        assert "<!channel>" not in text and "<http://evil" not in text
    assert "&lt;!channel&gt;" in text_of(rendered[0])
    assert "<!channel>" not in report_text(s)


def test_names_are_shown_as_typed_and_in_punycode() -> None:
    s = healthy()
    s.target = {"host": "xn--bcher-kva.example", "input": "bücher.example"}
    first = lines(report_blocks(s))[0]
    assert "`bücher.example` (`xn--bcher-kva.example` in DNS)" in first


def test_the_root_text_carries_the_verdict() -> None:
    assert report_text(failing()).startswith("cf502: ✖ FAIL origin.example.com: HTTPS port:")
    assert report_text(healthy()).startswith("cf502: ✔ pass origin.example.com: No problem")


def test_a_cloudfront_site_is_a_card_that_offers_diagnose_origin() -> None:
    # Given a CloudFront site whose edge answers 502
    s = healthy()
    s.cloudfront = CloudFrontSite(detected=True, via="cname", domain="d111.cloudfront.net")
    s.results["cloudfront.edge"] = result(
        "cloudfront.edge", Status.FAIL, "The edge answers 502.", cloudfront_status=502
    )
    blocks = report_blocks(s)
    first = lines(blocks)[0]
    # Then the card says what the edge answered and that the distribution is where to look
    assert "*CloudFront answered 502:* The edge answers 502." in first
    assert "*Where:* CloudFront: the distribution `d111.cloudfront.net`" in first
    assert "is served by CloudFront" in text_of(blocks)
    actions = next(b for b in blocks if b["type"] == "actions")
    assert ActionId.DIAGNOSE_ORIGIN in [e["action_id"] for e in actions["elements"]]
    assert len(blocks) <= 8


def test_running_report_shows_progress_and_no_buttons() -> None:
    s = state(phase="running")
    s.results["dns.resolve"] = result("dns.resolve", Status.PASS)
    s.results["tcp.https"] = result("tcp.https", Status.FAIL, "refused")
    blocks = report_blocks(s)
    text = text_of(blocks)
    assert f"2 of {len(BY_ID)} checks finished" in text
    assert "So far:" in text and "✖ FAIL *HTTPS port*" in text
    assert not [b for b in blocks if b["type"] == "actions" or "accessory" in b]


def test_a_watched_report_offers_stop() -> None:
    s = failing()
    s.watch = Watch("U0BOB0002", 1_700_000_000.0, 1_700_003_600.0, 60.0, runs=2)
    blocks = report_blocks(s)
    actions = next(b for b in blocks if b.get("block_id") == "root")
    assert ActionId.STOP_WATCH in [e["action_id"] for e in actions["elements"]]
    assert "2 rechecks so far" in text_of(blocks)


def test_button_values_are_ids_only() -> None:
    s = failing()
    for blocks in (report_blocks(s), reply_blocks(s, [s.results["tcp.https"]])):
        for b in blocks:
            for e in [*b.get("elements", []), *([b["accessory"]] if "accessory" in b else [])]:
                for value in [e.get("value")] + [o["value"] for o in e.get("options", [])]:
                    if value is not None:
                        assert len(value) <= 150
                        assert ButtonValue.loads(value).report_id == REPORT


def test_notes_say_who_when_and_what_changed() -> None:
    at = 1_700_000_000.0
    assert note_text(Note("U0BOB0002", at, Status.FAIL, Status.PASS)).endswith(
        "now passes, was failing"
    )
    assert note_text(Note("U0BOB0002", at, Status.FAIL, Status.FAIL)).endswith("still fails")
    assert note_text(Note("U0BOB0002", at, None, Status.WARN)).endswith("now warns")
    assert "<!date^1700000000^{time}|22:13 UTC>" in note_text(
        Note("U0BOB0002", at, None, Status.PASS)
    )
    assert user("<!channel>") == "&lt;!channel&gt;"


def test_commands_are_a_code_block() -> None:
    s = failing()
    text = text_of(commands_blocks(s, s.results["tcp.https"], "U0BOB0002"))
    assert "```\nnc -vz 192.0.2.1 443\n```" in text
    none = commands_blocks(s, s.results["dns.resolve"], "U0BOB0002")
    assert "no equivalent shell command" in text_of(none)


def test_every_message_of_an_ordinary_report_is_within_the_budget() -> None:
    s = failing()
    for blocks in (
        report_blocks(s, ttl=86400),
        report_blocks(s, compact=True),
        reply_blocks(s, [s.results["tcp.https"]]),
        standalone_blocks(s),
    ):
        assert violations(blocks) == [], json.dumps(blocks)[:500]
        assert size(blocks) < 4000
