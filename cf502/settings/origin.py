"""The CloudFront origin configuration a diagnosis reproduces, and its declarations.

Anyone who asks for a diagnosis may set these (the CLI, Slack, a job); they travel in jobs, so
`OriginSettings` checks CloudFront's ranges itself, whatever built it. The options' parsers only
read the text; the ranges are checked here, once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from cf502.errors import InvalidSetting, InvalidTarget
from cf502.settings.spec import Setting, boolean, optional, port, seconds, text, whole
from cf502.target import Target, check_port, normalise_hostname

__all__ = [
    "IP_ADDRESS_TYPES",
    "ORIGIN",
    "REDACTED",
    "SSL_PROTOCOLS",
    "CustomHeader",
    "OriginSettings",
    "ProtocolPolicy",
]

# CloudFront's OriginSslProtocols values (API reference). TLS 1.3 is not among them.
SSL_PROTOCOLS = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2")
CONNECT_TIMEOUT_RANGE = (1.0, 10.0)
CONNECTION_ATTEMPTS_RANGE = (1, 3)
# 1-120 s is the documented range; 180 s is reachable with a quota increase.
READ_TIMEOUT_RANGE = (1.0, 180.0)
# The keep-alive timeout has the same documented range and quota-raised maximum.
KEEPALIVE_TIMEOUT_RANGE = (1.0, 180.0)
# CloudFront's origin IpAddressType values.
IP_ADDRESS_TYPES = ("ipv4", "ipv6", "dualstack")
# What a custom header's value is shown as: the values are often the origin's shared secret.
REDACTED = "(redacted)"
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


def _policy_text(v: str) -> ProtocolPolicy:
    try:
        return ProtocolPolicy(v)
    except ValueError:
        choices = ", ".join(p.value for p in ProtocolPolicy)
        raise ValueError(f"is not one of {choices}") from None


def _ssl_protocols(v: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in v.split(",") if p.strip())


HTTPS_PORT = Setting(
    "https_port", "Origin HTTPS port.", port, "443", flag="--https-port", metavar="N"
)
HTTP_PORT = Setting("http_port", "Origin HTTP port.", port, "80", flag="--http-port", metavar="N")
PROTOCOL_POLICY = Setting(
    "protocol_policy",
    "CloudFront's origin protocol policy.",
    _policy_text,
    "https-only",
    flag="--protocol-policy",
    choices=tuple(p.value for p in ProtocolPolicy),
)
HOST_HEADER = Setting(
    "host_header",
    "The Host header CloudFront forwards; the certificate must then match it.",
    optional(text),
    flag="--host-header",
    metavar="NAME",
)
PATH = Setting("path", "Request path.", text, "/", flag="--path", metavar="PATH")
CLOUDFRONT_DOMAIN = Setting(
    "cloudfront_domain",
    "Also request through this CloudFront domain (or alternate domain) and compare.",
    optional(text),
    flag="--cloudfront-domain",
    metavar="NAME",
)
ORIGIN_NAME = Setting(
    "origin",
    "Diagnose NAME as the origin of the CloudFront site TARGET, request TARGET as a viewer "
    "does, and compare.",
    optional(text),
    flag="--origin",
    metavar="NAME",
)
"""Not an origin setting: it says which name is the origin (see `cf502.options.diagnosis_of`)."""
CONNECT_TIMEOUT = Setting(
    "connect_timeout",
    "Origin connection timeout, 1-10.",
    seconds(),
    "10",
    flag="--connect-timeout",
    metavar="S",
)
CONNECTION_ATTEMPTS = Setting(
    "connection_attempts",
    "Origin connection attempts, 1-3.",
    whole(),
    "3",
    flag="--connection-attempts",
    metavar="N",
)
READ_TIMEOUT = Setting(
    "read_timeout",
    "Origin response timeout, 1-180.",
    seconds(),
    "30",
    flag="--read-timeout",
    metavar="S",
)
SSL_PROTOCOLS_SETTING = Setting(
    "ssl_protocols",
    "Comma-separated origin SSL protocols CloudFront may use.",
    _ssl_protocols,
    "TLSv1.2",
    flag="--origin-ssl-protocols",
    metavar="LIST",
)
EXPIRY_WARN_DAYS = Setting(
    "expiry_warn_days",
    "Warn when the certificate expires within N days.",
    whole(),
    "14",
    flag="--expiry-warn-days",
    metavar="N",
)
ORIGIN_MTLS = Setting(
    "origin_mtls",
    "The distribution presents a client certificate to this origin (origin mutual TLS).",
    boolean,
    flag="--origin-mtls",
)
# In `--help` order. Their ranges are CloudFront's, checked by OriginSettings itself.
ORIGIN = (
    HTTPS_PORT,
    HTTP_PORT,
    PROTOCOL_POLICY,
    HOST_HEADER,
    PATH,
    CLOUDFRONT_DOMAIN,
    ORIGIN_NAME,
    CONNECT_TIMEOUT,
    CONNECTION_ATTEMPTS,
    READ_TIMEOUT,
    SSL_PROTOCOLS_SETTING,
    ORIGIN_MTLS,
    EXPIRY_WARN_DAYS,
)


@dataclass(frozen=True)
class CustomHeader:
    """A header CloudFront adds to every origin request (the distribution's `CustomHeaders`).

    The value stays out of `repr` and of `OriginSettings.to_dict()` unless revealed: it is often
    the secret an origin or load balancer rule checks.
    """

    name: str
    value: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.name or not all(33 <= ord(c) < 127 and c != ":" for c in self.name):
            raise InvalidSetting(f"custom header name {self.name[:40]!r} is not a header name.")
        if any(c in "\r\n\0" for c in self.value) or len(self.value) > 1783:
            raise InvalidSetting(f"custom header {self.name} has a value CloudFront would refuse.")


def _in_range(name: str, value: float, bounds: tuple[float, float], unit: str = " s") -> None:
    lo, hi = bounds
    if not lo <= value <= hi:
        raise InvalidSetting(
            f"{name} {value:g}{unit} is outside CloudFront's range {lo:g}-{hi:g}{unit}."
        )


@dataclass(frozen=True)
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
        origin_mtls: CloudFront presents a client certificate to the origin (origin mTLS), so
            an origin that asks for one is not refused.
        expiry_warn_days: warn when the certificate expires within this many days.
        method: request method.
        keepalive_timeout: CloudFront's origin keep-alive timeout in seconds (5 by default).
        ip_address_type: the address family CloudFront uses to reach the origin (ipv4, ipv6,
            dualstack); None when not given.
        custom_headers: headers CloudFront adds to every origin request (values redacted when
            shown).

    The last three come from a distribution's configuration; `to_dict` leaves them out at their
    defaults, so a report without them reads as before.
    """

    https_port: int = HTTPS_PORT.initial
    http_port: int = HTTP_PORT.initial
    protocol_policy: ProtocolPolicy = PROTOCOL_POLICY.initial
    host_header: str | None = HOST_HEADER.initial
    path: str = PATH.initial
    connect_timeout: float = CONNECT_TIMEOUT.initial
    connection_attempts: int = CONNECTION_ATTEMPTS.initial
    read_timeout: float = READ_TIMEOUT.initial
    ssl_protocols: tuple[str, ...] = SSL_PROTOCOLS_SETTING.initial
    cloudfront_domain: str | None = CLOUDFRONT_DOMAIN.initial
    origin_mtls: bool = ORIGIN_MTLS.initial
    expiry_warn_days: int = EXPIRY_WARN_DAYS.initial
    method: str = "GET"
    keepalive_timeout: float = 5.0
    ip_address_type: str | None = None
    custom_headers: tuple[CustomHeader, ...] = ()

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
        if not isinstance(self.origin_mtls, bool):  # jobs arrive as JSON
            raise InvalidSetting("origin mTLS must be true or false.")
        if not 0 <= self.expiry_warn_days <= 3650:
            raise InvalidSetting("the expiry warning window must be 0-3650 days.")
        _in_range("keep-alive timeout", self.keepalive_timeout, KEEPALIVE_TIMEOUT_RANGE)
        if self.ip_address_type is not None and self.ip_address_type not in IP_ADDRESS_TYPES:
            raise InvalidSetting(
                f"IP address type {self.ip_address_type!r} is not one of "
                f"{', '.join(IP_ADDRESS_TYPES)}."
            )
        if len(self.custom_headers) > 10:  # CloudFront's quota is 10 custom headers per origin
            raise InvalidSetting("an origin has at most 10 custom headers.")

    @property
    def sni(self) -> str | None:
        """The forwarded Host header, when set, is also what CloudFront sends as SNI."""
        return self.host_header

    def to_dict(self, *, reveal: bool = False) -> dict[str, Any]:
        """JSON-ready settings; custom header values are redacted unless `reveal` (only for a
        process that sends them itself, never for what is shown or stored in a report)."""
        d = asdict(self)
        if not self.origin_mtls:  # left out at its default, so reports read as before
            del d["origin_mtls"]
        d["protocol_policy"] = self.protocol_policy.value
        d["ssl_protocols"] = list(self.ssl_protocols)
        d["custom_headers"] = [
            {"name": h.name, "value": h.value if reveal else REDACTED} for h in self.custom_headers
        ]
        for name in ("keepalive_timeout", "ip_address_type", "custom_headers"):
            if getattr(self, name) == _DEFAULTS[name]:
                del d[name]
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
            if "custom_headers" in kwargs:
                kwargs["custom_headers"] = tuple(
                    CustomHeader(str(h["name"]), str(h["value"])) for h in kwargs["custom_headers"]
                )
            return cls(**kwargs)
        except (TypeError, KeyError) as exc:  # wrong types from a JSON job
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
            policy = opts.get("protocol_policy", PROTOCOL_POLICY.initial)
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


_DEFAULTS: dict[str, Any] = {
    "keepalive_timeout": 5.0,
    "ip_address_type": None,
    "custom_headers": (),
}


def _policy(value: Any) -> ProtocolPolicy:
    try:
        return _policy_text(str(value))
    except ValueError as exc:
        raise InvalidSetting(f"protocol policy {value!r} {exc}.") from None
