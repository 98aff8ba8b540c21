"""X.509 helpers for the certificate checks: names, issuers, RFC 6125 matching, the trust store.

Everything is pure except `trust_store`, which reads certifi's bundle and the operator's CA file
once (cached by path and modification time).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID
from cryptography.x509.verification import Store

__all__ = [
    "TrustStore",
    "TrustStoreError",
    "aia_issuer_url",
    "describe",
    "dns_names",
    "fingerprint",
    "format_age",
    "is_ca",
    "is_self_signed",
    "issued_by",
    "matches",
    "mozilla_bundle",
    "trust_store",
    "weak_hash",
]


class TrustStoreError(Exception):
    """Raised when the operator's CA file cannot be read or holds no certificate."""


def describe(cert: x509.Certificate) -> str:
    """A short quoted name for humans: the CN, else the whole subject."""
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    name = str(cns[0].value) if cns else cert.subject.rfc4514_string() or "(empty subject)"
    return f"'{name}'"


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def weak_hash(cert: x509.Certificate) -> str | None:
    """ "SHA-1" or "MD5" when `cert` is signed with that hash, else None."""
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return None
    if isinstance(algorithm, hashes.SHA1 | hashes.MD5):
        return "SHA-1" if isinstance(algorithm, hashes.SHA1) else "MD5"
    return None


