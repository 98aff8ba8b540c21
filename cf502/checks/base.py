"""What every check is: the protocol the engine runs, and a helper to build results."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from cf502.checks.probe import Probe
from cf502.model import Affects, CheckResult, Evidence, Scope, Status
from cf502.settings import OriginSettings

__all__ = ["Check", "address_affects", "evidence", "result"]


class Check(Protocol):
    """One diagnostic check with a stable contract id.

    `prerequisites` names the checks that must PASS or WARN first (given the origin settings, since
    e.g. HTTP checks need `tcp.http` under http-only but `tls.handshake` under https-only); when one
    does not, the engine marks this check SKIP without running it.
    """

    @property
    def id(self) -> str: ...

    @property
    def title(self) -> str: ...

    def prerequisites(self, origin: OriginSettings) -> tuple[str, ...]: ...

    async def run(self, probe: Probe) -> CheckResult: ...


def evidence(pairs: Iterable[tuple[str, object]]) -> tuple[Evidence, ...]:
    """Evidence from (label, value) pairs; values are turned into plain text."""
    return tuple(Evidence(label, str(value)) for label, value in pairs)


def result(
    check: Check,
    status: Status,
    summary: str,
    *,
    evidence: Iterable[tuple[str, object]] = (),
    remediation: str = "",
    commands: Iterable[str] = (),
    cloudfront_status: int | None = None,
    cloudfront_error: str | None = None,
    affects: Affects | None = None,
    applies: bool = True,
) -> CheckResult:
    """Build a CheckResult for `check`. CloudFront's predicted error and what the problem
    affects are kept only on fail/warn; `applies=False` marks a skip for settings that do not use
    the check."""
    keep = status in (Status.FAIL, Status.WARN)
    return CheckResult(
        id=check.id,
        title=check.title,
        status=status,
        summary=summary,
        evidence=tuple(Evidence(label, str(value)) for label, value in evidence),
        remediation=remediation if status is not Status.PASS else "",
        commands=tuple(commands),
        cloudfront_status=cloudfront_status if keep else None,
        cloudfront_error=cloudfront_error if keep else None,
        affects=affects if keep else None,
        applies=applies,
    )


def address_affects(failing: int, total: int) -> Affects | None:
    """What a problem on `failing` of the `total` addresses tested breaks: every request when it
    is on all of them, else the requests CloudFront sends to those (None when none fails)."""
    if failing <= 0 or total <= 0:
        return None
    return Affects(Scope.ALL if failing >= total else Scope.SOME, failing, total)
