"""TLS connection attempts to one vetted address, each under a deadline and a byte cap. I/O only.

Two kinds of attempt, both over asyncio streams:

* `handshake`: a full handshake with pyOpenSSL in memory-BIO mode. pyOpenSSL because Python 3.11's
  `ssl` neither returns the served chain (`get_peer_cert_chain`) nor sets several curves or the
  signature schemes, and it is the PyCA-maintained binding to the same OpenSSL `cryptography` uses.
  Memory BIOs keep all socket I/O in asyncio, so every read sits under `asyncio.timeout`, no thread
  can be left blocked, and we see (and cap) every byte the server sends.
* `hello`: a hand-made ClientHello, read up to the server's ServerHelloDone (see `_wire`), for
  follow-up probes that must offer suites OpenSSL no longer has.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from OpenSSL import SSL, crypto

from cf502.checks.tls._wire import (
    CLOUDFRONT_GROUP_CODES,
    CLOUDFRONT_SIGALG_CODES,
    MAX_CERTS,
    ServerFlight,
    build_client_hello,
    cipher_name,
    version_name,
)
from cf502.net import close_quietly, os_error_words, tcp_connect

__all__ = ["MAX_HANDSHAKE_BYTES", "Attempt", "handshake", "hello"]

# More than any honest server flight (OpenSSL itself refuses chains over 100 KB).
MAX_HANDSHAKE_BYTES = 256 * 1024
_READ = 16 * 1024


@dataclass(frozen=True, slots=True)
class Attempt:
    """How one TLS attempt ended.

    Attributes:
        address / port: where it went.
        ok: the handshake completed (`handshake`) or the server picked a suite (`hello`).
        failure: None, or "connect", "timeout", "closed", "reset", "plain-http", "not-tls",
            "oversized", "alert" or "tls-error".
        detail: the words behind the failure (OS, alert or OpenSSL message).
        protocol / cipher / group: what was negotiated (OpenSSL names).
        chain: the served certificates (DER) in served order, at most MAX_CERTS (also when the
            handshake failed after the server's Certificate message).
        served_count: how many certificates the server sent.
        cert_request: the server asked for a client certificate.
        alert: the name of the TLS alert the server sent, if any.
        certificate_bytes: the announced size of the server's Certificate message.
        elapsed_ms: wall time of the attempt.
    """

    address: str
    port: int
    ok: bool
    failure: str | None = None
    detail: str = ""
    protocol: str | None = None
    cipher: str | None = None
    group: str | None = None
    chain: tuple[bytes, ...] = ()
    served_count: int = 0
    cert_request: bool = False
    alert: str | None = None
    certificate_bytes: int = 0
    elapsed_ms: float = 0.0


def _openssl_words(exc: Exception) -> str:
    """OpenSSL's reasons from a pyOpenSSL error, e.g. 'sslv3 alert handshake failure'."""
    args = exc.args[0] if exc.args else None
    if isinstance(args, list):
        reasons = [str(r[2]) for r in args if isinstance(r, tuple) and len(r) == 3 and r[2]]
        if reasons:
            return "; ".join(dict.fromkeys(reasons))
    if isinstance(exc, SSL.SysCallError) and len(exc.args) == 2:
        return str(exc.args[1])
    return str(exc) or type(exc).__name__


def _printable(data: bytes) -> str:
    text = data.decode("ascii", "replace")
    return "".join(c if c.isprintable() else "." for c in text)


def _failed(flight: ServerFlight, kind: str, detail: str) -> tuple[str, str]:
    """Refine a failure with what the server actually sent (HTTP, garbage, an alert)."""
    if flight.first_bytes.startswith(b"HTTP/"):
        line = flight.first_bytes.split(b"\r\n", 1)[0].split(b"\n", 1)[0]
        return "plain-http", f"it answered {_printable(line)!r}"
    if flight.not_tls:
        shown = flight.first_bytes[:8].hex(" ")
        return "not-tls", f"the origin sent bytes that are not TLS (first bytes: {shown})"
    if flight.error and flight.error.startswith("a handshake message of"):
        return "oversized", f"the origin sent {flight.error}"
    if flight.certificate_bytes > 100 * 1024 and kind == "tls-error":
        return "oversized", (
            f"the origin's Certificate message is {flight.certificate_bytes:,} bytes ({detail})"
        )
    if flight.alert is not None and flight.alert[1] != 0:
        return "alert", f"the origin sent the TLS alert {flight.alert_name}"
    return kind, detail


def _result(
    address: str, port: int, started: float, flight: ServerFlight, kind: str, detail: str
) -> Attempt:
    kind, detail = _failed(flight, kind, detail)
    # What the server's plaintext flight showed before the failure: after a client certificate
    # request (TLS 1.2), its choice of protocol and suite and its chain are all known.
    return Attempt(
        address,
        port,
        ok=False,
        failure=kind,
        detail=detail,
        protocol=version_name(flight.version) if flight.version is not None else None,
        cipher=cipher_name(flight.cipher) if flight.cipher is not None else None,
        chain=tuple(flight.certificates),
        served_count=flight.served_count,
        cert_request=flight.cert_request,
        alert=flight.alert_name if flight.alert and flight.alert[1] != 0 else None,
        certificate_bytes=flight.certificate_bytes,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )


def _stalled(flight: ServerFlight, timeout: float) -> str:
    if not flight.received:
        return f"no answer to the ClientHello within {timeout:g} s"
    return f"it stalled after sending {flight.received:,} bytes; nothing more within {timeout:g} s"


def _outgoing(conn: SSL.Connection) -> bytes:
    out = bytearray()
    while True:
        try:
            chunk = conn.bio_read(_READ)
        except SSL.WantReadError:
            break
        if not chunk:
            break
        out += chunk
    return bytes(out)


async def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
    if data:
        writer.write(data)
        await writer.drain()


def _served(conn: SSL.Connection) -> tuple[tuple[bytes, ...], int]:
    chain = conn.get_peer_cert_chain() or []
    kept = tuple(crypto.dump_certificate(crypto.FILETYPE_ASN1, c) for c in chain[:MAX_CERTS])
    return kept, len(chain)


async def _drive(
    conn: SSL.Connection,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    flight: ServerFlight,
) -> tuple[str, str] | None:
    """Run the handshake to its end; None on success, else (failure kind, detail)."""
    while True:
        try:
            conn.do_handshake()
        except SSL.WantReadError:
            pass
        except SSL.Error as exc:
            await _send(writer, _outgoing(conn))  # our alert, as a real client sends it
            return "tls-error", _openssl_words(exc)
        else:
            await _send(writer, _outgoing(conn))
            return None
        await _send(writer, _outgoing(conn))
        data = await reader.read(_READ)
        if not data:
            if flight.received == 0:
                return (
                    "closed",
                    "the origin closed the connection without answering the ClientHello",
                )
            return "closed", "the origin closed the connection during the handshake"
        flight.feed(data)
        if flight.received > MAX_HANDSHAKE_BYTES:
            return "oversized", f"the origin sent more than {MAX_HANDSHAKE_BYTES:,} bytes"
        if flight.not_tls:
            return "not-tls", ""
        conn.bio_write(data)


async def handshake(
    address: str,
    port: int,
    sni: str,
    ctx: SSL.Context,
    *,
    connect_timeout: float,
    timeout: float,
) -> Attempt:
    """A full TLS handshake with `ctx` to `address` (an IP), SNI `sni`, within the deadlines."""
    started = time.perf_counter()
    outcome, streams = await tcp_connect(address, port, connect_timeout)
    if streams is None:
        return Attempt(address, port, False, "connect", f"TCP {outcome.status}: {outcome.detail}")
    reader, writer = streams
    flight = ServerFlight()
    conn = SSL.Connection(ctx, None)
    conn.set_tlsext_host_name(sni.encode("ascii"))
    conn.set_connect_state()
    try:
        async with asyncio.timeout(timeout):
            failure = await _drive(conn, reader, writer, flight)
    except TimeoutError:
        failure = "timeout", _stalled(flight, timeout)
    except OSError as exc:
        failure = "reset", os_error_words(exc)
    finally:
        await close_quietly(writer)
    if failure is not None:
        return _result(address, port, started, flight, *failure)
    chain, count = _served(conn)
    get_group = getattr(conn, "get_group_name", None)
    return Attempt(
        address,
        port,
        ok=True,
        protocol=conn.get_protocol_version_name(),
        cipher=conn.get_cipher_name(),
        group=get_group() if get_group is not None else None,
        chain=chain,
        served_count=count,
        cert_request=flight.cert_request,
        certificate_bytes=flight.certificate_bytes,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )


async def hello(
    address: str,
    port: int,
    sni: str,
    suites: Sequence[int],
    *,
    version: int,
    connect_timeout: float,
    timeout: float,
    groups: Sequence[int] = CLOUDFRONT_GROUP_CODES,
    sigalgs: Sequence[int] = CLOUDFRONT_SIGALG_CODES,
) -> Attempt:
    """Send one ClientHello and read the server's first flight: which suite would it pick?"""
    started = time.perf_counter()
    outcome, streams = await tcp_connect(address, port, connect_timeout)
    if streams is None:
        return Attempt(address, port, False, "connect", f"TCP {outcome.status}: {outcome.detail}")
    reader, writer = streams
    flight = ServerFlight()
    kind, detail = "closed", "the origin closed the connection"
    try:
        async with asyncio.timeout(timeout):
            await _send(
                writer,
                build_client_hello(sni, suites, version=version, groups=groups, sigalgs=sigalgs),
            )
            while not flight.done and flight.received <= MAX_HANDSHAKE_BYTES:
                data = await reader.read(_READ)
                if not data:
                    break
                flight.feed(data)
    except TimeoutError:
        kind, detail = "timeout", _stalled(flight, timeout)
    except OSError as exc:
        kind, detail = "reset", os_error_words(exc)
    finally:
        await close_quietly(writer)
    if flight.cipher is None or flight.version is None:
        return _result(address, port, started, flight, kind, flight.error or detail)
    return Attempt(
        address,
        port,
        ok=True,
        protocol=version_name(flight.version),
        cipher=cipher_name(flight.cipher),
        chain=tuple(flight.certificates),
        served_count=flight.served_count,
        cert_request=flight.cert_request,
        certificate_bytes=flight.certificate_bytes,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )
