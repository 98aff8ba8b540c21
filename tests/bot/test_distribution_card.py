"""A site diagnosed through its distribution (read from AWS) in Slack: the card's head is the
report's overall verdict, a line names the distribution and the behavior, one line per origin;
the origins' failing checks go to thread replies; only Rerun all is offered; every message stays
within the budget however many origins and however much evidence."""

from __future__ import annotations

import json
from typing import Any

from bot.actions import ActionId
from bot.attach import report_files
from bot.blocks import origin_reply_blocks, reply_blocks, report_blocks, report_text
from bot.budget import MAX_JSON, size, violations
from bot.distribution import ONLY_RERUN_ALL
from bot.reports import apply_report, recheck_job, verdict_status
from bot.state import ReportState
from cf502.checks import BY_ID
from cf502.model import CheckResult, Evidence, OriginReport, Report, Status, Verdict
from cf502.pool.jobs import JobKind
from cf502.settings import OriginSettings
from cf502.settings.aws import JOB_REQUEST
from tests.bot.test_blocks import EVIL, state
from tests.servers.slack_api import text_of

DIST = {
    "id": "E2QWRUHEXAMPLE",
    "domain": "d111111abcdef8.cloudfront.net",
    "aliases": ["www.example.com"],
    "behavior": "/api/*",
    "target_origin_id": "api-group",
    "status": "Deployed",
    "found_by": "alias",
    "path": "/api/users",
}


def check(cid: str, status: Status, summary: str = "ok", **kw: Any) -> CheckResult:
    title = BY_ID[cid].title if cid in BY_ID else cid
    return CheckResult(cid, title, status, summary, **kw)


def origin(
    oid: str, domain: str, failing: CheckResult | None = None, *, evidence: int = 1
) -> OriginReport:
    checks = [check(c, Status.PASS) for c in BY_ID if c != "cloudfront.edge"]
    if failing is not None:
        checks = [failing if c.id == failing.id else c for c in checks]
    if failing is None:
        verdict = Verdict(Status.PASS, None, "no problem found")
    else:
        verdict = Verdict(failing.status, failing.id, failing.summary, 502, "OriginConnectError")
    settings = OriginSettings(https_port=8443).to_dict()
    return OriginReport(oid, domain, settings, tuple(checks), verdict, ("192.0.2.10",))


def refused(evidence: int = 1, value: str = "refused") -> CheckResult:
    return check(
        "tcp.https",
        Status.FAIL,
        "Every address refuses port 8443.",
        evidence=tuple(Evidence(f"192.0.2.{i % 250}:8443", value) for i in range(evidence)),
        remediation="Open port 8443 to CloudFront's origin-facing addresses. Then rerun.",
        cloudfront_status=502,
        cloudfront_error="OriginConnectError",
    )


def distribution_report(origins: tuple[OriginReport, ...]) -> Report:
    top = (
        check("cloudfront.edge", Status.FAIL, "CloudFront answered 502.", cloudfront_status=502),
        check(
            "aws.firewall",
            Status.WARN,
            "The security group sg-0abc allows only 10.0.0.0/8.",
            evidence=(Evidence("security group", "sg-0abc"),),
            remediation="Allow the CloudFront managed prefix list on port 8443.",
        ),
        check("aws.distribution", Status.PASS, "Deployed and enabled."),
    )
    failing = next((o for o in origins if o.verdict.status is Status.FAIL), None)
    cause = "tcp.https" if failing else "cloudfront.edge"
    summary = f"Origin {failing.id}: every address refuses port 8443." if failing else "502"
    verdict = Verdict(Status.FAIL, cause, summary, 502, "OriginConnectError")
    return Report(
        target={"host": "www.example.com", "input": "www.example.com"},
        settings=OriginSettings().to_dict(),
        checks=top,
        verdict=verdict,
        duration_ms=2300,
        started_at="2026-12-04T20:00:00Z",
        distribution=dict(DIST),
        origins=origins,
    )


def site_state(report: Report) -> ReportState:
    s = state(target={"host": "www.example.com", "input": "www.example.com"})
    apply_report(s, report)
    return s


def two_origins() -> tuple[OriginReport, ...]:
    return (
        origin("api-primary", "api.example.com", refused()),
        origin("api-secondary", "api-dr.example.com"),
    )


def sections(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]


