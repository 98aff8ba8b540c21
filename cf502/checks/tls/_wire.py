"""TLS on the wire, up to the server's first flight: a ClientHello builder and a flight parser. Pure.

Why by hand: OpenSSL builds no longer implement two suites CloudFront still offers (DES-CBC3-SHA,
RC4-MD5), and follow-up probes must offer suites OpenSSL refuses to send. Until ChangeCipherSpec, a
TLS <= 1.2 server's flight (ServerHello, Certificate, CertificateRequest, alerts) is plaintext, so a
hand-made ClientHello and this parser tell which suite a server picks and which chain it serves,
without completing a handshake. The parser also taps the real handshake to see alerts, a
CertificateRequest, or bytes that are not TLS at all. Every length is capped: a hostile server
costs bounded memory.
"""

from __future__ import annotations

import os
import ssl
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Final

from cf502.checks.tls._offer import CLOUDFRONT_CIPHER_CODES

__all__ = [
    "ALERTS",
    "BROAD_GROUPS",
    "BROAD_SIGALGS",
    "CLOUDFRONT_GROUP_CODES",
    "CLOUDFRONT_SIGALG_CODES",
    "MAX_CERTS",
    "MAX_MESSAGE",
    "VERSIONS",
    "ServerFlight",
    "all_suites",
    "build_client_hello",
    "cipher_code",
    "cipher_name",
    "version_name",
]

VERSIONS: Final = {"TLSv1": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303, "TLSv1.3": 0x0304}
_VERSION_NAMES: Final = {v: k for k, v in VERSIONS.items()} | {0x0300: "SSLv3"}

CLOUDFRONT_GROUP_CODES: Final = (0x001D, 0x0017, 0x0018)  # X25519, P-256, P-384
# A wide offer for follow-up probes: every named group a server might insist on.
BROAD_GROUPS: Final = (0x001D, 0x0017, 0x0018, 0x0019, 0x001E, 0x0100, 0x0101, 0x0102)
# rsa_pkcs1 sha256/384/512/224, ecdsa sha256/384/512/224, rsa_pkcs1_sha1, ecdsa_sha1 (no RSA-PSS).
CLOUDFRONT_SIGALG_CODES: Final = (
    0x0401,
    0x0501,
    0x0601,
    0x0301,
    0x0403,
    0x0503,
    0x0603,
    0x0303,
    0x0201,
    0x0203,
)
BROAD_SIGALGS: Final = (
    *CLOUDFRONT_SIGALG_CODES,
    *(0x0804, 0x0805, 0x0806, 0x0809, 0x080A, 0x080B, 0x0807, 0x0808),  # RSA-PSS, EdDSA
)

ALERTS: Final = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    22: "record_overflow",
    40: "handshake_failure",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    100: "no_renegotiation",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    116: "certificate_required",
    120: "no_application_protocol",
}

MAX_CERTS: Final = 10  # certificates kept from a served chain; real chains have 2-4
MAX_MESSAGE: Final = 128 * 1024  # largest handshake message accepted (OpenSSL's own cap is 100 KB)
_MAX_BUFFER: Final = MAX_MESSAGE + 16 * 1024

# Suites no current OpenSSL implements, so they are missing from its own table.
_EXTRA_NAMES: Final = {
    0x0004: "RC4-MD5",
    0x0005: "RC4-SHA",
    0x000A: "DES-CBC3-SHA",
    0x0016: "EDH-RSA-DES-CBC3-SHA",
    0xC007: "ECDHE-ECDSA-RC4-SHA",
    0xC008: "ECDHE-ECDSA-DES-CBC3-SHA",
    0xC011: "ECDHE-RSA-RC4-SHA",
    0xC012: "ECDHE-RSA-DES-CBC3-SHA",
}


@cache
def _openssl_names() -> dict[int, str]:
    """IANA code -> OpenSSL name for every TLS <= 1.2 suite this OpenSSL knows."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    names = {int(c["id"]) & 0xFFFF: str(c["name"]) for c in ctx.get_ciphers()}
    return {code: name for code, name in names.items() if code >> 8 != 0x13}  # no TLS 1.3 suites


def cipher_name(code: int) -> str:
    names = _openssl_names()
    return names.get(code) or _EXTRA_NAMES.get(code) or f"0x{code:04X}"


def cipher_code(name: str) -> int | None:
    if name in CLOUDFRONT_CIPHER_CODES:
        return CLOUDFRONT_CIPHER_CODES[name]
    for code, known in (*_openssl_names().items(), *_EXTRA_NAMES.items()):
        if known == name:
            return code
    return None


def all_suites() -> tuple[int, ...]:
    """Every TLS <= 1.2 suite code known here, for a probe that asks "what would you pick?"."""
    codes = dict.fromkeys((*_openssl_names(), *_EXTRA_NAMES, *CLOUDFRONT_CIPHER_CODES.values()))
    return tuple(codes)


def _vec(data: bytes, width: int) -> bytes:
    return len(data).to_bytes(width, "big") + data


def _ext(kind: int, body: bytes) -> bytes:
    return struct.pack("!HH", kind, len(body)) + body


def build_client_hello(
    sni: str,
    suites: Sequence[int],
    *,
    version: int = VERSIONS["TLSv1.2"],
    groups: Sequence[int] = CLOUDFRONT_GROUP_CODES,
    sigalgs: Sequence[int] = CLOUDFRONT_SIGALG_CODES,
) -> bytes:
    """One TLS record holding a ClientHello for TLS <= 1.2 (no supported_versions extension)."""
    server_name = _vec(b"\x00" + _vec(sni.encode("ascii"), 2), 2)
    extensions = [
        _ext(0x0000, server_name),
        _ext(0x000A, _vec(b"".join(struct.pack("!H", g) for g in groups), 2)),
        _ext(0x000B, _vec(b"\x00", 1)),  # ec_point_formats: uncompressed
        _ext(0xFF01, b"\x00"),  # renegotiation_info (empty): secure renegotiation supported
    ]
    if version >= VERSIONS["TLSv1.2"]:
        extensions.append(_ext(0x000D, _vec(b"".join(struct.pack("!H", s) for s in sigalgs), 2)))
    body = (
        struct.pack("!H", version)
        + os.urandom(32)
        + _vec(b"", 1)  # no session id
        + _vec(b"".join(struct.pack("!H", s) for s in suites), 2)
        + _vec(b"\x00", 1)  # compression: null only
        + _vec(b"".join(extensions), 2)
    )
    handshake = b"\x01" + _vec(body, 3)
    return b"\x16" + struct.pack("!H", min(version, 0x0301)) + _vec(handshake, 2)


def version_name(code: int) -> str:
    return _VERSION_NAMES.get(code, f"0x{code:04X}")


@dataclass
class ServerFlight:
    """Incremental parser of what a server sends before ChangeCipherSpec.

    Attributes:
        first_bytes: the first bytes received (to recognise "HTTP/" or garbage).
        received: bytes fed so far.
        not_tls: the bytes are not TLS records.
        version / cipher: from the ServerHello, when one arrived.
        certificates: the served chain (DER), at most MAX_CERTS of them.
        served_count: how many certificates the Certificate message held.
        certificate_bytes: the Certificate message's announced length.
        cert_request: the server asked for a client certificate.
        alert: (level, description) of the first alert received.
        done: ServerHelloDone, an alert, ChangeCipherSpec or an error ended the plaintext flight.
        error: why parsing stopped early (oversized message, malformed record).
    """

    first_bytes: bytes = b""
    received: int = 0
    not_tls: bool = False
    version: int | None = None
    cipher: int | None = None
    certificates: list[bytes] = field(default_factory=list)
    served_count: int = 0
    certificate_bytes: int = 0
    cert_request: bool = False
    alert: tuple[int, int] | None = None
    done: bool = False
    error: str | None = None
    _parsed_any: bool = False
    _records: bytearray = field(default_factory=bytearray)
    _handshake: bytearray = field(default_factory=bytearray)

    @property
    def alert_name(self) -> str | None:
        if self.alert is None:
            return None
        return ALERTS.get(self.alert[1], f"alert {self.alert[1]}")

    def feed(self, data: bytes) -> None:
        if len(self.first_bytes) < 64:
            self.first_bytes += data[: 64 - len(self.first_bytes)]
        self.received += len(data)
        if self.done:
            return
        self._records += data
        while not self.done and len(self._records) >= 5:
            ctype, _version, length = struct.unpack("!BHH", self._records[:5])
            if ctype not in (20, 21, 22, 23) or length > 18432:
                self.not_tls = not self._parsed_any
                self._stop("not a TLS record" if self.not_tls else "malformed TLS record")
                return
            if len(self._records) < 5 + length:
                if len(self._records) > _MAX_BUFFER:
                    self._stop("record buffer overflow")
                return
            payload = bytes(self._records[5 : 5 + length])
            del self._records[: 5 + length]
            self._parsed_any = True
            self._record(ctype, payload)

    def _stop(self, why: str) -> None:
        self.done = True
        self.error = self.error or why
        self._records.clear()
        self._handshake.clear()

    def _record(self, ctype: int, payload: bytes) -> None:
        if ctype == 21 and len(payload) >= 2:
            self.alert = (payload[0], payload[1])
            self.done = True
        elif ctype == 20 or ctype == 23:
            self.done = True  # encrypted from here on
        elif ctype == 22:
            self._handshake += payload
            self._messages()

    def _messages(self) -> None:
        while not self.done and len(self._handshake) >= 4:
            kind = self._handshake[0]
            length = int.from_bytes(self._handshake[1:4], "big")
            if kind == 11:
                self.certificate_bytes = length
            if length > MAX_MESSAGE:
                self._stop(
                    f"a handshake message of {length:,} bytes (cf502 reads at most "
                    f"{MAX_MESSAGE:,}; OpenSSL refuses more than 102,400)"
                )
                return
            if len(self._handshake) < 4 + length:
                return
            body = bytes(self._handshake[4 : 4 + length])
            del self._handshake[: 4 + length]
            self._message(kind, body)

    def _message(self, kind: int, body: bytes) -> None:
        if kind == 2:
            self._server_hello(body)
        elif kind == 11:
            self._certificate(body)
        elif kind == 13:
            self.cert_request = True
        elif kind == 14:
            self.done = True  # ServerHelloDone: the server now waits for the client

    def _server_hello(self, body: bytes) -> None:
        if len(body) < 38:
            self._stop("short ServerHello")
            return
        self.version = int.from_bytes(body[0:2], "big")
        sid_len = body[34]
        at = 35 + sid_len
        if len(body) < at + 2:
            self._stop("short ServerHello")
            return
        self.cipher = int.from_bytes(body[at : at + 2], "big")

    def _certificate(self, body: bytes) -> None:
        if len(body) < 3:
            self._stop("malformed Certificate message")
            return
        end = 3 + int.from_bytes(body[0:3], "big")
        at = 3
        while at + 3 <= min(end, len(body)):
            size = int.from_bytes(body[at : at + 3], "big")
            at += 3
            if at + size > len(body):
                self._stop("malformed Certificate message")
                return
            self.served_count += 1
            if len(self.certificates) < MAX_CERTS:
                self.certificates.append(body[at : at + size])
            at += size
