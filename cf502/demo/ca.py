"""The demo's own certificate authority, made at run time with `cryptography` (nothing on disk
but the root, which the diagnoses trust through `--ca-file`).

    cf502 Demo Root CA ──> cf502 Demo Intermediate CA ──> one leaf per demo origin

The CAs use P-256 keys (fast to make); the leaves share one RSA 2048 key, since CloudFront's
cipher offer to origins is mostly RSA suites.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

__all__ = ["DemoCa", "Leaf"]

DAY = dt.timedelta(days=1)
# Named in every leaf, as public CAs do (AIA); nothing fetches it, as CloudFront does not.
INTERMEDIATE_URL = "http://pki.demo.example/intermediate.crt"


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cf502 demo"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


@dataclass(frozen=True)
class Leaf:
    """A server's certificate chain and key, PEM-encoded as a TLS server loads them."""

    chain_pem: bytes
    key_pem: bytes


class DemoCa:
    """A root, an intermediate under it, and the leaves the demo origins serve."""

    def __init__(self, now: dt.datetime | None = None) -> None:
        self.now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        self._root_key = ec.generate_private_key(ec.SECP256R1())
        self._int_key = ec.generate_private_key(ec.SECP256R1())
        self._leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.root = self._ca("cf502 Demo Root CA", self._root_key, None)
        self.intermediate = self._ca("cf502 Demo Intermediate CA", self._int_key, self.root)

    def _ca(
        self, cn: str, key: ec.EllipticCurvePrivateKey, parent: x509.Certificate | None
    ) -> x509.Certificate:
        issuer_key = self._root_key if parent is not None else key
        return (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(parent.subject if parent is not None else _name(cn))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - DAY)
            .not_valid_after(self.now + 30 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
            )
            .sign(issuer_key, hashes.SHA256())
        )

    @property
    def root_pem(self) -> bytes:
        return _pem(self.root)

    def leaf(
        self,
        names: Sequence[str],
        *,
        expired: bool = False,
        with_intermediate: bool = True,
    ) -> Leaf:
        """A certificate for `names` (SAN dNSNames, the first one as CN), issued by the
        intermediate; `expired` dates it in the past, `with_intermediate=False` serves the leaf
        alone (a chain CloudFront cannot complete)."""
        not_after = self.now - 3 * DAY if expired else self.now + 20 * DAY
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(names[0]))
            .issuer_name(self.intermediate.subject)
            .public_key(self._leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_after - 90 * DAY)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._int_key.public_key()),
                False,
            )
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
            .add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.CA_ISSUERS,
                            x509.UniformResourceIdentifier(INTERMEDIATE_URL),
                        )
                    ]
                ),
                False,
            )
            .sign(self._int_key, hashes.SHA256())
        )
        chain = (cert, self.intermediate) if with_intermediate else (cert,)
        key = self._leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return Leaf(_pem(*chain), key)
