"""The verdict (pure): the likely cause is the failure that breaks the most requests, and a run
that left checks out never says the origin is fine."""

from __future__ import annotations

from cf502.model import Affects, CheckResult, Report, Scope, Status
from cf502.verdict import decide

FULL = "No problem found: CloudFront should be able to use this origin."


def check(
    cid: str,
    status: Status,
    summary: str = "",
    *,
    title: str = "",
    affects: Affects | None = None,
    applies: bool = True,
    cloudfront_status: int | None = None,
) -> CheckResult:
    return CheckResult(
        cid,
        title or cid,
        status,
        summary or f"{cid} {status.value}",
        cloudfront_status=cloudfront_status,
        affects=affects,
        applies=applies,
    )


def test_every_address_beats_a_share_of_lookups_whatever_the_order() -> None:
    # Given 1 of 3 name servers lame (upstream) and a wrong-name certificate on every address
    lame = check(
        "dns.authoritative",
        Status.FAIL,
        "1 of 3 name servers lame",
        affects=Affects(Scope.SHARE, 1, 3),
        cloudfront_status=502,
    )
    cert = check(
        "tls.cert.hostname",
        Status.FAIL,
        "the certificate names other.example.test.",
        title="Certificate name",
        affects=Affects(Scope.ALL, 3, 3),
        cloudfront_status=502,
    )
    # When deciding, Then the certificate is the likely cause and the lame server is named too
    v = decide([check("dns.resolve", Status.PASS), lame, cert])
    assert (v.status, v.likely_cause) == (Status.FAIL, "tls.cert.hostname")
    assert v.summary.startswith("Certificate name: the certificate names other.example.test.")
    assert v.summary.endswith("Also failing: dns.authoritative.")


def test_a_failure_without_a_scope_is_the_whole_origin() -> None:
    # Given a lame name server and an NXDOMAIN-like failure that does not say what it affects
    lame = check("dns.authoritative", Status.FAIL, affects=Affects(Scope.SHARE, 2, 3))
    whole = check("http.latency", Status.FAIL)
    # Then the whole-origin failure wins
    assert decide([lame, whole]).likely_cause == "http.latency"


def test_some_addresses_beat_a_share_of_lookups_and_the_larger_share_wins() -> None:
    lame = check("dns.authoritative", Status.FAIL, affects=Affects(Scope.SHARE, 2, 3))
    one_refuses = check("tcp.https", Status.FAIL, affects=Affects(Scope.SOME, 1, 3))
    two_expired = check("tls.cert.expiry", Status.FAIL, affects=Affects(Scope.SOME, 2, 3))
    # Some addresses beat a share of DNS lookups, however large the share
    assert decide([lame, one_refuses]).likely_cause == "tcp.https"
    # Between two partial failures, the one on more addresses
    assert decide([lame, one_refuses, two_expired]).likely_cause == "tls.cert.expiry"


def test_upstream_order_breaks_ties() -> None:
    a = check("tls.cert.expiry", Status.FAIL, affects=Affects(Scope.ALL, 2, 2))
    b = check("tls.cert.hostname", Status.FAIL, affects=Affects(Scope.ALL, 2, 2))
    assert decide([a, b]).likely_cause == "tls.cert.expiry"
    c = check("tcp.https", Status.FAIL, affects=Affects(Scope.SOME, 1, 2))
    d = check("tls.cert.expiry", Status.FAIL, affects=Affects(Scope.SOME, 1, 2))
    assert decide([c, d]).likely_cause == "tcp.https"


def test_a_failure_beats_a_check_that_could_not_run() -> None:
    err = check("dns.resolve", Status.ERROR, "Could not check: the resolver did not answer.")
    lame = check("dns.authoritative", Status.FAIL, affects=Affects(Scope.SHARE, 1, 3))
    assert decide([err, lame]).likely_cause == "dns.authoritative"
    # Alone, the error is what to look at: no CloudFront status is predicted
    v = decide([err, check("tcp.https", Status.SKIP, "Skipped: dns.resolve did not pass.")])
    assert (v.status, v.likely_cause, v.cloudfront_status) == (Status.ERROR, "dns.resolve", None)


