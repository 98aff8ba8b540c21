"""The overall verdict of a report. Pure: results in, verdict out."""

from __future__ import annotations

from collections.abc import Sequence

from cf502.model import CheckResult, Status, Verdict

__all__ = ["decide"]


def decide(checks: Sequence[CheckResult]) -> Verdict:
    """Worst status overall; the likely cause is the most upstream failing check.

    `checks` must be in registry order, which is upstream first (DNS, TCP, TLS, HTTP, edge): a DNS
    failure explains a TLS skip, never the other way round.
    """
    ran = [c for c in checks if c.status is not Status.SKIP]
    if not ran:
        return Verdict(Status.SKIP, None, "No check ran.")
    worst = max((c.status for c in ran), key=lambda s: s.rank)
    cause = next((c for c in checks if c.status is Status.FAIL), None)
    if cause is None:
        cause = next((c for c in checks if c.status is Status.ERROR), None)
    if cause is not None:
        predicted = ""
        if cause.cloudfront_status is not None:
            predicted = f" CloudFront answers {cause.cloudfront_status}"
            if cause.cloudfront_error:
                predicted += f" ({cause.cloudfront_error})"
            predicted += "."
        return Verdict(
            status=worst,
            likely_cause=cause.id,
            summary=f"{cause.title}: {cause.summary}{predicted}",
            cloudfront_status=cause.cloudfront_status,
            cloudfront_error=cause.cloudfront_error,
        )
    warns = [c for c in checks if c.status is Status.WARN]
    if warns:
        first = warns[0]
        more = (
            f" (+{len(warns) - 1} more warning{'s' if len(warns) > 2 else ''})"
            if len(warns) > 1
            else ""
        )
        return Verdict(
            status=worst,
            likely_cause=None,
            summary=f"No failure found; warning: {first.title}: {first.summary}{more}",
            cloudfront_status=first.cloudfront_status,
            cloudfront_error=first.cloudfront_error,
        )
    return Verdict(worst, None, "No problem found: CloudFront should be able to use this origin.")
