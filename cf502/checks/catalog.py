"""What fails each check, in one line, for `cf502 check --help` and the README. Pure data.

The help must not load the checks themselves (they pull in the TLS and HTTP libraries, see
`cf502.checks`), so their ids are listed here too; tests/test_help.py holds this list to the
registry's ids and order, and the README's table to this list.
"""

from __future__ import annotations

from typing import Final

__all__ = ["CATALOG"]

CATALOG: Final[tuple[tuple[str, str], ...]] = (
    ("dns.resolve", "the name does not resolve (NXDOMAIN, SERVFAIL, no address)"),
    ("dns.authoritative", "a name server of the zone is silent, lame or disagrees"),
    ("tcp.https", "the HTTPS port refuses (502) or drops (504) connections"),
    ("tcp.http", "the same for the HTTP port (http-only, match-viewer)"),
    ("tls.handshake", "no handshake with CloudFront's protocols, ciphers and SNI"),
    ("tls.cert.expiry", "certificate expired or not yet valid (warns before expiry)"),
    ("tls.cert.hostname", "the certificate names neither the origin nor the Host sent"),
    ("tls.cert.trust", "the chain does not reach a Mozilla-trusted root"),
    ("tls.cert.chain", "intermediates missing or served in the wrong order"),
    ("http.response", "malformed, truncated or invalid HTTP, or the origin's 5xx"),
    ("http.headers", "response headers over CloudFront's 20,480-byte limit"),
    ("http.latency", "first byte or headers later than the response timeout"),
    ("http.redirect", "a redirect loop with the origin protocol policy"),
    ("cloudfront.edge", "a request through CloudFront fails (Error from cloudfront)"),
)
