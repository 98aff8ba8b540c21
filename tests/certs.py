"""The test PKI, generated in memory with `cryptography`: nothing is read from disk or the network.

    cf502 Test Root CA ──> cf502 Test Intermediate CA ──> leaves (origin.localtest, ...)
    cf502 Test Root CA ──> cf502 Test RSA Intermediate CA ──> leaves re-signed with SHA-1 or MD5
    cf502 Other Root CA ──> cf502 Other Intermediate CA ──> leaves (not trusted: not in the store)

Keys are made once per test session (RSA 2048 for the leaves, since the RSA-only suites under test
need RSA; P-256 for the CAs). Tests trust `pki().root` through `EngineSettings(ca_file=...)`.

`cryptography` no longer signs certificates with SHA-1 or MD5, but it still signs bytes with them:
`weak_signed` swaps the signature algorithm in the to-be-signed bytes and signs those itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

__all__ = [
    "NOW",
    "Ca",
    "Pki",
    "PrivateKey",
    "issue_ca",
    "issue_leaf",
    "pem",
    "pki",
    "rsa_key",
    "self_signed",
    "untrusted_root_leaf",
    "weak_signed",
    "write_pem",
]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DAY = dt.timedelta(days=1)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cf502 tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _hash(key: PrivateKey) -> hashes.SHA256 | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


@dataclass(frozen=True)
class Ca:
    """A certificate authority: its certificate and key."""

    cert: x509.Certificate
    key: PrivateKey


def _ca_builder(
    subject: x509.Name,
    issuer: x509.Name,
    key: PrivateKey,
    issuer_key: PrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    )


def issue_ca(cn: str, parent: Ca | None = None, *, key: PrivateKey | None = None) -> Ca:
    """A root (no parent) or an intermediate CA."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    issuer_key = parent.key if parent else key
    issuer = parent.cert.subject if parent else _name(cn)
    builder = _ca_builder(_name(cn), issuer, key, issuer_key, NOW - 3650 * DAY, NOW + 3650 * DAY)
    return Ca(builder.sign(issuer_key, _hash(issuer_key)), key)


def issue_leaf(
    names: Sequence[str],
    issuer: Ca,
    *,
    key: PrivateKey | None = None,
    cn: str | None = None,
    san: bool = True,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    aia: str | None = "http://pki.localtest/intermediate.crt",
    extra: Sequence[x509.ExtensionType] = (),
) -> x509.Certificate:
    """A server certificate for `names` (SAN dNSNames; the CN is the first name unless given)."""
    key = key or pki().leaf_key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn if cn is not None else names[0]))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - 30 * DAY)
        .not_valid_after(not_after or NOW + 90 * DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), False
        )
    )
    if san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False
        )
    if aia:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(aia),
                    )
                ]
            ),
            False,
        )
    for ext in extra:
        builder = builder.add_extension(ext, False)
    return builder.sign(issuer.key, _hash(issuer.key))


def self_signed(names: Sequence[str], key: PrivateKey | None = None) -> x509.Certificate:
    """A self-signed server certificate, as `openssl req -x509` makes."""
    key = key or pki().leaf_key
    return (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(_name(names[0]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 90 * DAY)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, _hash(key))
    )


@dataclass(frozen=True)
class Pki:
    """The session's CAs and the key every test leaf uses."""

    root: Ca
    intermediate: Ca
    other_root: Ca
    other_intermediate: Ca
    leaf_key: rsa.RSAPrivateKey
    rsa_intermediate: Ca


@cache
def rsa_key(bits: int) -> rsa.RSAPrivateKey:
    """One RSA key per size per session (a 4096-bit key takes a while to make)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@cache
def pki() -> Pki:
    root = issue_ca("cf502 Test Root CA")
    other = issue_ca("cf502 Other Root CA")
    return Pki(
        root=root,
        intermediate=issue_ca("cf502 Test Intermediate CA", root),
        other_root=other,
        other_intermediate=issue_ca("cf502 Other Intermediate CA", other),
        leaf_key=rsa_key(2048),
        rsa_intermediate=issue_ca("cf502 Test RSA Intermediate CA", root, key=rsa_key(3072)),
    )


# DER AlgorithmIdentifiers (with their NULL parameters) of RSA PKCS#1 v1.5 signatures: all the same
# length, so one can replace another inside the to-be-signed bytes without re-encoding lengths.
_RSA_ALGORITHMS = {
    "sha256": bytes.fromhex("300d06092a864886f70d01010b0500"),
    "sha1": bytes.fromhex("300d06092a864886f70d0101050500"),
    "md5": bytes.fromhex("300d06092a864886f70d0101040500"),
}
# Weak on purpose: these make the certificates the weak-signature checks must recognise.
_WEAK_HASHES = {"sha1": hashes.SHA1(), "md5": hashes.MD5()}  # noqa: S303


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def weak_signed(cert: x509.Certificate, issuer: Ca, digest: str) -> x509.Certificate:
    """`cert` (signed by the RSA CA `issuer` with SHA-256) signed again with "sha1" or "md5".

    The signature algorithm appears twice (inside the to-be-signed bytes and after them); both
    are swapped, then the new to-be-signed bytes are signed with the weak hash.
    """
    assert isinstance(issuer.key, rsa.RSAPrivateKey), "weak signatures are made with RSA here"
    old, new = _RSA_ALGORITHMS["sha256"], _RSA_ALGORITHMS[digest]
    tbs = cert.tbs_certificate_bytes
    assert tbs.count(old) == 1, "expected one sha256WithRSAEncryption identifier"
    tbs = tbs.replace(old, new)
    signature = issuer.key.sign(tbs, padding.PKCS1v15(), _WEAK_HASHES[digest])
    der = _der(0x30, tbs + new + _der(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(der)


def untrusted_root_leaf(names: Sequence[str], *, serve_root: bool) -> tuple[x509.Certificate, ...]:
    """A leaf issued directly by a root nobody trusts (no AIA: a private CA's leaf), with or
    without that root served after it (badssl's untrusted-root serves the leaf alone)."""
    other = pki().other_root
    leaf = issue_leaf(names, other, aia=None)
    return (leaf, other.cert) if serve_root else (leaf,)


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_pem(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(pem(*certs))
    return path
