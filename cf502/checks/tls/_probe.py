"""TLS connection attempts to one vetted address, each under a deadline and a byte cap. I/O only.

Two kinds of attempt, both over asyncio streams:

* `handshake`: a full handshake with pyOpenSSL in memory-BIO mode. pyOpenSSL because Python 3.11's
  `ssl` neither returns the served chain (`get_peer_cert_chain`) nor sets several curves or the
  signature schemes, and it is the PyCA-maintained binding to the same OpenSSL `cryptography` uses.
  Memory BIOs keep all socket I/O in asyncio, so every read sits under `asyncio.timeout`, no thread
  can be left blocked, and we see (and cap) every byte the server sends.
* `hello`: a hand-made ClientHello, read up to the server's ServerHelloDone (see `_wire`), for
  follow-up probes that must offer suites OpenSSL no longer has.

`session` is `handshake` keeping the connection open afterwards (`Session`): CloudFront sends its
origin request on the connection it has just negotiated, so the http.* checks do too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from OpenSSL import SSL, crypto

from cf502.checks.probe import Opened
from cf502.checks.tls._client import MAX_HANDSHAKE_BYTES, Handshake, openssl_words, outgoing
from cf502.checks.tls._wire import (
    CLOUDFRONT_GROUP_CODES,
    CLOUDFRONT_SIGALG_CODES,
    MAX_CERTS,
    ServerFlight,
    build_client_hello,
    cipher_name,
    version_name,
)
from cf502.firstconnect import FirstWords
from cf502.net import ConnectOutcome, close_quietly, os_error_words, tcp_connect

__all__ = [
    "MAX_HANDSHAKE_BYTES",
    "RECORDS_PER_READ",
    "Attempt",
    "Session",
    "SessionError",
    "handshake",
    "hello",
    "session",
]

_READ = 16 * 1024


@dataclass(frozen=True)
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
        tcp: how the TCP connection went, when it failed ("connect").
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
    tcp: ConnectOutcome | None = None


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
    address: str,
    port: int,
    started: float,
    flight: ServerFlight,
    kind: str,
    detail: str,
    done: float | None = None,
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
        elapsed_ms=((time.perf_counter() if done is None else done) - started) * 1000,
    )


def _stalled(flight: ServerFlight, timeout: float) -> str:
    if not flight.received:
        return f"no answer to the ClientHello within {timeout:g} s"
    return f"it stalled after sending {flight.received:,} bytes; nothing more within {timeout:g} s"


async def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
    if data:
        writer.write(data)
        await writer.drain()


def _served(conn: SSL.Connection) -> tuple[tuple[bytes, ...], int]:
    chain = conn.get_peer_cert_chain() or []
    kept = tuple(crypto.dump_certificate(crypto.FILETYPE_ASN1, c) for c in chain[:MAX_CERTS])
    return kept, len(chain)


async def _drive(
    handshake: Handshake, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[str, str] | None:
    """Run the handshake to its end; None on success, else (failure kind, detail)."""
    while not handshake.over:
        data = await reader.read(_READ)
        if not data:
            if handshake.flight.received == 0:
                return (
                    "closed",
                    "the origin closed the connection without answering the ClientHello",
                )
            return "closed", "the origin closed the connection during the handshake"
        await _send(writer, handshake.hear(data))
    return handshake.failure


def _going_on(words: FirstWords, ctx: SSL.Context, sni: str) -> tuple[Handshake, bytes] | None:
    """The handshake that said `words` (and heard whatever the early lane fed it since) and what
    it has left to send, when they are this handshake's (`_client.FirstHello`: the same
    context, the same name)."""
    if words.key != (ctx, sni) or not isinstance(words.state, Handshake):
        return None
    return words.state, words.unsent


# TLS records decrypted per `Session.receive` call before the event loop gets a turn: a record
# costs a few microseconds, and an origin may send thousands of 1-byte records in one burst.
RECORDS_PER_READ = 256


class SessionError(Exception):
    """The TLS layer of a kept session failed (an alert, a bad record); str() says why in words."""


class Session:
    """A TLS connection kept open after CloudFront's handshake, for the one request CloudFront
    sends on it. pyOpenSSL over memory BIOs as for the handshake, so every byte still goes through
    asyncio (each read under the caller's deadline) and is counted.

    Attributes:
        connect: how the TCP connection went.
        tls_ms: the handshake's duration, from the connection open to the handshake done.
        cipher: the suite negotiated (OpenSSL name).
    """

    def __init__(
        self,
        conn: SSL.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        connect: ConnectOutcome,
        tls_ms: float,
    ) -> None:
        self._conn = conn
        self._reader = reader
        self._writer = writer
        self.connect = connect
        self.tls_ms = tls_ms
        self.cipher: str | None = conn.get_cipher_name()
        self.records = 0  # application-data records decrypted (reads that returned bytes)
        self._closed = False  # the peer closed the TCP connection

    async def send(self, data: bytes) -> None:
        """Encrypt `data` and write it (raises OSError or SessionError)."""
        try:
            self._conn.sendall(data)
        except SSL.Error as exc:
            raise SessionError(openssl_words(exc)) from None
        await _send(self._writer, outgoing(self._conn))

    async def receive(self, limit: int) -> bytes:
        """The next plaintext bytes (at most `limit`), b"" once the peer has closed.

        What has already arrived is returned together, as a plain socket read returns what the
        kernel holds, but at most RECORDS_PER_READ records at a time (`records` counts them).
        A close without close_notify ends the reply as a plain EOF does, as asyncio's own TLS
        transport treats it. Raises OSError (the socket) or SessionError (TLS).
        """
        out = bytearray()
        while len(out) < limit:
            try:
                chunk = self._conn.recv(min(limit - len(out), _READ))
            except SSL.WantReadError:
                chunk = b""
                await _send(self._writer, outgoing(self._conn))  # e.g. a renegotiation's hello
            except SSL.ZeroReturnError:  # close_notify
                break
            except SSL.Error as exc:
                if self._closed:  # the peer closed the TCP connection without close_notify
                    break
                await _send(self._writer, outgoing(self._conn))  # our alert, as a client sends it
                raise SessionError(openssl_words(exc)) from None
            if chunk:
                out += chunk
                self.records += 1
                if self.records % RECORDS_PER_READ == 0:
                    await asyncio.sleep(0)  # a burst of tiny records must not hold the loop
                    break
                continue
            if out or self._closed:
                break
            data = await self._reader.read(_READ)
            if data:
                self._conn.bio_write(data)
            else:
                self._closed = True
                self._conn.bio_shutdown()
        return bytes(out)

    def abort(self) -> None:
        """Drop the connection at once (never wait on a hostile peer)."""
        self._writer.transport.abort()


async def handshake(
    address: str, port: int, sni: str, ctx: SSL.Context, *, connect_timeout: float, timeout: float
) -> Attempt:
    """A full TLS handshake with `ctx` to `address` (an IP), SNI `sni`, within the deadlines, on
    a connection of its own, closed afterwards."""
    attempt, _ = await session(
        address, port, sni, ctx, connect_timeout=connect_timeout, timeout=timeout, keep=False
    )
    return attempt


async def session(
    address: str,
    port: int,
    sni: str,
    ctx: SSL.Context,
    *,
    connect_timeout: float,
    timeout: float,
    keep: bool = True,
    opened: Awaitable[Opened] | None = None,
    said: Callable[[], FirstWords | None] | None = None,
) -> tuple[Attempt, Session | None]:
    """A full TLS handshake with `ctx` to `address` (an IP), SNI `sni`, within the deadlines,
    and with `keep` its connection kept open when it succeeded (the caller aborts it); on
    `opened`, a connection already on its way, when given, going on from what `said` says it
    said first when that is this handshake's ClientHello."""
    started = time.perf_counter()
    hello: tuple[Handshake, bytes] | None = None  # a handshake already started on `opened`
    if opened is None:
        outcome, streams = await tcp_connect(address, port, connect_timeout)
    else:
        # Shielded: a cancelled handshake must not cancel the shared connect (tcp.https reports
        # it); the connection itself is dropped with the diagnosis.
        outcome, streams = await asyncio.shield(opened)
        # Timed as if the connection had just opened: not the wait for this code to load.
        started = time.perf_counter() - outcome.elapsed_ms / 1000
        words = said() if said is not None and streams is not None else None
        if words is not None and streams is not None:
            hello = _going_on(words, ctx, sni)
            if hello is None:  # it said another offer: this handshake needs its own connection
                streams[1].transport.abort()
                started = time.perf_counter()
                outcome, streams = await tcp_connect(address, port, connect_timeout)
    if streams is None:
        detail = f"TCP {outcome.status}: {outcome.detail}"
        return Attempt(address, port, False, "connect", detail, tcp=outcome), None
    reader, writer = streams
    if hello is None:
        handshake = Handshake(ctx, sni)
        first = handshake.start()
    else:
        handshake, first = hello  # (what the early socket did not take at once)
        # Timed from its ClientHello, as if said as the connection opened: its own duration.
        started = handshake.said_at - outcome.elapsed_ms / 1000
    conn, flight = handshake.conn, handshake.flight
    try:
        async with asyncio.timeout(timeout):
            await _send(writer, first)
            failure = await _drive(handshake, reader, writer)
    except TimeoutError:
        failure = "timeout", _stalled(flight, timeout)
    except OSError as exc:
        failure = "reset", os_error_words(exc)
    except BaseException:  # cancelled: never leave the connection open
        writer.transport.abort()
        raise
    # When the handshake ended (the early lane may have driven it to its end before this code ran).
    done = handshake.over_at if handshake.over_at is not None else time.perf_counter()
    kept: Session | None = None
    if keep and failure is None:
        tls_ms = (done - started) * 1000 - outcome.elapsed_ms
        kept = Session(conn, reader, writer, outcome, tls_ms)
    else:
        await close_quietly(writer)
    if failure is not None:
        return _result(address, port, started, flight, *failure, done=done), None
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
        elapsed_ms=(done - started) * 1000,
    ), kept


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