def test_only_run_never_says_the_origin_is_fine() -> None:
    # Given a run limited with --only whose one check passed
    ran = [check("tls.cert.expiry", Status.PASS)]
    # When deciding with the selection, Then it says what was checked and that it is partial
    v = decide(ran, only=["tls.cert.expiry"])
    assert v.status is Status.PASS and v.partial
    assert "CloudFront should be able to use this origin" not in v.summary
    assert v.summary == (
        "No problem found in what was checked (tls.cert.expiry). Not a full diagnosis: the run "
        "was limited to the selected checks (--only)."
    )
    # Without the selection the same result is a full diagnosis
    assert decide(ran).summary == FULL and not decide(ran).partial


def test_skipped_checks_that_apply_make_a_partial_run() -> None:
    # Given the origin checks skipped because the origin is not known, the edge passing
    reason = "Not checked: the origin is not known: give it with --origin NAME."
    skipped = [check(cid, Status.SKIP, reason) for cid in ("dns.resolve", "tcp.https")]
    skipped += [
        check(cid, Status.SKIP, "Skipped: tcp.https was skipped.")
        for cid in ("tls.handshake", "tls.cert.expiry", "http.response")
    ]
    edge = check("cloudfront.edge", Status.PASS)
    v = decide([*skipped, edge])
    # Then the verdict names what ran, what did not and why
    assert v.partial and v.status is Status.PASS
    assert v.summary == (
        "No problem found in what was checked (cloudfront.edge). Not a full diagnosis: not "
        "checked: dns.resolve, tcp.https, tls.handshake and 2 more (Not checked: the origin is "
        "not known: give it with --origin NAME)."
    )
    # And with a warning, the warning leads and the gap follows
    warn = check("cloudfront.edge", Status.WARN, "X-Cache: Miss")
    v = decide([*skipped, warn])
    assert v.summary.startswith("No failure found; warning: cloudfront.edge: X-Cache: Miss")
    assert "Not a full diagnosis: not checked: dns.resolve" in v.summary


def test_skips_for_settings_that_do_not_use_a_check_leave_the_run_full() -> None:
    # Given https-only (tcp.http not used) and no CloudFront domain (cloudfront.edge not asked)
    results = [
        check("dns.resolve", Status.PASS),
        check("tcp.https", Status.PASS),
        check("tcp.http", Status.SKIP, "Not used: https-only.", applies=False),
        check("cloudfront.edge", Status.SKIP, "Not asked.", applies=False),
    ]
    v = decide(results)
    assert (v.summary, v.partial) == (FULL, False)


def test_nothing_ran() -> None:
    v = decide([check("dns.resolve", Status.SKIP, "Not checked: the origin is not known.")])
    assert (v.status, v.likely_cause, v.partial) == (Status.SKIP, None, True)
    assert v.summary == (
        "No check ran (not checked: dns.resolve (Not checked: the origin is not known))."
    )


def test_scope_and_partial_round_trip_through_json() -> None:
    res = check("tcp.https", Status.FAIL, affects=Affects(Scope.SOME, 1, 3))
    skip = check("tcp.http", Status.SKIP, applies=False)
    verdict = decide([res, skip], only=["tcp.https"])
    report = Report({}, {}, (res, skip), verdict, 1, "t")
    data = report.to_dict()
    assert data["checks"][0]["affects"] == {"scope": "some", "failing": 1, "total": 3}
    assert data["checks"][1]["applies"] is False
    assert data["verdict"]["partial"] is True
    assert Report.from_json(report.to_json()) == report
    # A report from before these fields reads as a full run with unscoped failures
    old = report.to_dict()
    for c in old["checks"]:
        del c["affects"], c["applies"]
    del old["verdict"]["partial"]
    back = Report.from_dict(old)
    assert back.checks[0].affects is None and back.checks[1].applies
    assert not back.verdict.partial


def test_the_predicted_answer_is_not_repeated_when_the_summary_says_it() -> None:
    # Given the edge's finding, whose summary already names CloudFront's answer
    edge = CheckResult(
        "cloudfront.edge",
        "Request through CloudFront",
        Status.FAIL,
        "CloudFront answers 502 (OriginConnectError): it could not connect to the origin.",
        cloudfront_status=502,
        cloudfront_error="OriginConnectError",
    )
    # When deciding, Then the verdict says it once
    v = decide([check("dns.resolve", Status.PASS), edge])
    assert v.summary.count("CloudFront answers 502") == 1
    # And a check whose summary does not say it still gets the prediction
    port = check("tcp.https", Status.FAIL, "refused on 1 of 1 address.", cloudfront_status=502)
    assert decide([port]).summary.endswith("CloudFront answers 502.")