def _weak_signature_verifies(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """`cryptography` refuses SHA-1/MD5 in `verify_directly_issued_by`; the primitives still
    verify them, and a weak signature must read as weak, not as one that does not verify."""
    algorithm = child.signature_hash_algorithm
    key = parent.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(child.signature, child.tbs_certificate_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(algorithm))
        else:
            return False
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """`parent` issued `child`: names chain and `parent`'s key verifies `child`'s signature."""
    if child.issuer != parent.subject:
        return False
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return weak_hash(child) is not None and _weak_signature_verifies(child, parent)
    return True


def is_self_signed(cert: x509.Certificate) -> bool:
    return issued_by(cert, cert)


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def aia_issuer_url(cert: x509.Certificate) -> str | None:
    """The caIssuers URL browsers fetch a missing intermediate from (CloudFront does not)."""
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    except x509.ExtensionNotFound:
        return None
    for desc in aia.value:
        if desc.access_method == AuthorityInformationAccessOID.CA_ISSUERS:
            return str(desc.access_location.value)
    return None


def dns_names(cert: x509.Certificate) -> tuple[tuple[str, ...], str | None]:
    """(SAN dNSNames, CN). The CN counts only when there is no SAN extension (RFC 6125 6.4.4)."""
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(cns[0].value) if cns else None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return (), cn
    return tuple(san.get_values_for_type(x509.DNSName)), cn


def matches(pattern: str, host: str) -> bool:
    """RFC 6125 matching: case-insensitive; a wildcard is a whole left-most label `*` and covers
    exactly one label (so `*.example.com` matches `a.example.com`, not `a.b.example.com` nor
    `example.com`). Partial wildcards (`a*.example.com`) are not accepted, as browsers do not."""
    pattern = pattern.lower().rstrip(".")
    host = host.lower().rstrip(".")
    if not pattern or not host:
        return False
    if "*" not in pattern:
        return pattern == host
    p_first, _, p_rest = pattern.partition(".")
    h_first, _, h_rest = host.partition(".")
    if p_first != "*" or "*" in p_rest or p_rest.count(".") < 1:
        return False  # only `*.<at least two labels>`, never `*.com`
    return bool(h_first) and h_rest == p_rest


def format_age(delta: dt.timedelta) -> str:
    """'3 days', '5 hours', '1 day' from a positive duration."""
    seconds = abs(delta.total_seconds())
    if seconds >= 86400:
        n, unit = int(seconds // 86400), "day"
    elif seconds >= 3600:
        n, unit = int(seconds // 3600), "hour"
    else:
        n, unit = max(1, int(seconds // 60)), "minute"
    return f"{n} {unit}{'s' if n != 1 else ''}"


@dataclass(frozen=True)
class TrustStore:
    """Trust anchors: Mozilla's list (certifi) plus the operator's `--ca-file`.

    Attributes:
        roots: every anchor.
        extra: fingerprints of the anchors that came from the CA file.
        mozilla_path / ca_file: where they came from (for the equivalent commands).
    """

    roots: tuple[x509.Certificate, ...]
    extra: frozenset[str]
    mozilla_path: str
    ca_file: str | None
    store: Store

    def issuers_of(self, cert: x509.Certificate) -> list[x509.Certificate]:
        """Anchors whose subject is `cert`'s issuer (whether or not the signature verifies)."""
        return [r for r in self.roots if r.subject == cert.issuer]

    def contains(self, cert: x509.Certificate) -> bool:
        return any(r == cert for r in self.roots)

    def source(self, root: x509.Certificate) -> str:
        return "--ca-file" if fingerprint(root) in self.extra else "Mozilla's list"


@lru_cache(maxsize=8)
def _load(path: str, _mtime: float) -> tuple[x509.Certificate, ...]:
    with open(path, "rb") as f:
        data = f.read(16 * 1024 * 1024)  # a CA bundle is ~200 KB; refuse absurd files
    with warnings.catch_warnings():
        # A few old Mozilla roots have non-positive serial numbers; they are still trusted.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return tuple(x509.load_pem_x509_certificates(data))


def mozilla_bundle() -> str:
    """The path of certifi's bundle of Mozilla's roots, what `certifi.where()` returns for an
    installed certifi (the file in its package), found without importing certifi: its
    `importlib.resources` brings pathlib, tempfile, zipfile and more, ~10 ms of a cold start.
    Anything else (a zipped install) asks certifi itself."""
    spec = importlib.util.find_spec("certifi")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = os.path.join(folder, "cacert.pem")
        if os.path.isfile(path):
            return path
    import certifi

    return certifi.where()


def trust_store(ca_file: str | None) -> TrustStore:
    """Mozilla's roots plus `ca_file` (PEM). Raises TrustStoreError for an unusable CA file."""
    mozilla_path = mozilla_bundle()
    try:
        ca_mtime = os.stat(ca_file).st_mtime if ca_file else 0.0
    except OSError as exc:
        raise TrustStoreError(
            f"cannot read the CA file {ca_file!r}: {exc.strerror or exc}."
        ) from None
    # Keyed on paths and mtimes: hashing ~150 certificates per call cost ~0.5 ms, 3 times a diagnosis.
    return _cached_store(mozilla_path, os.stat(mozilla_path).st_mtime, ca_file, ca_mtime)


@lru_cache(maxsize=8)
def _cached_store(
    mozilla_path: str, mozilla_mtime: float, ca_file: str | None, ca_mtime: float
) -> TrustStore:
    roots = _load(mozilla_path, mozilla_mtime)
    extra: Sequence[x509.Certificate] = ()
    if ca_file:
        try:
            extra = _load(ca_file, ca_mtime)
        except OSError as exc:
            raise TrustStoreError(
                f"cannot read the CA file {ca_file!r}: {exc.strerror or exc}."
            ) from None
        except ValueError:
            raise TrustStoreError(f"the CA file {ca_file!r} holds no PEM certificate.") from None
    return _store(roots, tuple(extra), mozilla_path, ca_file)


@lru_cache(maxsize=8)
def _store(
    roots: tuple[x509.Certificate, ...],
    extra: tuple[x509.Certificate, ...],
    mozilla_path: str,
    ca_file: str | None,
) -> TrustStore:
    every = (*roots, *extra)
    return TrustStore(
        roots=every,
        extra=frozenset(fingerprint(c) for c in extra),
        mozilla_path=mozilla_path,
        ca_file=ca_file,
        store=Store(list(every)),
    )
