"""The explicit registry of checks, in upstream-first order (the verdict relies on that order).

Adding a check: one class in its family module, one line here, a pass test and a broken-server test.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from cf502.checks import certificate, edge, handshake, names, ports, response
from cf502.checks.base import Check

__all__ = ["ALL_CHECKS", "BY_ID", "CONTRACT_IDS"]

# The command-line contract's stable ids, in its order.
CONTRACT_IDS: Final = (
    "dns.resolve",
    "dns.authoritative",
    "tcp.https",
    "tcp.http",
    "tls.handshake",
    "tls.cert.expiry",
    "tls.cert.hostname",
    "tls.cert.trust",
    "tls.cert.chain",
    "http.response",
    "http.headers",
    "http.latency",
    "http.redirect",
    "cloudfront.edge",
)

ALL_CHECKS: Final[tuple[Check, ...]] = (
    # DNS
    names.Resolve(),
    names.Authoritative(),
    # TCP
    ports.PortOpen("https"),
    ports.PortOpen("http"),
    # TLS
    handshake.Handshake(),
    certificate.CertExpiry(),
    certificate.CertHostname(),
    certificate.CertTrust(),
    certificate.CertChain(),
    # HTTP
    response.Response(),
    response.Headers(),
    response.Latency(),
    response.Redirect(),
    # CloudFront edge
    edge.Edge(),
)

BY_ID: Final[Mapping[str, Check]] = MappingProxyType({c.id: c for c in ALL_CHECKS})
