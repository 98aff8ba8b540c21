"""`aws.load_balancer`: for a load balancer origin, the causes only AWS shows. Pure.

* an internal scheme: CloudFront cannot reach it from the internet (504);
* no listener on the port CloudFront uses (502);
* targets that are not healthy, with their reason codes (no healthy target: the ALB answers 503);
* an ALB idle timeout not above CloudFront's keep-alive timeout: the ALB may close a connection
  CloudFront is about to reuse (intermittent 502); a response timeout above the idle timeout lets
  the ALB answer 504 first.
"""

from __future__ import annotations

from dataclasses import dataclass

from cf502.aws.judge._result import make
from cf502.model import CheckResult, Status

__all__ = ["DEFAULT_IDLE_TIMEOUT", "Balancer", "Target", "TargetGroup", "judge_load_balancer"]

ID = "aws.load_balancer"
DEFAULT_IDLE_TIMEOUT = 60  # seconds, the ALB default when the attribute is not set


@dataclass(frozen=True)
class Target:
    id: str
    port: int | None
    state: str
    reason: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class TargetGroup:
    name: str
    targets: tuple[Target, ...]

    @property
    def healthy(self) -> int:
        return sum(1 for t in self.targets if t.state == "healthy")


@dataclass(frozen=True)
class Balancer:
    """A load balancer as read from ELB, with what CloudFront does towards it.

    Attributes:
        ports: the ports CloudFront connects to (by protocol policy), e.g. {"https": 443}.
        listeners: the listener ports and protocols.
        idle_timeout: the ALB's `idle_timeout.timeout_seconds` (None: not set, 60 applies).
        keepalive_timeout / read_timeout: the origin's CloudFront settings.
    """

    name: str
    region: str
    type: str
    scheme: str
    state: str
    ports: dict[str, int]
    listeners: tuple[tuple[int, str], ...]
    groups: tuple[TargetGroup, ...]
    idle_timeout: int | None
    keepalive_timeout: float
    read_timeout: float
    commands: tuple[str, ...] = ()


def judge_load_balancer(lb: Balancer) -> CheckResult:
    evidence: list[tuple[str, object]] = [
        ("load balancer", f"{lb.name} ({lb.type}, {lb.scheme}, {lb.state}) in {lb.region}"),
        ("listeners", ", ".join(f"{p}/{proto}" for p, proto in lb.listeners) or "none"),
    ]
    for g in lb.groups:
        states = ", ".join(
            f"{t.id}:{t.port} {t.state}" + (f" ({t.reason})" if t.reason else "") for t in g.targets
        )
        evidence.append(
            (
                f"target group {g.name}",
                f"{g.healthy}/{len(g.targets)} healthy: {states or 'no targets'}",
            )
        )
    idle = lb.idle_timeout if lb.idle_timeout is not None else DEFAULT_IDLE_TIMEOUT
    if lb.type == "application":
        evidence.append(
            ("idle timeout", f"{idle} s" + (" (default)" if lb.idle_timeout is None else ""))
        )
        evidence.append(("CloudFront keep-alive", f"{lb.keepalive_timeout:g} s"))

    def fail(summary: str, fix: str, status: int, error: str | None) -> CheckResult:
        return make(
            ID,
            Status.FAIL,
            summary,
            evidence=evidence,
            remediation=fix,
            commands=lb.commands,
            cloudfront_status=status,
            cloudfront_error=error,
        )

    if lb.scheme == "internal":
        return fail(
            f"{lb.name} is an internal load balancer: CloudFront cannot reach it from the internet.",
            "Use an internet-facing load balancer, or make it a CloudFront VPC origin.",
            504,
            "OriginCommError",
        )
    missing = [
        f"{p} ({proto})" for proto, p in lb.ports.items() if p not in {lp for lp, _ in lb.listeners}
    ]
    if missing:
        return fail(
            f"{lb.name} has no listener on {', '.join(missing)}, where CloudFront connects.",
            f"Add a listener on {', '.join(missing)} to {lb.name}, or change the origin's ports.",
            502,
            "OriginConnectError",
        )
    empty = [g for g in lb.groups if g.targets and g.healthy == 0]
    if empty or (lb.groups and all(not g.targets for g in lb.groups)):
        g = empty[0] if empty else lb.groups[0]
        reasons = sorted({t.reason for t in g.targets if t.reason})
        return fail(
            f"Target group {g.name} of {lb.name} has no healthy target ({len(g.targets)} "
            f"registered{': ' + ', '.join(reasons) if reasons else ''}): the load balancer "
            "answers 503.",
            "Fix the targets' health checks (path, port, expected codes, security group from the "
            "load balancer) or register healthy targets.",
            503,
            None,
        )
    if lb.type == "application" and lb.keepalive_timeout >= idle:
        return fail(
            f"{lb.name}'s idle timeout ({idle} s) is not above CloudFront's keep-alive timeout "
            f"({lb.keepalive_timeout:g} s): it may close connections CloudFront reuses "
            "(intermittent 502).",
            f"Raise the load balancer's idle timeout above {lb.keepalive_timeout:g} s (e.g. 60 s), "
            "or lower the origin keep-alive timeout in CloudFront.",
            502,
            "OriginCommError",
        )
    warns: list[str] = []
    partial = [g for g in lb.groups if 0 < g.healthy < len(g.targets)]
    for g in partial:
        warns.append(
            f"{len(g.targets) - g.healthy} of {len(g.targets)} targets of {g.name} are not healthy"
        )
    if lb.type == "application" and lb.read_timeout > idle:
        warns.append(
            f"the response timeout ({lb.read_timeout:g} s) is above the idle timeout ({idle} s), "
            "so the load balancer answers 504 to slow requests first"
        )
    if warns:
        return make(
            ID,
            Status.WARN,
            _sentence("; ".join(warns)),
            evidence=evidence,
            commands=lb.commands,
            remediation="Fix the unhealthy targets' health checks, and keep the ALB idle timeout "
            "above both CloudFront timeouts.",
            cloudfront_status=502 if partial else 504,
        )
    return make(
        ID,
        Status.PASS,
        f"{lb.name} is internet-facing, listens on {', '.join(str(p) for p in lb.ports.values())}, "
        f"every target is healthy"
        + (
            f" and its idle timeout ({idle} s) is above CloudFront's keep-alive."
            if lb.type == "application"
            else "."
        ),
        evidence=evidence,
        commands=lb.commands,
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."
