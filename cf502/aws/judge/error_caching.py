"""`aws.error_caching`: how long CloudFront keeps serving a cached 5xx after the origin is fixed,
and custom error responses that hide the real status. Pure.

Without a custom error response CloudFront caches an origin's 5xx for 10 seconds. A longer
`ErrorCachingMinTTL` keeps the error up that long after the fix; an invalidation clears it sooner.
"""

from __future__ import annotations

from cf502.aws.config import Distribution
from cf502.aws.judge._result import make
from cf502.model import CheckResult, Status
from cf502.shell import sh

__all__ = ["DEFAULT_ERROR_TTL", "LONG_ERROR_TTL", "judge_error_caching"]

ID = "aws.error_caching"
DEFAULT_ERROR_TTL = 10
LONG_ERROR_TTL = 60  # above this an outage visibly outlives its fix
_WATCHED = (500, 502, 503, 504)


def judge_error_caching(distribution: Distribution, path: str) -> CheckResult:
    d = distribution
    by_code = {e.error_code: e for e in d.error_responses}
    invalidate = sh(
        "aws", "cloudfront", "create-invalidation", "--distribution-id", d.id, "--paths", path
    )
    show = sh(
        "aws",
        "cloudfront",
        "get-distribution-config",
        "--id",
        d.id,
        "--query",
        "DistributionConfig.CustomErrorResponses",
    )
    ttls = {c: (by_code[c].min_ttl if c in by_code else None) for c in _WATCHED}
    evidence = [
        (
            f"{code} cached for",
            f"{DEFAULT_ERROR_TTL if ttl is None else ttl} s"
            + (" (default)" if ttl is None else ""),
        )
        for code, ttl in ttls.items()
    ]
    hidden = [
        e
        for e in d.error_responses
        if e.error_code in _WATCHED and e.response_code not in (None, e.error_code)
    ]
    for e in hidden:
        evidence.append(
            (f"{e.error_code} answered as", f"{e.response_code} with {e.page_path or 'a page'}")
        )
    long = {c: t for c, t in ttls.items() if t is not None and t > DEFAULT_ERROR_TTL}
    commands = [show, invalidate]
    worst = max(long.values(), default=0)
    codes = ", ".join(str(c) for c in sorted(long))
    fix = (
        f"Lower the error caching minimum TTL of {codes} to {DEFAULT_ERROR_TTL} s or less (custom "
        f"error pages of {d.id}); after fixing the origin, run the invalidation shown so viewers "
        "stop getting the cached error."
    )
    if worst > LONG_ERROR_TTL:
        return make(
            ID,
            Status.FAIL,
            f"CloudFront caches {codes} errors for up to {worst} s: an outage outlives its fix "
            "by that long.",
            evidence=evidence,
            remediation=fix,
            commands=commands,
        )
    if long or hidden:
        parts = []
        if long:
            parts.append(f"{codes} errors are cached for up to {worst} s")
        if hidden:
            parts.append(
                ", ".join(f"{e.error_code} is answered as {e.response_code}" for e in hidden)
                + ", which hides the real status"
            )
        remediation = (
            fix
            if long
            else (
                "Make the custom error response keep the status (ResponseCode), or remember that "
                "monitoring sees the replacement status."
            )
        )
        return make(
            ID,
            Status.WARN,
            _sentence("; ".join(parts)),
            evidence=evidence,
            remediation=remediation,
            commands=commands,
        )
    return make(
        ID,
        Status.PASS,
        f"CloudFront caches origin 5xx errors for the default {DEFAULT_ERROR_TTL} s; after a fix, "
        "an invalidation clears them at once.",
        evidence=evidence,
        commands=commands,
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."
