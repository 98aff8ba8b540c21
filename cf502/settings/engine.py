"""The operator's safety and environment settings, and their declarations.

Only whoever runs cf502 (the CLI user, the worker's or the bot's operator) sets these, by option or
environment variable; a job can never loosen them (see `EngineSettings.restrict`). The bot and the
worker read the same variables with the same parsers (`cf502.settings.from_environ`), so they
accept and refuse the same values with the same messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from cf502.errors import TargetNotAllowed
from cf502.settings.origin import (
    CONNECT_TIMEOUT_RANGE,
    READ_TIMEOUT_RANGE,
    OriginSettings,
)
from cf502.settings.spec import (
    Setting,
    boolean,
    ca_file,
    from_environ,
    optional,
    parse_resolver,
    port,
    resolver,
    seconds,
)

__all__ = ["BOUNDS", "ENGINE", "SAFETY", "EngineSettings"]

RESOLVER = Setting(
    "resolver",
    "DNS resolver IP[:PORT]; empty: the system's.",
    optional(resolver),
    name="CF502_RESOLVER",
    flag="--resolver",
    metavar="IP[:PORT]",
    operator_only=True,
)
CA_FILE = Setting(
    "ca_file",
    "Extra trust anchors (PEM) added to Mozilla's.",
    optional(ca_file),
    name="CF502_CA_FILE",
    flag="--ca-file",
    metavar="PATH",
    operator_only=True,
)
ALLOW_PRIVATE = Setting(
    "allow_private",
    "Allow loopback/private targets (on-prem, tests).",
    boolean,
    "false",
    name="CF502_ALLOW_PRIVATE",
    flag="--allow-private",
    operator_only=True,
    job_request=True,  # a job may ask; a worker not configured for it refuses the job
)
DNS_PORT = Setting(
    "dns_port",
    "Port for direct authoritative DNS queries.",
    port,
    "53",
    name="CF502_DNS_PORT",
    flag="--dns-port",
    metavar="N",
    operator_only=True,
)
DNS_TIMEOUT = Setting(
    "dns_timeout",
    "Seconds per DNS query.",
    seconds(0.1, 60),
    "5",
    name="CF502_DNS_TIMEOUT",
    flag="--dns-timeout",
    metavar="S",
    operator_only=True,
)
MAX_CONNECT_TIMEOUT = Setting(
    "max_connect_timeout",
    "Upper bound in seconds on a request's connection timeout.",
    seconds(*CONNECT_TIMEOUT_RANGE),
    "10",
    name="CF502_MAX_CONNECT_TIMEOUT",
    flag="--max-connect-timeout",
    metavar="S",
    operator_only=True,
)
MAX_READ_TIMEOUT = Setting(
    "max_read_timeout",
    "Upper bound in seconds on a request's response timeout.",
    seconds(*READ_TIMEOUT_RANGE),
    "180",
    name="CF502_MAX_READ_TIMEOUT",
    flag="--max-read-timeout",
    metavar="S",
    operator_only=True,
)
# `cf502 check` offers the safety options; the bounds only matter where others' jobs run.
SAFETY = (RESOLVER, CA_FILE, ALLOW_PRIVATE, DNS_PORT, DNS_TIMEOUT)
BOUNDS = (MAX_CONNECT_TIMEOUT, MAX_READ_TIMEOUT)
ENGINE = SAFETY + BOUNDS


@dataclass(frozen=True)
class EngineSettings:
    """The operator's safety and environment settings; jobs cannot loosen them.

    Built from the declarations above (parsed and checked there) or by code (tests).

    Attributes:
        allow_private: connect to loopback/private/link-local targets (on-prem use, tests).
        resolver: "IP" or "IP:PORT" of the recursive resolver; None means the system resolver.
        ca_file: extra trust anchors (PEM) added to the Mozilla bundle.
        dns_port: port used when querying authoritative name servers directly (53 outside tests).
        dns_timeout: seconds per DNS query.
        max_connect_timeout / max_read_timeout: upper bounds applied to jobs' timeouts.
        max_concurrency: most checks of one diagnosis running at once.
        edge_port: HTTPS port of the CloudFront domain for `cloudfront.edge` (443 outside tests;
            a test knob, never set by a job).
    """

    allow_private: bool = ALLOW_PRIVATE.initial
    resolver: str | None = RESOLVER.initial
    ca_file: str | None = CA_FILE.initial
    dns_port: int = DNS_PORT.initial
    dns_timeout: float = DNS_TIMEOUT.initial
    max_connect_timeout: float = MAX_CONNECT_TIMEOUT.initial
    max_read_timeout: float = MAX_READ_TIMEOUT.initial
    max_concurrency: int = 32
    edge_port: int = 443

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> EngineSettings:
        """The operator's settings from the `CF502_*` variables, parsed as the bot parses them.

        Raises ConfigError naming the first malformed variable in one line.
        """
        return cls(**from_environ(ENGINE, environ))

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
        if allow_private is None:
            return self
        if allow_private and not self.allow_private:
            raise TargetNotAllowed(
                "this worker is not configured to allow private targets; the request asked for "
                "--allow-private, which only the worker's operator can enable."
            )
        return replace(self, allow_private=allow_private and self.allow_private)
