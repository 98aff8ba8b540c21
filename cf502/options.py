"""Command-line options shared by `cf502 check` and the Slack `/cf502` command.

The CloudFront origin options (`add_origin_options`) are accepted everywhere; the safety options
(`add_engine_options`) only where the operator runs cf502 (CLI, worker), never from Slack.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from cf502.config import SSL_PROTOCOLS, EngineSettings, OriginSettings, ProtocolPolicy
from cf502.errors import Cf502Error
from cf502.target import Target

__all__ = [
    "OptionParser",
    "UsageError",
    "add_engine_options",
    "add_origin_options",
    "engine_from_args",
    "origin_from_args",
]


class UsageError(Cf502Error):
    """Raised instead of argparse's exit: bad options get one line, not a usage dump."""


class OptionParser(argparse.ArgumentParser):
    """An ArgumentParser that raises UsageError rather than printing and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message[0].upper() + message[1:] + ".")


def _port(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds")
    return value


def _ssl_protocols(text: str) -> tuple[str, ...]:
    items = tuple(p.strip() for p in text.split(",") if p.strip())
    for p in items:
        if p not in SSL_PROTOCOLS:
            raise argparse.ArgumentTypeError(
                f"{p!r} is not an origin SSL protocol ({', '.join(SSL_PROTOCOLS)})"
            )
    return items


def add_origin_options(parser: argparse.ArgumentParser) -> None:
    """The CloudFront origin settings (defaults are CloudFront's)."""
    g = parser.add_argument_group("CloudFront origin settings")
    g.add_argument("--https-port", type=_port, metavar="N", help="origin HTTPS port (443)")
    g.add_argument("--http-port", type=_port, metavar="N", help="origin HTTP port (80)")
    g.add_argument(
        "--protocol-policy",
        choices=[p.value for p in ProtocolPolicy],
        help="CloudFront's origin protocol policy (https-only)",
    )
    g.add_argument(
        "--host-header",
        metavar="NAME",
        help="the Host header CloudFront forwards; the certificate must then match it",
    )
    g.add_argument("--path", metavar="PATH", help="request path (/)")
    g.add_argument(
        "--cloudfront-domain",
        metavar="NAME",
        help="also request through this CloudFront domain (or alternate domain) and compare",
    )
    g.add_argument(
        "--connect-timeout", type=_seconds, metavar="S", help="origin connection timeout, 1-10 (10)"
    )
    g.add_argument(
        "--connection-attempts", type=int, metavar="N", help="origin connection attempts, 1-3 (3)"
    )
    g.add_argument(
        "--read-timeout", type=_seconds, metavar="S", help="origin response timeout, 1-180 (30)"
    )
    g.add_argument(
        "--origin-ssl-protocols",
        type=_ssl_protocols,
        metavar="LIST",
        help="comma-separated origin SSL protocols CloudFront may use (TLSv1.2)",
    )
    g.add_argument(
        "--expiry-warn-days",
        type=int,
        metavar="N",
        help="warn when the certificate expires within N days (14)",
    )
    g.add_argument(
        "--only",
        action="append",
        metavar="CHECK_ID",
        help="run only this check (repeatable); prerequisites run too",
    )


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """The operator's safety settings: never offered to Slack users."""
    g = parser.add_argument_group("safety and environment (operator only)")
    g.add_argument("--resolver", metavar="IP[:PORT]", help="DNS resolver to use (system resolver)")
    g.add_argument(
        "--allow-private",
        action="store_true",
        default=None,
        help="allow loopback/private/link-local targets (blocked by default)",
    )
    g.add_argument(
        "--ca-file", metavar="PATH", help="extra trust anchors added to the Mozilla bundle"
    )
    g.add_argument(
        "--dns-port",
        type=_port,
        metavar="N",
        help="port for querying authoritative name servers directly (53)",
    )
    g.add_argument("--dns-timeout", type=_seconds, metavar="S", help="seconds per DNS query (5)")


def origin_from_args(target: Target, args: argparse.Namespace) -> OriginSettings:
    """OriginSettings from parsed options; a typed URL fills ports/policy/path not given."""
    return OriginSettings.for_target(
        target,
        https_port=args.https_port,
        http_port=args.http_port,
        protocol_policy=args.protocol_policy,
        host_header=args.host_header,
        path=args.path,
        cloudfront_domain=args.cloudfront_domain,
        connect_timeout=args.connect_timeout,
        connection_attempts=args.connection_attempts,
        read_timeout=args.read_timeout,
        ssl_protocols=args.origin_ssl_protocols,
        expiry_warn_days=args.expiry_warn_days,
    )


def engine_from_args(
    args: argparse.Namespace, base: EngineSettings | None = None
) -> EngineSettings:
    """EngineSettings from the operator's options over `base` (defaults, or the environment's)."""
    base = base or EngineSettings()
    changes: dict[str, Any] = {}
    for name in ("resolver", "ca_file", "dns_port", "dns_timeout", "allow_private"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    if changes.get("ca_file"):
        import os

        path = changes["ca_file"]
        if not os.path.isfile(path):
            raise UsageError(f"CA file {path!r} does not exist.")
    from dataclasses import replace

    return replace(base, **changes)
