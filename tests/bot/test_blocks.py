"""Block Kit rendering is pure: states in, dicts out; escaped, within Slack's limits."""

from __future__ import annotations

import json
from typing import Any

from bot.actions import ActionId, ButtonValue
from bot.blocks import (
    MAX_BLOCKS,
    commands_blocks,
    note_text,
    reply_blocks,
    report_blocks,
    report_text,
    standalone_blocks,
    user,
)
from bot.state import Note, ReportState, Watch
from cf502.checks import BY_ID
from cf502.model import CheckResult, Evidence, Status
from cf502.settings import OriginSettings
from tests.servers.slack_api import text_of

REPORT = "ab" * 16
EVIL = "<!channel> <http://evil.example|origin.example.com> & more"


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


def failing() -> ReportState:
    s = state()
    for cid in BY_ID:
        s.results[cid] = result(cid, Status.PASS)
    s.results["tcp.https"] = result(
        "tcp.https",
        Status.FAIL,
        f"refused: {EVIL}",
        evidence=(Evidence("Server", EVIL),),
        remediation=f"Fix {EVIL}",
        commands=("nc -vz 192.0.2.1 443",),
        cloudfront_status=502,
        cloudfront_error="OriginConnectError",
    )
    return s


def all_text(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks)


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


def test_root_shows_verdict_each_check_and_root_buttons() -> None:
    s = failing()
    blocks = report_blocks(s, ttl=86400)
    text = text_of(blocks)
    assert "Likely cause: HTTPS port" in text
    assert "*502*" in text and "`OriginConnectError`" in text
    assert "<@U0ALICE01>" in text
    lines = [b for b in blocks if str(b.get("block_id", "")).startswith("check:")]
    assert len(lines) == len(BY_ID)
    actions = next(b for b in blocks if b.get("block_id") == "root")
    ids = [e["action_id"] for e in actions["elements"]]
    assert ids == [ActionId.RERUN_ALL, ActionId.WATCH]
    assert ButtonValue.loads(actions["elements"][0]["value"]) == ButtonValue(REPORT)
    assert "buttons work for 24 h" in text


def test_running_report_shows_pending_checks_and_no_buttons() -> None:
    s = state(phase="running")
    s.results["dns.resolve"] = result("dns.resolve", Status.PASS)
    blocks = report_blocks(s)
    text = text_of(blocks)
    assert f"1 of {len(BY_ID)} checks finished" in text
    assert text.count(":hourglass_flowing_sand:") == len(BY_ID)  # header + pending lines
    assert not [b for b in blocks if b["type"] == "actions" or "accessory" in b]


def test_a_watched_report_offers_stop() -> None:
    s = failing()
    s.watch = Watch("U0BOB0002", 1_700_000_000.0, 1_700_003_600.0, 60.0, runs=2)
    blocks = report_blocks(s)
    actions = next(b for b in blocks if b.get("block_id") == "root")
    assert [e["action_id"] for e in actions["elements"]][1] == ActionId.STOP_WATCH
    assert "2 rechecks so far" in text_of(blocks)


def test_limits_hold_for_huge_results_via_the_compact_layout() -> None:
    # Given every check failing with a very long summary and evidence
    s = state()
    for cid in BY_ID:
        s.results[cid] = result(cid, Status.FAIL, "x" * 5000, evidence=(Evidence("e", "y" * 5000),))
    s.check_ids = tuple(BY_ID) * 4  # more lines than the full layout can hold
    # When rendered
    blocks = report_blocks(s)
    # Then Slack's limits hold: 50 blocks, 3,000 characters per section, ~12k in all
    assert len(blocks) <= MAX_BLOCKS
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert all(len(t) <= 3000 for t in sections)
    assert sum(len(t) for t in sections) <= 12_000
    for reply in (reply_blocks(s, list(s.results.values()) * 3), standalone_blocks(s)):
        assert len(reply) <= MAX_BLOCKS
        assert all(len(b["text"]["text"]) <= 3000 for b in reply if b["type"] == "section")


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
