"""Building the `aws.*` checks' results, and the common skips. Pure."""

from __future__ import annotations

from collections.abc import Iterable

from cf502.model import CheckResult, Evidence, Status

__all__ = ["CHECK_IDS", "POLICY_FILE", "TITLES", "cannot_see", "could_not_ask", "make"]

TITLES = {
    "aws.distribution": "Distribution",
    "aws.edge_functions": "Edge functions",
    "aws.error_rates": "Error rates",
    "aws.load_balancer": "Load balancer",
    "aws.firewall": "Security groups",
    "aws.error_caching": "Error caching",
    "aws.access_logs": "Access logs",
}
CHECK_IDS = tuple(TITLES)
POLICY_FILE = "deploy/aws-readonly-policy.json"


def make(
    check_id: str,
    status: Status,
    summary: str,
    *,
    evidence: Iterable[tuple[str, object]] = (),
    remediation: str = "",
    commands: Iterable[str] = (),
    cloudfront_status: int | None = None,
    cloudfront_error: str | None = None,
    applies: bool = True,
) -> CheckResult:
    """A result of an `aws.*` check; CloudFront's predicted error is kept only on fail/warn."""
    keep = status in (Status.FAIL, Status.WARN)
    return CheckResult(
        id=check_id,
        title=TITLES[check_id],
        status=status,
        summary=summary,
        evidence=tuple(Evidence(label, str(value)) for label, value in evidence),
        remediation=remediation if status is not Status.PASS else "",
        commands=tuple(commands),
        cloudfront_status=cloudfront_status if keep else None,
        cloudfront_error=cloudfront_error if keep else None,
        applies=applies,
    )


def cannot_see(check_id: str, actions: Iterable[str], commands: Iterable[str] = ()) -> CheckResult:
    """SKIP: the identity may not read what the check needs."""
    denied = sorted(set(actions))
    return make(
        check_id,
        Status.SKIP,
        f"Cannot see: {', '.join(denied)} not allowed for cf502's AWS identity.",
        evidence=[("denied", a) for a in denied],
        remediation=f"Grant the read-only permissions of {POLICY_FILE} to cf502's role.",
        commands=commands,
    )


def could_not_ask(check_id: str, reason: str) -> CheckResult:
    """SKIP: AWS could not be asked (no credentials, no answer in time)."""
    return make(check_id, Status.SKIP, f"Could not read AWS: {reason}.")
