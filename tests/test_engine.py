"""The runner: concurrency, prerequisites, crash isolation, deadlines, and the verdict."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from cf502.checks import ALL_CHECKS, BY_ID, CHECK_IDS
from cf502.checks.base import result
from cf502.checks.probe import Probe
from cf502.engine import run_checks, selection
from cf502.model import CheckResult, Status
from cf502.settings import EngineSettings, OriginSettings
from cf502.target import parse_target
from cf502.verdict import decide


@dataclass
class FakeCheck:
    """An in-memory check whose behaviour the test scripts (no network involved)."""

    id: str
    status: Status = Status.PASS
    needs: tuple[str, ...] = ()
    crash: bool = False
    hang: bool = False
    barrier: asyncio.Barrier | None = None
    ran: list[str] = field(default_factory=list)
    cf: int | None = None

    @property
    def title(self) -> str:
        return f"Title of {self.id}"

    def prerequisites(self, origin: OriginSettings) -> tuple[str, ...]:
        return self.needs

    async def run(self, probe: Probe) -> CheckResult:
        self.ran.append(self.id)
        if self.barrier is not None:
            await self.barrier.wait()  # only completes if the peers run at the same time
        if self.crash:
            raise RuntimeError("boom")
        if self.hang:
            await asyncio.Event().wait()
        return result(self, self.status, f"{self.id} said {self.status}", cloudfront_status=self.cf)


def probe() -> Probe:
    p = Probe(parse_target("origin.example.com"), OriginSettings(), EngineSettings())
    p.addresses = ("192.0.2.1",)
    return p


async def test_independent_checks_run_concurrently() -> None:
    # Given three checks that can only finish when all three are running at once
    barrier = asyncio.Barrier(3)
    checks = [FakeCheck(f"c{i}", barrier=barrier) for i in range(3)]
    # When run, Then all pass (a sequential runner would hit the deadline instead)
    results = await run_checks(checks, {c.id for c in checks}, probe(), deadline=5)
    assert [r.status for r in results.values()] == [Status.PASS] * 3


async def test_failed_prerequisite_skips_dependants_with_reason() -> None:
    a = FakeCheck("a", status=Status.FAIL)
    b = FakeCheck("b", needs=("a",))
    c = FakeCheck("c", needs=("b",))
    results = await run_checks([a, b, c], {"a", "b", "c"}, probe(), deadline=5)
    assert results["b"].status is Status.SKIP and "a did not pass" in results["b"].summary
    assert results["c"].status is Status.SKIP and "b was skipped" in results["c"].summary
    assert b.ran == [] and c.ran == []


async def test_warn_prerequisite_lets_dependants_run() -> None:
    a = FakeCheck("a", status=Status.WARN)
    b = FakeCheck("b", needs=("a",))
    results = await run_checks([a, b], {"a", "b"}, probe(), deadline=5)
    assert results["b"].status is Status.PASS


async def test_crash_becomes_error_and_spares_the_others() -> None:
    boom, fine = FakeCheck("boom", crash=True), FakeCheck("fine")
    seen: list[str] = []
    results = await run_checks(
        [boom, fine], {"boom", "fine"}, probe(), on_result=lambda r: seen.append(r.id), deadline=5
    )
    assert results["boom"].status is Status.ERROR
    # in plain words: the exception's text stays in the log, its type in the evidence
    assert "internal error" in results["boom"].summary and "boom" not in results["boom"].summary
    assert [(e.label, e.value) for e in results["boom"].evidence] == [
        ("internal error", "RuntimeError")
    ]
    assert results["fine"].status is Status.PASS
    assert sorted(seen) == ["boom", "fine"]


async def test_hanging_check_is_stopped_at_its_deadline() -> None:
    hang, fine = FakeCheck("hang", hang=True), FakeCheck("fine")
    results = await run_checks([hang, fine], {"hang", "fine"}, probe(), deadline=0.2)
    assert results["hang"].status is Status.ERROR and "did not finish" in results["hang"].summary
    assert results["fine"].status is Status.PASS


async def test_broken_progress_callback_does_not_break_the_run() -> None:
    def sink(_: CheckResult) -> None:
        raise ValueError("sink broke")

    results = await run_checks([FakeCheck("a")], {"a"}, probe(), on_result=sink, deadline=5)
    assert results["a"].status is Status.PASS


# The command-line contract's stable ids, in its order (upstream first: the verdict relies on it).
CONTRACT_IDS = (
    "dns.resolve",
    "dns.authoritative",
    "tcp.https",
    "tcp.http",
    "tls.handshake",
    "tls.cert.expiry",
    "tls.cert.hostname",
    "tls.cert.trust",
    "tls.cert.chain",
    "http.response",
    "http.headers",
    "http.latency",
    "http.redirect",
    "cloudfront.edge",
)


def test_registry_ids_are_unique_and_are_the_contract() -> None:
    # Given the registry, when its ids are listed, then they are the contract's, in its order
    assert CHECK_IDS == tuple(c.id for c in ALL_CHECKS) == CONTRACT_IDS
    assert len(set(CHECK_IDS)) == len(CHECK_IDS)
    assert tuple(BY_ID) == CHECK_IDS


def test_only_pulls_in_prerequisites_but_reports_only_selection() -> None:
    run, report = selection(["tcp.https"], OriginSettings())
    assert {c.id for c in run} >= {"tcp.https", "dns.resolve"}
    assert report == {"tcp.https"}
    assert all(c.id in BY_ID for c in run)


def test_verdict_picks_most_upstream_failure() -> None:
    a = result(
        FakeCheck("dns.resolve"),
        Status.FAIL,
        "nx",
        cloudfront_status=502,
        cloudfront_error="OriginDnsError",
    )
    b = result(FakeCheck("tcp.https"), Status.SKIP, "skipped")
    c = result(FakeCheck("http.latency"), Status.FAIL, "slow", cloudfront_status=504)
    v = decide([a, b, c])
    assert (v.status, v.likely_cause, v.cloudfront_status, v.cloudfront_error) == (
        Status.FAIL,
        "dns.resolve",
        502,
        "OriginDnsError",
    )
    assert "CloudFront answers 502 (OriginDnsError)" in v.summary


def test_verdict_all_pass_and_warnings() -> None:
    ok = result(FakeCheck("a"), Status.PASS, "fine")
    assert decide([ok]).status is Status.PASS and decide([ok]).likely_cause is None
    w = result(FakeCheck("b"), Status.WARN, "expires in 3 days")
    v = decide([ok, w])
    assert v.status is Status.WARN and v.likely_cause is None and "expires in 3 days" in v.summary
