"""Reports round-trip through JSON exactly (the worker pool and Slack carry them)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cf502.model import CheckResult, Evidence, Report, Status, Verdict
from cf502.settings import OriginSettings
from cf502.target import parse_target

TEXT = st.text(max_size=40)
checks = st.builds(
    CheckResult,
    id=st.sampled_from(["dns.resolve", "tcp.https", "tls.cert.chain"]),
    title=TEXT,
    status=st.sampled_from(list(Status)),
    summary=TEXT,
    evidence=st.lists(st.builds(Evidence, label=TEXT, value=TEXT), max_size=3).map(tuple),
    remediation=TEXT,
    commands=st.lists(TEXT, max_size=3).map(tuple),
    duration_ms=st.integers(min_value=0, max_value=10**6),
    cloudfront_status=st.none() | st.sampled_from([502, 504]),
    cloudfront_error=st.none() | TEXT,
)
verdicts = st.builds(
    Verdict,
    status=st.sampled_from(list(Status)),
    likely_cause=st.none() | TEXT,
    summary=TEXT,
    cloudfront_status=st.none() | st.sampled_from([502, 504]),
    cloudfront_error=st.none() | TEXT,
)


@given(st.lists(checks, max_size=6), verdicts, st.integers(min_value=0, max_value=10**6))
def test_report_round_trips_through_json(cs: list[CheckResult], v: Verdict, ms: int) -> None:
    target = parse_target("https://origin.example.com:8443/x").to_dict()
    settings = OriginSettings(host_header="www.example.com").to_dict()
    report = Report(target, settings, tuple(cs), v, ms, "2026-11-21T06:00:00+00:00", ("192.0.2.1",))
    assert Report.from_json(report.to_json()) == report


def test_origin_settings_round_trip() -> None:
    s = OriginSettings(https_port=8443, ssl_protocols=("TLSv1.1", "TLSv1.2"), read_timeout=5)
    assert OriginSettings.from_dict(s.to_dict()) == s


def test_failed_means_fail_or_error() -> None:
    base = CheckResult("dns.resolve", "t", Status.PASS, "ok")
    v = Verdict(Status.PASS, None, "")
    report = Report({}, {}, (base,), v, 0, "")
    assert not report.failed
    warn = CheckResult("tcp.https", "t", Status.WARN, "hm")
    assert not Report({}, {}, (base, warn), v, 0, "").failed
    err = CheckResult("tcp.https", "t", Status.ERROR, "could not run")
    assert Report({}, {}, (base, err), v, 0, "").failed
