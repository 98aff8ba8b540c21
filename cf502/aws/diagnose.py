"""A CloudFront site diagnosed through its distribution's configuration (read-only AWS).

The name people have (an alias, `dxxxx.cloudfront.net` or the distribution id) is resolved to the
distribution; each origin CloudFront would use for the path is diagnosed by the engine with the
configuration's exact settings, the site is requested as a viewer does (`cloudfront.edge`, on the
first origin's diagnosis), and the `aws.*` checks read AWS in threads alongside. The report keeps
the contract's shape: `distribution`, one `origins` entry per origin, the edge and the `aws.*`
checks at the top, and the overall verdict.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from cf502.aws.judge.distribution import Found
from cf502.aws.origins import PlannedOrigin
from cf502.aws.run import Resolution, aws_checks, resolve
from cf502.engine import OnResult, diagnose
from cf502.errors import Cf502Error
from cf502.model import (
    CheckResult,
    CloudFrontSite,
    OriginReport,
    Report,
    Status,
    Verdict,
)
from cf502.settings import EngineSettings
from cf502.settings.aws import AwsSettings
from cf502.target import Target, parse_target
from cf502.verdict import decide

__all__ = ["EDGE", "diagnose_distribution", "distribution_facts", "overall_verdict"]

EDGE = "cloudfront.edge"
# The overall verdict weighs causes before symptoms: what only AWS shows (a closed security group,
# failing functions) explains what the origin checks see (timeouts, refusals); the error rates and
# the logs say that it happens, not why.
_CAUSES_FIRST = ("aws.distribution", "aws.edge_functions", "aws.firewall", "aws.load_balancer")
_SYMPTOMS_LAST = ("aws.error_caching", "aws.error_rates", "aws.access_logs")


def distribution_facts(found: Found) -> dict[str, Any]:
    """The report's `distribution` object."""
    d, b = found.distribution, found.behavior
    return {
        "id": d.id,
        "domain": d.domain,
        "aliases": list(d.aliases),
        "behavior": b.label if b else None,
        "target_origin_id": b.target_origin_id if b else None,
        "status": d.status,
        "found_by": found.via,
        "path": found.path,
    }


def _not_probed(planned: PlannedOrigin) -> OriginReport:
    why = planned.unreachable or "its settings cannot be probed"
    verdict = Verdict(
        Status.SKIP,
        None,
        f"Not probed from outside: {why}; the aws.* checks judge it.",
        partial=True,
    )
    settings = planned.settings.to_dict() if planned.settings else {}
    return OriginReport(planned.config.id, planned.config.domain, settings, (), verdict)


def overall_verdict(
    top: Sequence[CheckResult], origins: Sequence[OriginReport], only: Collection[str] = ()
) -> Verdict:
    """One verdict over the distribution's checks and every origin's, causes before symptoms; an
    origin's failure is named with its origin when there are several."""
    by_id = {c.id: c for c in top}
    ordered: list[tuple[CheckResult, str | None]] = [
        (by_id[i], None) for i in _CAUSES_FIRST if i in by_id
    ]
    ordered += [(c, o.id) for o in origins for c in o.checks]
    ordered += [(c, None) for c in top if c.id not in _CAUSES_FIRST + _SYMPTOMS_LAST]
    ordered += [(by_id[i], None) for i in _SYMPTOMS_LAST if i in by_id]
    verdict = decide([c for c, _ in ordered], only=only)
    # decide() names the first of the broadest failures (or errors): find whose it is
    owner = next(
        (o for c, o in ordered if c.id == verdict.likely_cause and c.status is verdict.status),
        None,
    )
    if owner is not None and len(origins) > 1:
        verdict = replace(verdict, summary=f"Origin {owner}: {verdict.summary}")
    return verdict


async def _origin_report(
    planned: PlannedOrigin,
    engine: EngineSettings,
    only: Collection[str] | None,
    on_result: OnResult | None,
    now: Callable[[], datetime] | None,
    site: str | None,
) -> tuple[OriginReport, Report | None]:
    settings = planned.settings
    if settings is None or planned.unreachable:
        return _not_probed(planned), None
    if site:
        settings = replace(settings, cloudfront_domain=site)
    try:
        target = parse_target(planned.config.domain)
        report = await diagnose(target, settings, engine, only=only, on_result=on_result, now=now)
    except Cf502Error as exc:  # e.g. a private address the operator does not allow
        verdict = Verdict(Status.ERROR, None, f"Not diagnosed: {exc}")
        return OriginReport(
            planned.config.id, planned.config.domain, settings.to_dict(), (), verdict
        ), None
    checks = tuple(c for c in report.checks if c.id != EDGE)
    return (
        OriginReport(
            planned.config.id,
            planned.config.domain,
            report.settings,
            checks,
            decide(checks, only=only or ()),
            report.addresses,
        ),
        report,
    )


