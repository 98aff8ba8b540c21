"""CloudFront's TLS offer to a custom origin, as constants and ready-made client contexts.

Facts (cloudfront-facts.md §1): protocols from the origin's "SSL protocols" setting (never TLS 1.3),
exactly 16 cipher suites in CloudFront's order, the curves X25519/P-256/P-384 and signature schemes
without RSA-PSS. OpenSSL 3's default security level silently drops some of these suites (SHA-1 MACs,
static RSA), so every cipher string ends with ``@SECLEVEL=0`` to make the offer really CloudFront's.
"""

from __future__ import annotations

import ssl
import warnings
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Final

from OpenSSL import SSL

from cf502.settings import OriginSettings

__all__ = [
    "CLOUDFRONT_CIPHERS",
    "CLOUDFRONT_CIPHER_CODES",
    "CLOUDFRONT_GROUPS",
    "CLOUDFRONT_SIGALGS",
    "LEGACY_CIPHERS",
    "OfferUnavailable",
    "cipher_string",
    "cloudfront_ssl_context",
    "openssl_version_flags",
    "pyopenssl_context",
]

# cloudfront-facts.md §1.2, in CloudFront's order (the order a client offers is its preference).
CLOUDFRONT_CIPHERS: Final = (
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA",
    "AES256-SHA",
    "AES128-SHA",
    "DES-CBC3-SHA",
    "RC4-MD5",
)

# IANA code points of the same suites (RFC names in the facts file), for the raw ClientHello probe.
CLOUDFRONT_CIPHER_CODES: Final[dict[str, int]] = {
    "ECDHE-ECDSA-AES256-GCM-SHA384": 0xC02C,
    "ECDHE-ECDSA-AES256-SHA384": 0xC024,
    "ECDHE-ECDSA-AES256-SHA": 0xC00A,
    "ECDHE-ECDSA-AES128-GCM-SHA256": 0xC02B,
    "ECDHE-ECDSA-AES128-SHA256": 0xC023,
    "ECDHE-ECDSA-AES128-SHA": 0xC009,
    "ECDHE-RSA-AES256-GCM-SHA384": 0xC030,
    "ECDHE-RSA-AES256-SHA384": 0xC028,
    "ECDHE-RSA-AES256-SHA": 0xC014,
    "ECDHE-RSA-AES128-GCM-SHA256": 0xC02F,
    "ECDHE-RSA-AES128-SHA256": 0xC027,
    "ECDHE-RSA-AES128-SHA": 0xC013,
    "AES256-SHA": 0x0035,
    "AES128-SHA": 0x002F,
    "DES-CBC3-SHA": 0x000A,
    "RC4-MD5": 0x0004,
}

# Suites CloudFront still offers but modern OpenSSL builds no longer implement at all.
LEGACY_CIPHERS: Final = ("DES-CBC3-SHA", "RC4-MD5")

CLOUDFRONT_GROUPS: Final = ("X25519", "P-256", "P-384")

# CloudFront's signature schemes to origins: no RSA-PSS.
CLOUDFRONT_SIGALGS: Final = (
    "RSA+SHA256",
    "RSA+SHA384",
    "RSA+SHA512",
    "RSA+SHA224",
    "ECDSA+SHA256",
    "ECDSA+SHA384",
    "ECDSA+SHA512",
    "ECDSA+SHA224",
    "RSA+SHA1",
    "ECDSA+SHA1",
)

# CloudFront's protocol names, oldest first, with the matching versions of both TLS libraries.
_ORDER: Final = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2")
_STDLIB: Final = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
}
_PYOPENSSL: Final = {  # in order; TLSv1.3 only for follow-up probes, never CloudFront's offer
    "TLSv1": SSL.TLS1_VERSION,
    "TLSv1.1": SSL.TLS1_1_VERSION,
    "TLSv1.2": SSL.TLS1_2_VERSION,
    "TLSv1.3": SSL.TLS1_3_VERSION,
}
_PYOPENSSL_NO: Final = {
    "TLSv1": SSL.OP_NO_TLSv1,
    "TLSv1.1": SSL.OP_NO_TLSv1_1,
    "TLSv1.2": SSL.OP_NO_TLSv1_2,
    "TLSv1.3": SSL.OP_NO_TLSv1_3,
}
_S_CLIENT: Final = {"TLSv1": "-tls1", "TLSv1.1": "-tls1_1", "TLSv1.2": "-tls1_2"}
_S_CLIENT_NO: Final = {"TLSv1": "-no_tls1", "TLSv1.1": "-no_tls1_1", "TLSv1.2": "-no_tls1_2"}


class OfferUnavailable(Exception):
    """Raised when this machine's OpenSSL cannot make the offer asked for (e.g. SSLv3 only)."""


def cipher_string(ciphers: Iterable[str] = CLOUDFRONT_CIPHERS) -> str:
    """An OpenSSL cipher string that keeps the given order and every suite the build still has."""
    return ":".join(ciphers) + ":@SECLEVEL=0"


def _usable(protocols: Sequence[str]) -> list[str]:
    """CloudFront's protocols this machine can offer, oldest first (SSLv3 is gone from OpenSSL)."""
    usable: list[str] = [p for p in _ORDER if p in protocols and p in _STDLIB]
    if not usable:
        raise OfferUnavailable(
            f"this machine's OpenSSL cannot offer {', '.join(protocols)} "
            "(SSLv3 was removed from OpenSSL), so CloudFront's handshake cannot be reproduced."
        )
    return usable


