"""`aws.distribution`: the distribution was found, is enabled and deployed; which behavior the path
uses and which origin(s) it sends to. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from cf502.aws.config import Behavior, Distribution
from cf502.aws.host import HostDecision
from cf502.aws.judge._result import make
from cf502.aws.origins import PlannedOrigin
from cf502.model import CheckResult, Status
from cf502.shell import sh

__all__ = ["Found", "judge_distribution"]

ID = "aws.distribution"


@dataclass(frozen=True)
class Found:
    """A distribution found for the user's name, and what its configuration says for the path.

    Attributes:
        via: how the name matched: "id", "domain", "alias" or "wildcard alias".
        account: the identity that could see it ("credentials as found" or "role ARN").
        behavior: the cache behavior the path uses (None: the configuration has none).
        origins: the origins CloudFront would use, failover order, with their probe settings.
    """

    distribution: Distribution
    via: str
    account: str
    path: str
    behavior: Behavior | None
    host: HostDecision | None
    origins: tuple[PlannedOrigin, ...]


def _origin_line(p: PlannedOrigin) -> str:
    where = f"{p.config.domain} ({p.kind})"
    return f"{where}: not probed, {p.unreachable}" if p.unreachable else where


def judge_distribution(found: Found) -> CheckResult:
    d, b = found.distribution, found.behavior
    command = sh("aws", "cloudfront", "get-distribution", "--id", d.id)
    evidence: list[tuple[str, object]] = [
        ("distribution", f"{d.id} ({d.domain}), found by {found.via}"),
        ("aliases", ", ".join(d.aliases) or "none"),
        ("status", f"{d.status}, {'enabled' if d.enabled else 'disabled'}"),
        ("identity", found.account),
    ]
    if b is None:
        return make(
            ID,
            Status.FAIL,
            f"Distribution {d.id} has no default cache behavior to send {found.path} to.",
            evidence=evidence,
            remediation="Check the distribution's configuration in the CloudFront console.",
            commands=[command],
        )
    group = d.group(b.target_origin_id)
    evidence.append(("behavior", f"{b.label} for {found.path}, to {b.target_origin_id}"))
    if group:
        failover = ", ".join(str(s) for s in group.failover_statuses) or "none"
        evidence.append(
            (
                "origin group",
                f"{group.id}: {' then '.join(group.members)}; fails over on {failover}",
            )
        )
    for p in found.origins:
        evidence.append((f"origin {p.config.id}", _origin_line(p)))
        evidence.extend((f"note {p.config.id}", n) for n in p.notes)
    if found.host is not None:
        evidence.append(("Host header", found.host.reason))
    changers = [
        f for f in b.functions if f.runtime == "lambda" and f.event_type == "origin-request"
    ]
    if changers:
        evidence.append(
            (
                "origin-request function",
                f"{changers[0].name} may change the origin and Host at run time",
            )
        )
    if not found.origins:
        return make(
            ID,
            Status.FAIL,
            f"Behavior {b.label} of {d.id} sends to {b.target_origin_id}, which is not an origin "
            "of the distribution.",
            evidence=evidence,
            remediation="Point the behavior at an existing origin or origin group.",
            commands=[command],
            cloudfront_status=502,
        )
    if not d.enabled:
        return make(
            ID,
            Status.FAIL,
            f"Distribution {d.id} is disabled: CloudFront does not serve {d.domain}.",
            evidence=evidence,
            remediation="Enable the distribution (its settings page in the CloudFront console).",
            commands=[command],
        )
    names = " then ".join(p.config.id for p in found.origins)
    if d.status != "Deployed":
        return make(
            ID,
            Status.WARN,
            f"Distribution {d.id} is {d.status}: edge locations may still use the previous "
            f"configuration; {b.label} sends to {names}.",
            evidence=evidence,
            remediation="Wait until the status is Deployed before judging a configuration change.",
            commands=[command],
        )
    return make(
        ID,
        Status.PASS,
        f"Distribution {d.id} ({d.domain}) is enabled and deployed; {found.path} uses behavior "
        f"{b.label}, which sends to {names}.",
        evidence=evidence,
        commands=[command],
    )