def test_the_card_shows_the_overall_verdict_the_distribution_and_each_origin() -> None:
    s = site_state(distribution_report(two_origins()))
    blocks = report_blocks(s, ttl=86400)
    text = text_of(blocks)
    head = sections(blocks)[0]
    # The head is the report's verdict: its cause is an origin's check, named with its origin
    assert head.startswith("*✖ FAIL* · `www.example.com` — *CloudFront 502:* Every address")
    assert "*Fix:* Open port 8443 to CloudFront's origin-facing addresses." in head
    assert "*Where:* origin `api-primary`: `api.example.com` port 8443 (web server" in head
    # Then the distribution and the behavior (path pattern → target origin)
    assert (
        "Distribution `E2QWRUHEXAMPLE` (`d111111abcdef8.cloudfront.net`), read from AWS · "
        "behavior `/api/*` for `/api/users` → `api-group`"
    ) in text
    # Then one line per origin: glyph and word, and its cause
    assert "✖ FAIL · origin 1 of 2 `api-primary` (`api.example.com`) — *HTTPS port:*" in text
    assert "✔ pass · origin 2 of 2 `api-secondary` (`api-dr.example.com`) — no problem" in text
    # And the distribution's own problems
    assert any("The security group sg-0abc" in t for t in sections(blocks))
    # Only Rerun all: no per-check menus, and the card says so
    assert not any("accessory" in b for b in blocks)
    ids = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert ActionId.RERUN_ALL in ids and ActionId.WATCH in ids
    assert ActionId.DIAGNOSE_ORIGIN not in ids
    assert ONLY_RERUN_ALL in text
    assert report_text(s).startswith("cf502: ✖ FAIL www.example.com: Origin api-primary:")
    assert verdict_status(s) is Status.FAIL
    assert violations(blocks) == []


def test_the_origins_details_go_to_a_reply_without_buttons() -> None:
    s = site_state(distribution_report(two_origins()))
    blocks = origin_reply_blocks(s, [s.origins[0]])
    text = text_of(blocks)
    assert "origin 1 of 2 `api-primary` (`api.example.com`)" in text
    assert "Every address refuses port 8443." in text and "*Evidence*" in text
    assert "*Fix:* Open port 8443" in text
    assert not any(b["type"] == "actions" for b in blocks)  # the ids are shared: no Rerun
    top = reply_blocks(s, [s.results["aws.firewall"]], interactive=False)
    assert not any(b["type"] == "actions" for b in top)


def test_origin_text_is_escaped_in_the_card_and_the_replies() -> None:
    evil = origin(f"id {EVIL}", f"{EVIL}.example", refused(value=EVIL))
    s = site_state(distribution_report((evil,)))
    s.distribution = {**DIST, "behavior": EVIL, "target_origin_id": EVIL}
    for blocks in (report_blocks(s), origin_reply_blocks(s, [evil])):
        text = text_of(blocks)
        assert "<!channel>" not in text and "<http://evil" not in text
        assert violations(blocks) == []


def test_a_distribution_report_state_survives_json_and_old_states_still_load() -> None:
    s = site_state(distribution_report(two_origins()))
    back = ReportState.from_dict(json.loads(json.dumps(s.to_dict())))
    assert back.distribution == s.distribution and back.origins == s.origins
    assert back.verdict == s.verdict and back.check_ids == s.check_ids
    # The checks are the distribution's own, not the origin checks asked for
    assert set(back.check_ids) == {"cloudfront.edge", "aws.firewall", "aws.distribution"}
    old = state().to_dict()
    assert "distribution" not in old  # a plain report's state keeps its shape
    loaded = ReportState.from_dict(old)
    assert loaded.distribution is None and loaded.origins == () and loaded.verdict is None


def test_a_distribution_report_is_rerun_whole_through_aws() -> None:
    s = site_state(distribution_report(two_origins()))
    job = recheck_job(s, s.check_ids, "U0BOB0001")
    assert job.kind is JobKind.DIAGNOSE and job.only == ()
    assert job.requested_by[JOB_REQUEST[0]] == JOB_REQUEST[1]
    plain = recheck_job(state(), ("tcp.https",), "U0BOB0001")
    assert plain.kind is JobKind.RERUN and JOB_REQUEST[0] not in plain.requested_by


def test_a_big_distribution_report_stays_within_the_budget() -> None:
    huge = "x" * 5000
    many = tuple(
        origin(f"origin-{i}-{'o' * 100}", f"o{i}.{'d' * 60}.example.com", refused(400, huge))
        for i in range(60)
    )
    s = site_state(distribution_report(many))
    s.distribution = {**DIST, "behavior": "/" + "b" * 3000, "target_origin_id": "t" * 3000}
    for blocks in (
        report_blocks(s, ttl=86400),
        report_blocks(s, compact=True),
        report_blocks(s, interactive=False),
        origin_reply_blocks(s, [s.origins[0]]),
        origin_reply_blocks(s, list(s.origins)),
    ):
        assert violations(blocks) == [], json.dumps(blocks)[:300]
        assert size(blocks) <= MAX_JSON
    card = text_of(report_blocks(s, ttl=86400))
    assert card.count("✖ FAIL · origin") >= 10  # many origins still have their lines
    assert "shortened" in card


def test_the_attached_report_is_the_distributions_with_its_origins() -> None:
    report = distribution_report(two_origins())
    s = site_state(report)
    s.duration_ms = report.duration_ms
    text, data = report_files(s)
    assert "Distribution E2QWRUHEXAMPLE (d111111abcdef8.cloudfront.net)" in text.content
    assert "Origin 1 of 2: api-primary (api.example.com)" in text.content
    back = Report.from_json(data.content)
    assert back.distribution == report.distribution and back.origins == report.origins
    assert back.verdict == report.verdict