def cloudfront_ssl_context(origin: OriginSettings) -> ssl.SSLContext:
    """A stdlib client context with CloudFront's offer for `origin`'s protocols (shared, read-only)."""
    return _stdlib_context(tuple(origin.ssl_protocols))


# Contexts are immutable once built and safe to share between connections: building one costs
# ~0.7 ms of CPU (SSL_CTX_new loads OpenSSL's defaults), which was a tenth of a healthy diagnosis.
@lru_cache(maxsize=16)
def _stdlib_context(protocols: tuple[str, ...]) -> ssl.SSLContext:
    """A stdlib client context with CloudFront's protocols and cipher suites, verifying nothing.

    Verification is left to the `tls.cert.*` checks, which explain each failure. Limits: stdlib `ssl`
    cannot set several curves or the signature schemes, so OpenSSL's defaults (a superset of
    CloudFront's curves) are offered; a gap in the protocols (TLSv1 + TLSv1.2) becomes the range.
    Raises OfferUnavailable when none of the protocols can be offered.
    """
    usable = _usable(protocols)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated, but CloudFront may use them
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = _STDLIB[usable[0]]
        ctx.maximum_version = _STDLIB[usable[-1]]
    ctx.set_ciphers(cipher_string())
    return ctx


def _set_groups_and_sigalgs(
    ctx: SSL.Context, groups: Sequence[str], sigalgs: Sequence[str]
) -> None:
    """Curves and signature schemes through pyOpenSSL's binding (it has no public API for them).

    Best effort: if the binding lacks these functions OpenSSL's defaults stay, which only widen
    the offer.
    """
    lib = getattr(SSL, "_lib", None)
    raw = getattr(ctx, "_context", None)
    if lib is None or raw is None:
        return
    set_curves = getattr(lib, "SSL_CTX_set1_curves_list", None)
    if set_curves is not None and groups:
        set_curves(raw, ":".join(groups).encode())
    set_sigalgs = getattr(lib, "SSL_CTX_set1_sigalgs_list", None)
    if set_sigalgs is not None and sigalgs:
        set_sigalgs(raw, ":".join(sigalgs).encode())


def pyopenssl_context(
    protocols: Sequence[str],
    ciphers: Sequence[str] = CLOUDFRONT_CIPHERS,
    *,
    groups: Sequence[str] = CLOUDFRONT_GROUPS,
    sigalgs: Sequence[str] = CLOUDFRONT_SIGALGS,
) -> SSL.Context:
    """A shared, read-only pyOpenSSL client context making CloudFront's offer (or a variant)."""
    return _pyopenssl_context(tuple(protocols), tuple(ciphers), tuple(groups), tuple(sigalgs))


@lru_cache(maxsize=64)
def _pyopenssl_context(
    protocols: tuple[str, ...],
    ciphers: tuple[str, ...],
    groups: tuple[str, ...],
    sigalgs: tuple[str, ...],
) -> SSL.Context:
    """A pyOpenSSL client context making CloudFront's offer (or a variant for follow-up probes).

    `protocols` uses CloudFront's names, plus "TLSv1.3" which only follow-up probes ask for. No
    verification: the served chain is judged by the certificate checks. Raises OfferUnavailable.
    """
    usable = [p for p in _PYOPENSSL if p in protocols]
    if not usable:
        raise OfferUnavailable(
            f"this machine's OpenSSL cannot offer {', '.join(protocols)} "
            "(SSLv3 was removed from OpenSSL), so CloudFront's handshake cannot be reproduced."
        )
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_verify(SSL.VERIFY_NONE)
    ctx.set_min_proto_version(_PYOPENSSL[usable[0]])
    ctx.set_max_proto_version(_PYOPENSSL[usable[-1]])
    first, last = list(_PYOPENSSL).index(usable[0]), list(_PYOPENSSL).index(usable[-1])
    for name in list(_PYOPENSSL)[first : last + 1]:
        if name not in usable:  # a gap such as TLSv1 + TLSv1.2 without TLSv1.1
            ctx.set_options(_PYOPENSSL_NO[name])
    try:
        ctx.set_cipher_list(cipher_string(ciphers).encode())
    except SSL.Error:
        if usable != ["TLSv1.3"]:  # TLS 1.3 suites are set apart; a 1.3-only probe needs none here
            raise OfferUnavailable(
                f"this machine's OpenSSL implements none of {', '.join(ciphers)}."
            ) from None
    _set_groups_and_sigalgs(ctx, groups, sigalgs)
    return ctx


def openssl_version_flags(protocols: Sequence[str]) -> list[str]:
    """`openssl s_client` flags for the protocols: `-tls1_2` for one, else `-no_*` exclusions."""
    usable = [p for p in _ORDER if p in protocols and p in _S_CLIENT]
    if len(usable) == 1:
        return [_S_CLIENT[usable[0]]]
    flags = [_S_CLIENT_NO[p] for p in _S_CLIENT_NO if p not in protocols]
    return [*flags, "-no_tls1_3"]
