"""Settings a diagnosis runs with. Pure data plus validation against CloudFront's ranges.

Two kinds, deliberately apart:

* `OriginSettings`: the CloudFront origin configuration to reproduce (ports, protocol policy, Host
  header, path, timeouts). Anyone who asks for a diagnosis may set these; they travel in jobs.
* `EngineSettings`: the operator's safety and environment (allow-private, resolver, CA file, upper
  bounds on timeouts). Only the operator of the CLI, worker or bot sets these; a job can never loosen
  them (see `EngineSettings.restrict`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from cf502.errors import InvalidSetting, InvalidTarget
from cf502.target import Target, check_port, normalise_hostname

__all__ = [
    "SSL_PROTOCOLS",
    "EngineSettings",
    "OriginSettings",
    "ProtocolPolicy",
    "parse_resolver",
]

# CloudFront's OriginSslProtocols values (API reference). TLS 1.3 is not among them.
SSL_PROTOCOLS = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2")
CONNECT_TIMEOUT_RANGE = (1.0, 10.0)
CONNECTION_ATTEMPTS_RANGE = (1, 3)
# 1-120 s is the documented range; 180 s is reachable with a quota increase.
READ_TIMEOUT_RANGE = (1.0, 180.0)
# Everything printable in ASCII but space and '#' stays as typed (incl. existing %XX escapes).
_PATH_SAFE = "".join(chr(c) for c in range(33, 127) if chr(c) != "#")


class ProtocolPolicy(StrEnum):
    """CloudFront's origin protocol policy."""

    HTTPS_ONLY = "https-only"
    HTTP_ONLY = "http-only"
    MATCH_VIEWER = "match-viewer"

    @property
    def uses_https(self) -> bool:
        return self is not ProtocolPolicy.HTTP_ONLY

    @property
    def uses_http(self) -> bool:
        return self is not ProtocolPolicy.HTTPS_ONLY


def _in_range(name: str, value: float, bounds: tuple[float, float], unit: str = " s") -> None:
    lo, hi = bounds
    if not lo <= value <= hi:
        raise InvalidSetting(
            f"{name} {value:g}{unit} is outside CloudFront's range {lo:g}-{hi:g}{unit}."
        )


@dataclass(frozen=True, slots=True)
class OriginSettings:
    """The CloudFront origin configuration a diagnosis reproduces (CloudFront's defaults).

    Attributes:
        https_port / http_port: origin ports (80, 443 or 1024-65535).
        protocol_policy: https-only (default), http-only or match-viewer.
        host_header: the Host header CloudFront forwards when Host is forwarded; None means the
            origin domain name is sent (and is the TLS SNI).
        path: request path (and query).
        connect_timeout: seconds per connection attempt, 1-10.
        connection_attempts: 1-3; CloudFront gives up after timeout x attempts.
        read_timeout: origin response timeout in seconds.
        ssl_protocols: the origin SSL protocols CloudFront may use.
        cloudfront_domain: also request through this CloudFront domain, when set.
        expiry_warn_days: warn when the certificate expires within this many days.
        method: request method.
    """

    https_port: int = 443
    http_port: int = 80
    protocol_policy: ProtocolPolicy = ProtocolPolicy.HTTPS_ONLY
    host_header: str | None = None
    path: str = "/"
    connect_timeout: float = 10.0
    connection_attempts: int = 3
    read_timeout: float = 30.0
    ssl_protocols: tuple[str, ...] = ("TLSv1.2",)
    cloudfront_domain: str | None = None
    expiry_warn_days: int = 14
    method: str = "GET"

    def __post_init__(self) -> None:
        check_port(self.https_port, "HTTPS port")
        check_port(self.http_port, "HTTP port")
        _in_range("connection timeout", self.connect_timeout, CONNECT_TIMEOUT_RANGE)
        lo, hi = CONNECTION_ATTEMPTS_RANGE
        if not lo <= self.connection_attempts <= hi:
            raise InvalidSetting(
                f"connection attempts {self.connection_attempts} is outside CloudFront's range "
                f"{lo}-{hi}."
            )
        _in_range("response timeout", self.read_timeout, READ_TIMEOUT_RANGE)
        if not self.ssl_protocols:
            raise InvalidSetting("origin SSL protocols must name at least one protocol.")
        for proto in self.ssl_protocols:
            if proto not in SSL_PROTOCOLS:
                raise InvalidSetting(
                    f"origin SSL protocol {proto!r} is not one CloudFront offers "
                    f"(choose from {', '.join(SSL_PROTOCOLS)}; TLS 1.3 is not used to origins)."
                )
        if not self.path.startswith("/") or any(c.isspace() for c in self.path):
            raise InvalidSetting(f"path {self.path!r} must start with / and contain no spaces.")
        if not self.path.isascii() or not self.path.isprintable():
            raise InvalidSetting(
                f"path {self.path!r} must be percent-encoded ASCII, as CloudFront forwards it."
            )
        if len(self.path) > 8192:
            raise InvalidSetting("path is longer than CloudFront's 8,192-byte URL limit.")
        if self.method not in ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"):
            raise InvalidSetting(f"method {self.method!r} is not one CloudFront forwards.")
        if not 0 <= self.expiry_warn_days <= 3650:
            raise InvalidSetting("the expiry warning window must be 0-3650 days.")

    @property
    def sni(self) -> str | None:
        """The forwarded Host header, when set, is also what CloudFront sends as SNI."""
        return self.host_header

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["protocol_policy"] = self.protocol_policy.value
        d["ssl_protocols"] = list(self.ssl_protocols)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OriginSettings:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise InvalidSetting(f"unknown origin setting(s): {', '.join(sorted(unknown))}.")
        kwargs = dict(d)
        if "protocol_policy" in kwargs:
            kwargs["protocol_policy"] = _policy(kwargs["protocol_policy"])
        if "ssl_protocols" in kwargs:
            kwargs["ssl_protocols"] = tuple(kwargs["ssl_protocols"])
        try:
            return cls(**kwargs)
        except TypeError as exc:  # wrong types from a JSON job
            raise InvalidSetting(f"malformed origin settings: {exc}.") from None

    @classmethod
    def for_target(cls, target: Target, **options: Any) -> OriginSettings:
        """Settings from explicit options, filling ports/policy/path from a typed URL.

        Options given as None are treated as not given. An explicit option wins over the URL.
        """
        opts = {k: v for k, v in options.items() if v is not None}
        if "protocol_policy" in opts:
            opts["protocol_policy"] = _policy(opts["protocol_policy"])
        elif target.scheme == "http":
            opts["protocol_policy"] = ProtocolPolicy.HTTP_ONLY
        if target.port is not None:
            policy = opts.get("protocol_policy", ProtocolPolicy.HTTPS_ONLY)
            key = "http_port" if policy is ProtocolPolicy.HTTP_ONLY else "https_port"
            if target.scheme == "http":
                key = "http_port"
            opts.setdefault(key, target.port)
        if target.path is not None:
            opts.setdefault("path", target.path)
        if "path" in opts:
            # Browsers send non-ASCII paths percent-encoded as UTF-8, and so CloudFront forwards them.
            opts["path"] = quote(str(opts["path"]), safe=_PATH_SAFE)
        for name in ("host_header", "cloudfront_domain"):
            if name in opts:
                try:
                    opts[name] = normalise_hostname(str(opts[name]))
                except InvalidTarget as exc:
                    raise InvalidSetting(f"{name.replace('_', ' ')}: {exc}") from None
        if "ssl_protocols" in opts:
            opts["ssl_protocols"] = tuple(opts["ssl_protocols"])
        return cls(**opts)


