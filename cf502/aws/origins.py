"""The origins CloudFront would use for a cache behavior, and the exact settings to probe each
with. Pure.

A behavior's target is an origin, or an origin group whose members are all diagnosed in failover
order (CloudFront fails over only for GET, HEAD and OPTIONS). Each origin's settings are copied from
the configuration: ports, protocol policy, SSL protocols, timeouts and attempts, keep-alive, IP
address type, custom headers, and the origin path in front of the request path; Host (and so SNI)
is the viewer's name when a policy forwards it. Origins the internet cannot reach (VPC origins,
internal load balancers) are not probed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cf502.aws.config import Behavior, Distribution, OriginConfig
from cf502.aws.host import HostDecision
from cf502.errors import InvalidSetting
from cf502.settings.origin import (
    CONNECT_TIMEOUT_RANGE,
    KEEPALIVE_TIMEOUT_RANGE,
    READ_TIMEOUT_RANGE,
    SSL_PROTOCOLS,
    OriginSettings,
    ProtocolPolicy,
)

__all__ = [
    "OriginKind",
    "PlannedOrigin",
    "elb_region",
    "origin_kind",
    "origins_for",
    "plan_origin",
]

_ELB = re.compile(
    r"(?:dualstack\.)?(?P<name>[a-z0-9-]+)\.(?:(?P<r1>[a-z0-9-]+)\.elb|elb\.(?P<r2>[a-z0-9-]+))"
    r"\.amazonaws\.com\Z"
)
_S3_REST = re.compile(r"[a-z0-9.-]+\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com\Z")
_S3_WEBSITE = re.compile(r"[a-z0-9.-]+\.s3-website[.-][a-z0-9-]+\.amazonaws\.com\Z")


class OriginKind:
    """What the origin's domain name says it is (AWS's naming; anything else is "custom")."""

    ELB = "load balancer"
    S3 = "S3 bucket (REST API)"
    S3_WEBSITE = "S3 website endpoint"
    API_GATEWAY = "API Gateway"
    LAMBDA_URL = "Lambda function URL"
    VPC = "VPC origin"
    CUSTOM = "custom origin"


def origin_kind(origin: OriginConfig) -> str:
    d = origin.domain
    if origin.kind == "vpc":
        return OriginKind.VPC
    if _ELB.match(d):
        return OriginKind.ELB
    if _S3_WEBSITE.match(d):
        return OriginKind.S3_WEBSITE
    if _S3_REST.match(d):
        return OriginKind.S3
    if d.endswith(".amazonaws.com") and ".execute-api." in d:
        return OriginKind.API_GATEWAY
    if d.endswith(".on.aws") and ".lambda-url." in d:
        return OriginKind.LAMBDA_URL
    return OriginKind.CUSTOM


def elb_region(domain: str) -> str | None:
    """The Region in a load balancer's DNS name (ALB/CLB `…<region>.elb.amazonaws.com`, NLB
    `…elb.<region>.amazonaws.com`), or None when the name is not one."""
    m = _ELB.match(domain.lower())
    if not m:
        return None
    return m.group("r1") or m.group("r2")


def origins_for(distribution: Distribution, behavior: Behavior) -> tuple[OriginConfig, ...]:
    """The origins CloudFront may send the behavior's requests to, primary first."""
    target = behavior.target_origin_id
    group = distribution.group(target)
    ids = group.members if group else (target,)
    return tuple(o for o in (distribution.origin(i) for i in ids) if o is not None)


@dataclass(frozen=True)
class PlannedOrigin:
    """One origin to diagnose: its configuration, what it is, the settings CloudFront uses for it
    (None only when they cannot be expressed), and why it is not probed from outside, if so.

    Attributes:
        notes: what the reader of the report should know about these settings (clamped values,
            an S3 origin's expected 403, a Host header that could not be decided, ...).
    """

    config: OriginConfig
    kind: str
    settings: OriginSettings | None
    unreachable: str | None = None
    notes: tuple[str, ...] = ()


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


def plan_origin(
    origin: OriginConfig,
    *,
    path: str,
    viewer_host: str | None,
    host: HostDecision,
    cloudfront_domain: str | None = None,
) -> PlannedOrigin:
    """The settings to probe `origin` with for a viewer request of `viewer_host` + `path`.

    `viewer_host` is the name the viewer asked for (an alias); with Host forwarded it becomes the
    Host header and SNI. Values outside what `OriginSettings` accepts are clamped and noted.
    """
    kind = origin_kind(origin)
    notes: list[str] = []
    unreachable = None
    if origin.kind == "vpc":
        unreachable = "a VPC origin is reached inside the VPC, not from the internet"
    elif kind == OriginKind.ELB and origin.domain.startswith("internal-"):
        unreachable = "an internal load balancer has no public address"
    policy = ProtocolPolicy.HTTPS_ONLY if origin.kind == "s3" else _policy(origin.protocol_policy)
    protocols = tuple(p for p in origin.ssl_protocols if p in SSL_PROTOCOLS) or ("TLSv1.2",)
    read = _clamp(origin.read_timeout, READ_TIMEOUT_RANGE)
    keepalive = _clamp(origin.keepalive_timeout, KEEPALIVE_TIMEOUT_RANGE)
    if read != origin.read_timeout:
        notes.append(f"response timeout {origin.read_timeout:g} s probed as {read:g} s")
    if origin.kind == "s3" and origin.origin_access_control_id:
        notes.append(
            "S3 with origin access control: CloudFront signs its requests, so an unsigned direct "
            "request answered 403 is expected"
        )
    if host.forwarded is None:
        notes.append(f"Host forwarding unknown ({host.reason}); probed with the origin's name")
    host_header = viewer_host if host.forwarded and viewer_host else None
    full_path = (origin.origin_path.rstrip("/") + path) if origin.origin_path else path
    try:
        settings = OriginSettings(
            https_port=origin.https_port,
            http_port=origin.http_port,
            protocol_policy=policy,
            host_header=host_header,
            path=full_path,
            connect_timeout=_clamp(origin.connection_timeout, CONNECT_TIMEOUT_RANGE),
            connection_attempts=int(_clamp(origin.connection_attempts, (1, 3))),
            read_timeout=read,
            ssl_protocols=protocols,
            cloudfront_domain=cloudfront_domain,
            keepalive_timeout=keepalive,
            ip_address_type=origin.ip_address_type,
            custom_headers=origin.custom_headers,
        )
    except InvalidSetting as exc:
        return PlannedOrigin(origin, kind, None, f"its configuration cannot be probed: {exc}")
    return PlannedOrigin(origin, kind, settings, unreachable, tuple(notes))


def _policy(text: str) -> ProtocolPolicy:
    try:
        return ProtocolPolicy(text)
    except ValueError:
        return ProtocolPolicy.HTTPS_ONLY
