"""Reading the load balancer behind an origin: its scheme, listeners, targets' health and idle
timeout (ELB API in the load balancer's Region, found from the origin's DNS name)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cf502.aws.judge.load_balancer import Balancer, Target, TargetGroup
from cf502.aws.origins import elb_region
from cf502.aws.session import Account, NotFound, call
from cf502.settings.origin import OriginSettings
from cf502.shell import sh

__all__ = ["BalancerReading", "find_balancer", "read_balancer"]

MAX_PAGES = 20


@dataclass(frozen=True)
class BalancerReading:
    """The judge's view, and what the firewall check needs (security groups, address type)."""

    balancer: Balancer
    arn: str
    security_groups: tuple[str, ...]
    ip_address_type: str


def _guess_name(domain: str) -> str:
    """ALB/CLB DNS names are `[internal-]<name>-<id>.<region>.elb.amazonaws.com`."""
    first = domain.removeprefix("dualstack.").split(".", 1)[0].removeprefix("internal-")
    return first.rsplit("-", 1)[0] if "-" in first else first


def find_balancer(client: Any, domain: str) -> dict[str, Any] | None:
    """The load balancer whose DNS name is `domain`: by its guessed name first, else by listing."""
    wanted = domain.lower().removeprefix("dualstack.")
    try:
        answer = call(client, "describe_load_balancers", Names=[_guess_name(wanted)])
        for lb in answer.get("LoadBalancers", []) or []:
            if str(lb.get("DNSName", "")).lower() == wanted:
                return dict(lb)
    except NotFound:
        pass
    marker: str | None = None
    for _ in range(MAX_PAGES):
        params: dict[str, Any] = {"PageSize": 400}
        if marker:
            params["Marker"] = marker
        answer = call(client, "describe_load_balancers", **params)
        for lb in answer.get("LoadBalancers", []) or []:
            if str(lb.get("DNSName", "")).lower() == wanted:
                return dict(lb)
        marker = answer.get("NextMarker")
        if not marker:
            break
    return None


def _ports(settings: OriginSettings) -> dict[str, int]:
    ports = {}
    if settings.protocol_policy.uses_https:
        ports["HTTPS"] = settings.https_port
    if settings.protocol_policy.uses_http:
        ports["HTTP"] = settings.http_port
    return ports


def read_balancer(
    account: Account, domain: str, settings: OriginSettings
) -> BalancerReading | None:
    """None when no load balancer of this account has that DNS name (another account's?)."""
    region = elb_region(domain) or "us-east-1"
    client = account.client("elbv2", region)
    lb = find_balancer(client, domain)
    if lb is None:
        return None
    arn = str(lb.get("LoadBalancerArn"))
    listeners = call(client, "describe_listeners", LoadBalancerArn=arn).get("Listeners", []) or []
    groups: list[TargetGroup] = []
    tgs = call(client, "describe_target_groups", LoadBalancerArn=arn).get("TargetGroups", []) or []
    for tg in tgs:
        health = call(client, "describe_target_health", TargetGroupArn=tg["TargetGroupArn"])
        targets = tuple(
            Target(
                id=str(h.get("Target", {}).get("Id", "")),
                port=h.get("Target", {}).get("Port"),
                state=str(h.get("TargetHealth", {}).get("State", "unknown")),
                reason=h.get("TargetHealth", {}).get("Reason"),
                description=h.get("TargetHealth", {}).get("Description"),
            )
            for h in health.get("TargetHealthDescriptions", []) or []
        )
        groups.append(TargetGroup(str(tg.get("TargetGroupName", "")), targets))
    idle: int | None = None
    if lb.get("Type") == "application":
        attrs = call(client, "describe_load_balancer_attributes", LoadBalancerArn=arn)
        for a in attrs.get("Attributes", []) or []:
            if a.get("Key") == "idle_timeout.timeout_seconds" and str(a.get("Value", "")).isdigit():
                idle = int(a["Value"])
    name = str(lb.get("LoadBalancerName", ""))
    commands = (
        sh("aws", "elbv2", "describe-load-balancers", "--region", region, "--names", name),
        sh("aws", "elbv2", "describe-listeners", "--region", region, "--load-balancer-arn", arn),
        *(
            sh(
                "aws",
                "elbv2",
                "describe-target-health",
                "--region",
                region,
                "--target-group-arn",
                str(tg["TargetGroupArn"]),
            )
            for tg in tgs
        ),
        sh(
            "aws",
            "elbv2",
            "describe-load-balancer-attributes",
            "--region",
            region,
            "--load-balancer-arn",
            arn,
        ),
    )
    balancer = Balancer(
        name=name,
        region=region,
        type=str(lb.get("Type", "application")),
        scheme=str(lb.get("Scheme", "internet-facing")),
        state=str(lb.get("State", {}).get("Code", "unknown")),
        ports=_ports(settings),
        listeners=tuple((int(li.get("Port", 0)), str(li.get("Protocol", ""))) for li in listeners),
        groups=tuple(groups),
        idle_timeout=idle,
        keepalive_timeout=settings.keepalive_timeout,
        read_timeout=settings.read_timeout,
        commands=commands,
    )
    return BalancerReading(
        balancer,
        arn,
        tuple(str(g) for g in lb.get("SecurityGroups", []) or []),
        str(lb.get("IpAddressType", "ipv4")),
    )
