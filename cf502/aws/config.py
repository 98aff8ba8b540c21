"""A distribution's configuration as read from the CloudFront API, in typed form. Pure.

`distribution_from_api` accepts both what `GetDistribution` returns (`Distribution` with its
`DistributionConfig`) and an item of `ListDistributions` (the same fields, flat), and is lenient:
a missing field takes CloudFront's default, so an emulator or an older API version still reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cf502.settings.origin import CustomHeader

__all__ = [
    "Behavior",
    "Distribution",
    "EdgeFunction",
    "ErrorResponse",
    "LegacyLogging",
    "OriginConfig",
    "OriginGroup",
    "distribution_from_api",
]


@dataclass(frozen=True)
class OriginConfig:
    """One origin of a distribution (the API's `Origin`).

    `kind` is "custom" (a `CustomOriginConfig`), "s3" (an `S3OriginConfig`, the S3 REST API) or
    "vpc" (a `VpcOriginConfig`: reached inside the VPC, not from the internet).
    """

    id: str
    domain: str
    origin_path: str = ""
    custom_headers: tuple[CustomHeader, ...] = ()
    kind: str = "custom"
    http_port: int = 80
    https_port: int = 443
    protocol_policy: str = "https-only"
    ssl_protocols: tuple[str, ...] = ("TLSv1.2",)
    read_timeout: float = 30.0
    keepalive_timeout: float = 5.0
    connection_attempts: int = 3
    connection_timeout: float = 10.0
    ip_address_type: str | None = None
    origin_access_control_id: str | None = None
    vpc_origin_id: str | None = None


@dataclass(frozen=True)
class OriginGroup:
    """An origin group: its members, primary first, and the statuses that fail over."""

    id: str
    members: tuple[str, ...]
    failover_statuses: tuple[int, ...] = ()


@dataclass(frozen=True)
class EdgeFunction:
    """A function on a cache behavior: Lambda@Edge (`lambda`) or CloudFront Functions
    (`cloudfront`), with its ARN and event type (e.g. "origin-request")."""

    runtime: str
    arn: str
    event_type: str

    @property
    def name(self) -> str:
        """The function's name: ARN field 7 (Lambda@Edge ARNs are version ARNs)."""
        parts = self.arn.split(":")
        if self.runtime == "lambda":
            return parts[6] if len(parts) > 6 else self.arn
        return self.arn.rsplit("/", 1)[-1]

    @property
    def version(self) -> str | None:
        parts = self.arn.split(":")
        return parts[7] if self.runtime == "lambda" and len(parts) > 7 else None


@dataclass(frozen=True)
class Behavior:
    """A cache behavior; `path_pattern` None is the default behavior.

    Attributes:
        forwarded_headers: the legacy `ForwardedValues.Headers` (only read when there is no cache
            policy).
    """

    path_pattern: str | None
    target_origin_id: str
    viewer_protocol_policy: str = "allow-all"
    cache_policy_id: str | None = None
    origin_request_policy_id: str | None = None
    forwarded_headers: tuple[str, ...] = ()
    functions: tuple[EdgeFunction, ...] = ()
    allowed_methods: tuple[str, ...] = ("GET", "HEAD")

    @property
    def label(self) -> str:
        return self.path_pattern if self.path_pattern is not None else "default (*)"


@dataclass(frozen=True)
class ErrorResponse:
    """A custom error response: the origin's status, how long CloudFront caches it, and what it
    answers instead (None: the same status)."""

    error_code: int
    min_ttl: int | None = None
    response_code: int | None = None
    page_path: str | None = None


@dataclass(frozen=True)
class LegacyLogging:
    """Standard logging (legacy) to S3: bucket name (without `.s3.amazonaws.com`) and prefix."""

    enabled: bool = False
    bucket: str = ""
    prefix: str = ""


@dataclass(frozen=True)
class Distribution:
    """The parts of a distribution that a diagnosis uses."""

    id: str
    domain: str
    arn: str = ""
    status: str = "Deployed"
    enabled: bool = True
    staging: bool = False
    aliases: tuple[str, ...] = ()
    origins: tuple[OriginConfig, ...] = ()
    origin_groups: tuple[OriginGroup, ...] = ()
    default_behavior: Behavior | None = None
    behaviors: tuple[Behavior, ...] = ()
    error_responses: tuple[ErrorResponse, ...] = ()
    logging: LegacyLogging = LegacyLogging()
    web_acl_id: str = ""

    def origin(self, origin_id: str) -> OriginConfig | None:
        return next((o for o in self.origins if o.id == origin_id), None)

    def group(self, group_id: str) -> OriginGroup | None:
        return next((g for g in self.origin_groups if g.id == group_id), None)


def _items(value: Any) -> list[Any]:
    """The `Items` of an API list ({Quantity, Items}); [] when absent."""
    if isinstance(value, Mapping):
        items = value.get("Items")
        return list(items) if isinstance(items, Sequence) and not isinstance(items, str) else []
    return []


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _float(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _origin(o: Mapping[str, Any]) -> OriginConfig:
    custom = o.get("CustomOriginConfig")
    kind = "custom"
    if isinstance(o.get("VpcOriginConfig"), Mapping) and o["VpcOriginConfig"].get("VpcOriginId"):
        kind = "vpc"
    elif not isinstance(custom, Mapping):
        kind = "s3"  # an S3OriginConfig, or an emulator that dropped it
    headers = tuple(
        CustomHeader(str(h.get("HeaderName", "")), str(h.get("HeaderValue", "")))
        for h in _items(o.get("CustomHeaders"))
        if isinstance(h, Mapping)
    )
    c: Mapping[str, Any] = custom if isinstance(custom, Mapping) else {}
    vpc = o.get("VpcOriginConfig") if isinstance(o.get("VpcOriginConfig"), Mapping) else {}
    return OriginConfig(
        id=str(o.get("Id", "")),
        domain=str(o.get("DomainName", "")).lower().rstrip("."),
        origin_path=str(o.get("OriginPath") or ""),
        custom_headers=headers,
        kind=kind,
        http_port=_int(c.get("HTTPPort"), 80),
        https_port=_int(c.get("HTTPSPort"), 443),
        protocol_policy=str(c.get("OriginProtocolPolicy") or "https-only"),
        ssl_protocols=tuple(str(p) for p in _items(c.get("OriginSslProtocols"))) or ("TLSv1.2",),
        read_timeout=_float(
            c.get("OriginReadTimeout") or (vpc or {}).get("OriginReadTimeout"), 30.0
        ),
        keepalive_timeout=_float(
            c.get("OriginKeepaliveTimeout") or (vpc or {}).get("OriginKeepaliveTimeout"), 5.0
        ),
        connection_attempts=_int(o.get("ConnectionAttempts"), 3),
        connection_timeout=_float(o.get("ConnectionTimeout"), 10.0),
        ip_address_type=_text(c.get("IpAddressType")),
        origin_access_control_id=_text(o.get("OriginAccessControlId")),
        vpc_origin_id=_text((vpc or {}).get("VpcOriginId")),
    )


def _functions(b: Mapping[str, Any]) -> tuple[EdgeFunction, ...]:
    lambdas = [
        EdgeFunction("lambda", str(f.get("LambdaFunctionARN", "")), str(f.get("EventType", "")))
        for f in _items(b.get("LambdaFunctionAssociations"))
        if isinstance(f, Mapping)
    ]
    functions = [
        EdgeFunction("cloudfront", str(f.get("FunctionARN", "")), str(f.get("EventType", "")))
        for f in _items(b.get("FunctionAssociations"))
        if isinstance(f, Mapping)
    ]
    return tuple(functions + lambdas)


def _behavior(b: Mapping[str, Any], default: bool) -> Behavior:
    forwarded = b.get("ForwardedValues") if isinstance(b.get("ForwardedValues"), Mapping) else {}
    return Behavior(
        path_pattern=None if default else str(b.get("PathPattern", "")),
        target_origin_id=str(b.get("TargetOriginId", "")),
        viewer_protocol_policy=str(b.get("ViewerProtocolPolicy") or "allow-all"),
        cache_policy_id=_text(b.get("CachePolicyId")),
        origin_request_policy_id=_text(b.get("OriginRequestPolicyId")),
        forwarded_headers=tuple(str(h) for h in _items((forwarded or {}).get("Headers"))),
        functions=_functions(b),
        allowed_methods=tuple(str(m) for m in _items(b.get("AllowedMethods"))) or ("GET", "HEAD"),
    )


def _error_response(e: Mapping[str, Any]) -> ErrorResponse:
    ttl = e.get("ErrorCachingMinTTL")
    return ErrorResponse(
        error_code=_int(e.get("ErrorCode"), 0),
        min_ttl=_int(ttl, 10) if ttl is not None else None,
        response_code=_int(e.get("ResponseCode"), 0) or None,
        page_path=_text(e.get("ResponsePagePath")),
    )


def _group(g: Mapping[str, Any]) -> OriginGroup:
    criteria = g.get("FailoverCriteria") if isinstance(g.get("FailoverCriteria"), Mapping) else {}
    return OriginGroup(
        id=str(g.get("Id", "")),
        members=tuple(
            str(m.get("OriginId", "")) for m in _items(g.get("Members")) if isinstance(m, Mapping)
        ),
        failover_statuses=tuple(_int(s, 0) for s in _items((criteria or {}).get("StatusCodes"))),
    )


def distribution_from_api(d: Mapping[str, Any]) -> Distribution:
    """A Distribution from `GetDistribution`'s `Distribution` or a `ListDistributions` item."""
    cfg: Mapping[str, Any] = d.get("DistributionConfig") or d
    logging = cfg.get("Logging") if isinstance(cfg.get("Logging"), Mapping) else {}
    default = cfg.get("DefaultCacheBehavior")
    bucket = str((logging or {}).get("Bucket") or "")
    return Distribution(
        id=str(d.get("Id", "")),
        domain=str(d.get("DomainName", "")).lower(),
        arn=str(d.get("ARN", "")),
        status=str(d.get("Status", "Deployed")),
        enabled=bool(cfg.get("Enabled", True)),
        staging=bool(cfg.get("Staging", False)),
        aliases=tuple(str(a).lower() for a in _items(cfg.get("Aliases"))),
        origins=tuple(_origin(o) for o in _items(cfg.get("Origins")) if isinstance(o, Mapping)),
        origin_groups=tuple(
            _group(g) for g in _items(cfg.get("OriginGroups")) if isinstance(g, Mapping)
        ),
        default_behavior=_behavior(default, True) if isinstance(default, Mapping) else None,
        behaviors=tuple(
            _behavior(b, False) for b in _items(cfg.get("CacheBehaviors")) if isinstance(b, Mapping)
        ),
        error_responses=tuple(
            _error_response(e)
            for e in _items(cfg.get("CustomErrorResponses"))
            if isinstance(e, Mapping)
        ),
        logging=LegacyLogging(
            enabled=bool((logging or {}).get("Enabled", False)),
            bucket=bucket.split(".s3.", 1)[0] if ".s3." in bucket else bucket,
            prefix=str((logging or {}).get("Prefix") or ""),
        ),
        web_acl_id=str(cfg.get("WebACLId") or ""),
    )