def _policy(value: Any) -> ProtocolPolicy:
    try:
        return ProtocolPolicy(str(value))
    except ValueError:
        choices = ", ".join(p.value for p in ProtocolPolicy)
        raise InvalidSetting(f"protocol policy {value!r} is not one of {choices}.") from None


def parse_resolver(text: str) -> tuple[str, int]:
    """Parse `IP`, `IP:PORT` or `[IPv6]:PORT` into (ip, port)."""
    raw = text.strip()
    host, port = raw, 53
    if raw.startswith("["):
        host, _, rest = raw[1:].partition("]")
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise InvalidSetting(f"resolver {raw!r} is not IP or IP:PORT.")
            port = int(rest[1:])
    elif raw.count(":") == 1:
        host, _, port_text = raw.partition(":")
        if not port_text.isdigit():
            raise InvalidSetting(f"resolver {raw!r} is not IP or IP:PORT.")
        port = int(port_text)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise InvalidSetting(
            f"resolver {raw!r} must be an IP address (optionally :PORT)."
        ) from None
    if not 1 <= port <= 65535:
        raise InvalidSetting(f"resolver port {port} is out of range.")
    return str(ip), port


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """The operator's safety and environment settings; jobs cannot loosen them.

    Attributes:
        allow_private: connect to loopback/private/link-local targets (on-prem use, tests).
        resolver: "IP" or "IP:PORT" of the recursive resolver; None means the system resolver.
        ca_file: extra trust anchors (PEM) added to the Mozilla bundle.
        dns_port: port used when querying authoritative name servers directly (53 outside tests).
        dns_timeout: seconds per DNS query.
        max_connect_timeout / max_read_timeout: upper bounds applied to jobs' timeouts.
        max_concurrency: most checks of one diagnosis running at once.
        edge_port: HTTPS port of the CloudFront domain for `cloudfront.edge` (443 outside tests;
            a test or operator knob, never set by a job).
    """

    allow_private: bool = False
    resolver: str | None = None
    ca_file: str | None = None
    dns_port: int = 53
    dns_timeout: float = 5.0
    max_connect_timeout: float = 10.0
    max_read_timeout: float = 180.0
    max_concurrency: int = 32
    extra: dict[str, str] = field(default_factory=dict)
    edge_port: int = 443

    def __post_init__(self) -> None:
        if self.resolver is not None:
            parse_resolver(self.resolver)
        if not 1 <= self.dns_port <= 65535:
            raise InvalidSetting(f"DNS port {self.dns_port} is out of range.")
        if not 0.1 <= self.dns_timeout <= 60:
            raise InvalidSetting("DNS timeout must be between 0.1 and 60 seconds.")
        if not 1 <= self.edge_port <= 65535:
            raise InvalidSetting(f"edge port {self.edge_port} is out of range.")

    @property
    def resolver_address(self) -> tuple[str, int] | None:
        return parse_resolver(self.resolver) if self.resolver else None

    def bound(self, origin: OriginSettings) -> OriginSettings:
        """Clamp a job's timeouts to this operator's upper bounds (never raises them)."""
        return replace(
            origin,
            connect_timeout=min(origin.connect_timeout, self.max_connect_timeout),
            read_timeout=min(origin.read_timeout, self.max_read_timeout),
        )

    def restrict(self, *, allow_private: bool | None = None) -> EngineSettings:
        """Apply a job's safety request: it may only make things stricter.

        Raises TargetNotAllowed when the job asks for more than this operator allows.
        """
        from cf502.errors import TargetNotAllowed

        if allow_private is None:
            return self
        if allow_private and not self.allow_private:
            raise TargetNotAllowed(
                "this worker is not configured to allow private targets; the request asked for "
                "--allow-private, which only the worker's operator can enable."
            )
        return replace(self, allow_private=allow_private and self.allow_private)
