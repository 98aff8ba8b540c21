"""The overall verdict of a report. Pure: results in, verdict out.

The likely cause is the failure that breaks the most of CloudFront's requests: one on every
address beats one on some addresses, which beats one that fails a share of DNS lookups (a resolver
retries another name server); registry order (upstream first) only breaks ties. A verdict never
claims the origin is fine when checks that apply did not run.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from cf502.model import CheckResult, Scope, Status, Verdict

__all__ = ["breadth", "decide"]

_LISTED = 4  # check ids named before "and N more"


def breadth(check: CheckResult) -> tuple[int, float]:
    """How much of CloudFront's traffic a failure breaks, comparable: (scope, share hit).

    A failure that does not say is a failure of the whole origin (e.g. NXDOMAIN).
    """
    if check.affects is None:
        return Scope.ALL.rank, 1.0
    return check.affects.scope.rank, check.affects.fraction


def _ids(checks: Sequence[CheckResult]) -> str:
    ids = [c.id for c in checks]
    if len(ids) <= _LISTED:
        return ", ".join(ids)
    return f"{', '.join(ids[: _LISTED - 1])} and {len(ids) - _LISTED + 1} more"


def _coverage(unchecked: Sequence[CheckResult], only: Collection[str]) -> str:
    """What the run left out, in words; empty for a full diagnosis."""
    parts = []
    if only:
        parts.append("the run was limited to the selected checks (--only)")
    if unchecked:
        reason = unchecked[0].summary.strip().rstrip(".")
        parts.append(f"not checked: {_ids(unchecked)} ({reason})")
    return "; ".join(parts)


def decide(checks: Sequence[CheckResult], *, only: Collection[str] = ()) -> Verdict:
    """The overall status, the likely cause and one line saying both.

    `checks` must be in registry order, which is upstream first (DNS, TCP, TLS, HTTP, edge).
    `only` is the selection the run was limited to (`--only`); empty for a full run. A skipped
    check that applies to these settings (`CheckResult.applies`) counts as not checked.
    """
    ran = [c for c in checks if c.status is not Status.SKIP]
    unchecked = [c for c in checks if c.status is Status.SKIP and c.applies]
    coverage = _coverage(unchecked, only)
    partial = bool(coverage)
    if not ran:
        why = f" ({coverage})" if unchecked else ""
        return Verdict(Status.SKIP, None, f"No check ran{why}.", partial=partial)
    worst = max((c.status for c in ran), key=lambda s: s.rank)
    failing = [c for c in ran if c.status is Status.FAIL]
    # max() keeps the first of equals: the most upstream failure breaks a tie.
    cause = max(failing, key=breadth) if failing else None
    if cause is None:
        cause = next((c for c in ran if c.status is Status.ERROR), None)
    if cause is not None:
        predicted = ""
        if cause.cloudfront_status is not None:
            predicted = f" CloudFront answers {cause.cloudfront_status}"
            if cause.cloudfront_error:
                predicted += f" ({cause.cloudfront_error})"
            predicted += "."
            if (
                predicted.strip(" .") in cause.summary
            ):  # the check already said it (the edge's does)
                predicted = ""
        others = [c.title for c in failing if c is not cause]
        also = f" Also failing: {', '.join(others)}." if others else ""
        return Verdict(
            status=worst,
            likely_cause=cause.id,
            summary=f"{cause.title}: {cause.summary}{predicted}{also}",
            cloudfront_status=cause.cloudfront_status,
            cloudfront_error=cause.cloudfront_error,
            partial=partial,
        )
    not_full = f" Not a full diagnosis: {coverage}." if partial else ""
    warns = [c for c in ran if c.status is Status.WARN]
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
            summary=f"No failure found; warning: {first.title}: {first.summary}{more}{not_full}",
            cloudfront_status=first.cloudfront_status,
            cloudfront_error=first.cloudfront_error,
            partial=partial,
        )
    if partial:
        return Verdict(
            worst,
            None,
            f"No problem found in what was checked ({_ids(ran)}).{not_full}",
            partial=True,
        )
    return Verdict(worst, None, "No problem found: CloudFront should be able to use this origin.")
