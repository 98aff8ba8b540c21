"""The explicit registry of the checks (imported on first use through `cf502.checks`).

`ALL_CHECKS` is in upstream-first order (the verdict breaks ties with it). Adding a check: one
class in its family module, one line here, a pass test and a broken-server test.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from cf502.checks import cloudfront, tcp
from cf502.checks.base import Check
from cf502.checks.dns import authoritative, resolve
from cf502.checks.http import headers, latency, redirect, response
from cf502.checks.tls import cert, handshake

__all__ = ["ALL_CHECKS", "BY_ID", "CHECK_IDS"]

ALL_CHECKS: Final[tuple[Check, ...]] = (
    # DNS
    resolve.Resolve(),
    authoritative.Authoritative(),
    # TCP
    tcp.PortOpen("https"),
    tcp.PortOpen("http"),
    # TLS
    handshake.Handshake(),
    cert.CertExpiry(),
    cert.CertHostname(),
    cert.CertTrust(),
    cert.CertChain(),
    # HTTP
    response.Response(),
    headers.Headers(),
    latency.Latency(),
    redirect.Redirect(),
    # CloudFront edge
    cloudfront.Edge(),
)

CHECK_IDS: Final[tuple[str, ...]] = tuple(c.id for c in ALL_CHECKS)
"""Every check id, in the registry's (upstream-first) order: the contract's list."""

BY_ID: Final[Mapping[str, Check]] = MappingProxyType({c.id: c for c in ALL_CHECKS})