async def diagnose_distribution(
    name: str,
    *,
    path: str,
    engine: EngineSettings,
    aws: AwsSettings,
    target: Target | None = None,
    only: Collection[str] | None = None,
    on_result: OnResult | None = None,
    now: Callable[[], datetime] | None = None,
    resolution: Resolution | None = None,
) -> Report:
    """Diagnose the CloudFront site `name` through its distribution.

    `target` is the site as typed (its port is where its viewers connect). Raises NotInAccount,
    Denied or AwsFailed when the distribution cannot be found (before any probe).
    """
    started = time.perf_counter()
    started_at = (now or (lambda: datetime.now(UTC)))()
    res = (
        resolution if resolution is not None else await asyncio.to_thread(resolve, name, path, aws)
    )
    found = res.found
    reading = asyncio.ensure_future(asyncio.to_thread(aws_checks, res, aws))
    viewer_port = target.port if target is not None and target.port else None
    if viewer_port:
        engine = replace(engine, edge_port=viewer_port)
    wanted = set(only or ())
    origin_only = [c for c in only or () if not c.startswith("aws.")] or None
    # `--only` with aws.* ids alone: the origins are not probed at all
    probe = not wanted or origin_only is not None
    probed = [p for p in found.origins if p.settings is not None and not p.unreachable]
    viewer = _viewer_name(name, found)
    try:
        diagnosed = await asyncio.gather(
            *(
                _origin_report(
                    p,
                    engine,
                    origin_only,
                    None,  # an origin's checks share ids with the others': only the report has them
                    now,
                    viewer if probed and p is probed[0] else None,
                )
                if probe
                else _unselected(p)
                for p in found.origins
            )
        )
        top_aws = await reading
    finally:
        reading.cancel()
    origins = tuple(o for o, _ in diagnosed)
    first = next((r for _, r in diagnosed if r is not None), None)
    edge = first.check(EDGE) if first is not None else None
    if edge is None:
        edge = make_edge_skip()
    top = tuple(c for c in (edge, *top_aws) if not wanted or c.id in wanted)
    for c in top:
        if on_result is not None:
            maybe = on_result(c)
            if asyncio.iscoroutine(maybe):
                await maybe
    seen = first.cloudfront if first is not None else CloudFrontSite()
    cloudfront = CloudFrontSite(
        detected=True, via="aws", domain=found.distribution.domain,
        pop=seen.pop, request_id=seen.request_id,
    )  # fmt: skip
    site_target = target or parse_target(viewer)
    return Report(
        target=site_target.to_dict(),
        settings=origins[0].settings if origins else {},
        checks=top,
        verdict=overall_verdict(top, origins, only or ()),
        duration_ms=round((time.perf_counter() - started) * 1000),
        started_at=started_at.isoformat(timespec="seconds"),
        addresses=first.addresses if first is not None else (),
        cloudfront=cloudfront,
        distribution=distribution_facts(found),
        origins=origins,
    )


async def _unselected(planned: PlannedOrigin) -> tuple[OriginReport, Report | None]:
    verdict = Verdict(Status.SKIP, None, "Not probed: no origin check was selected (--only).")
    settings = planned.settings.to_dict() if planned.settings else {}
    return OriginReport(planned.config.id, planned.config.domain, settings, (), verdict), None


def make_edge_skip() -> CheckResult:
    return CheckResult(
        id=EDGE,
        title="Request through CloudFront",
        status=Status.SKIP,
        summary="Not asked: no origin of this behavior can be compared from outside.",
        applies=False,
    )


def _viewer_name(name: str, found: Found) -> str:
    """The name a viewer asks for: the one typed, or for an id the first alias (else the
    distribution's own domain)."""
    d = found.distribution
    if name.lower().rstrip(".") in (d.domain, *d.aliases):
        return name.lower().rstrip(".")
    alias = next((a for a in d.aliases if not a.startswith("*")), None)
    return alias or d.domain
