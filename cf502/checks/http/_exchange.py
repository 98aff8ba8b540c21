"""One HTTP/1.1 request/response over a raw connection to a vetted address, every step timed and
under a deadline; and the origin observation the `http.*` checks share (one per protocol and
address, via `Probe.once`).

asyncio streams carry the bytes and `_wire.ResponseParser` (h11) reads them; see that module
for why this goes below httpx. Over HTTPS the request goes on the connection CloudFront's handshake
(tls.handshake's observation) negotiated, as CloudFront sends it: one connection per address, and
the same reading, deadlines and caps as over plain HTTP.
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass, field, replace
from typing import Protocol

from cf502.checks.http._wire import ResponseObservation, ResponseParser, build_request
from cf502.checks.http._wire import new_request_id as new_request_id
from cf502.checks.http._wire import new_via as new_via
from cf502.checks.probe import Probe
from cf502.checks.tcp import port_outcomes
from cf502.checks.tls._observe import TlsObservation, tls_connection
from cf502.checks.tls._probe import Session, SessionError
from cf502.deadlines import Deadlines
from cf502.net import ConnectOutcome, os_error_words, tcp_connect
from cf502.settings import ProtocolPolicy

__all__ = [
    "Exchange",
    "ExchangeTimeouts",
    "exchange",
    "exchange_over",
    "origin_exchanges",
    "origin_schemes",
    "origin_timeouts",
    "start_exchanges",
]

_READ_SIZE = 64 * 1024


@dataclass(frozen=True)
class ExchangeTimeouts:
    """Deadlines of one exchange, in seconds (`origin_timeouts`: from the diagnosis's Deadlines).

    Attributes:
        connect: TCP connect (CloudFront's connection timeout).
        tls: TLS handshake.
        response: wait for the first byte after the request; the status line and headers must
            also be complete within it (CloudFront's response timeout).
        gap: wait for each later packet (the same response timeout, restarted per packet).
        budget: the whole exchange; reading stops there even if bytes still trickle in.
    """

    connect: float
    tls: float
    response: float
    gap: float
    budget: float


@dataclass(frozen=True)
class Exchange:
    """One request and what came back, as far as it got.

    Attributes:
        scheme / address / port: where the request went (an IP, never a name).
        host: the Host header sent; sni: the TLS server name sent (https only).
        method / target: the request line's method and target (path and query).
        request_id: the X-Amz-Cf-Id sent, so the origin's logs can be searched ("" for none).
        connect: how the TCP connection went.
        tls_ms / cipher / tls_error: the handshake (https only).
        ttfb_ms: from the request written to the first byte of the reply.
        last_byte_ms: from the request written to the last byte read.
        total_ms: from the start of the connection to the end of reading.
        timeout: the deadline that ended the exchange: "tls", "first-byte", "head" (bytes came but
            no complete status line and headers within the response timeout), "stall" (a gap
            between packets after the head), "budget" (the whole exchange, after the head), or
            None.
        io_error: an error writing the request or reading the reply (e.g. connection reset).
        response: the parsed reply.
        timeouts: the deadlines used.
    """

    scheme: str
    address: str
    port: int
    host: str
    sni: str | None
    method: str
    target: str
    request_id: str
    connect: ConnectOutcome
    timeouts: ExchangeTimeouts
    tls_ms: float | None = None
    cipher: str | None = None
    tls_error: str | None = None
    ttfb_ms: float | None = None
    last_byte_ms: float | None = None
    total_ms: float = 0.0
    timeout: str | None = None
    io_error: str | None = None
    response: ResponseObservation = field(default_factory=ResponseObservation)

    @property
    def connected(self) -> bool:
        return self.connect.status == "open" and self.tls_error is None

    @property
    def label(self) -> str:
        """`HTTPS 192.0.2.1:443`, for evidence and summaries."""
        addr = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme.upper()} {addr}:{self.port}"


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000


@dataclass(frozen=True)
class _Read:
    ttfb_ms: float | None = None
    last_byte_ms: float | None = None
    timeout: str | None = None
    io_error: str | None = None


class _Channel(Protocol):
    """Where the request goes and the reply comes from: a TCP connection, or a TLS session."""

    async def send(self, data: bytes) -> None: ...

    async def receive(self, limit: int) -> tuple[bytes, int]:
        """The next bytes (b"" at EOF) and how many pieces they came in (reads, TLS records)."""
        ...


class _Plain:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def send(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def receive(self, limit: int) -> tuple[bytes, int]:
        return await self._reader.read(limit), 1


class _Tls:
    def __init__(self, session: Session) -> None:
        self._session = session

    async def send(self, data: bytes) -> None:
        await self._session.send(data)

    async def receive(self, limit: int) -> tuple[bytes, int]:
        before = self._session.records
        data = await self._session.receive(limit)
        # Each record is a piece of work like a read: a body of 1-byte records meets the same
        # event cap as a body of 1-byte packets.
        return data, max(1, self._session.records - before)


# What the peer can make reading or writing fail with.
_IO_ERRORS = (OSError, SessionError)


async def exchange(
    *,
    address: str,
    port: int,
    host: str,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    timeouts: ExchangeTimeouts,
    request_id: str = "",
) -> Exchange:
    """Connect to `address` over plain HTTP, send one request, read the reply (bounded).

    Never raises for anything the peer does; the returned Exchange says how far it got.
    Raises ValueError only for a request that cannot be written (CR/LF in a header value).
    """
    started = time.perf_counter()
    request, conn = build_request(method, target, headers)
    outcome, streams = await tcp_connect(address, port, timeouts.connect)
    read = _Read()
    parser = ResponseParser(method, conn)
    if streams is not None:
        reader, writer = streams
        try:
            read = await _send_and_read(_Plain(reader, writer), request, parser, timeouts, started)
        finally:
            writer.transport.abort()  # one request per connection; never wait on a hostile peer
    return Exchange(
        scheme="http",
        address=address,
        port=port,
        host=host,
        sni=None,
        method=method,
        target=target,
        request_id=request_id,
        connect=outcome,
        timeouts=timeouts,
        ttfb_ms=read.ttfb_ms,
        last_byte_ms=read.last_byte_ms,
        total_ms=_ms(started),
        timeout=read.timeout,
        io_error=read.io_error,
        response=parser.observation(),
    )


async def exchange_over(
    session: Session,
    *,
    address: str,
    host: str,
    sni: str,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    timeouts: ExchangeTimeouts,
    request_id: str = "",
) -> Exchange:
    """Send one request on the TLS connection CloudFront's handshake negotiated, read the reply
    (bounded exactly as `exchange`), and close the connection.

    The connect and handshake times are the handshake's; the budget counts them, as if the
    request had followed the handshake at once. Never raises for anything the peer does; raises
    ValueError only for a request that cannot be written.
    """
    try:
        request, conn = build_request(method, target, headers)
        parser = ResponseParser(method, conn)
        setup = session.connect.elapsed_ms + session.tls_ms
        started = time.perf_counter() - setup / 1000
        read = await _send_and_read(_Tls(session), request, parser, timeouts, started)
    finally:
        session.abort()  # one request per connection; never wait on a hostile peer
    return Exchange(
        scheme="https",
        address=address,
        port=session.connect.port,
        host=host,
        sni=sni,
        method=method,
        target=target,
        request_id=request_id,
        connect=session.connect,
        timeouts=timeouts,
        tls_ms=session.tls_ms,
        cipher=session.cipher,
        ttfb_ms=read.ttfb_ms,
        last_byte_ms=read.last_byte_ms,
        total_ms=_ms(started),
        timeout=read.timeout,
        io_error=read.io_error,
        response=parser.observation(),
    )


async def _send_and_read(
    channel: _Channel,
    request: bytes,
    parser: ResponseParser,
    timeouts: ExchangeTimeouts,
    started: float,
) -> _Read:
    """Write the request, then read under the response timeout (first byte, then every gap)."""
    end = started + timeouts.budget
    try:
        async with asyncio.timeout(max(0.0, min(timeouts.response, end - time.perf_counter()))):
            await channel.send(request)
    except (TimeoutError, *_IO_ERRORS) as exc:
        return _Read(io_error=f"could not send the request: {_words(exc)}")
    sent_at = time.perf_counter()
    # CloudFront's response timeout: no status line and headers by then, and viewers have had
    # nothing for that long, however steadily the head drips (each byte restarting a per-packet
    # timer would let a dripping origin hold the diagnosis until the budget).
    head_end = sent_at + timeouts.response
    ttfb: float | None = None
    last: float | None = None
    while not parser.done:
        now = time.perf_counter()
        left = end - now
        wait = min(timeouts.gap, left)
        if not parser.head_done:
            wait = min(wait, head_end - now)
        try:
            if wait <= 0:
                raise TimeoutError
            async with asyncio.timeout(wait):
                data, pieces = await channel.receive(_READ_SIZE)
        except TimeoutError:
            return _Read(ttfb, last, timeout=_timeout_kind(parser, timeouts, left))
        except _IO_ERRORS as exc:  # e.g. reset by the peer: the reply ends here
            parser.feed_eof()
            await _parse_rest(parser)
            return _Read(ttfb, last, io_error=_words(exc))
        if not data:
            parser.feed_eof()
            await _parse_rest(parser)
            break
        last = _ms(sent_at)
        if ttfb is None:
            ttfb = last
        parser.feed(data, pieces=pieces)
        await _parse_rest(parser)
    return _Read(ttfb, last)


def _timeout_kind(parser: ResponseParser, timeouts: ExchangeTimeouts, left: float) -> str:
    """Which deadline ended the read (`left`: what was left of the budget when it started)."""
    if not parser.head_done:
        # Whichever deadline struck, an unfinished head is CloudFront's timeout, not the budget's.
        return "head" if parser.started else "first-byte"
    if timeouts.gap > left:
        return "budget"
    return "stall"


async def _parse_rest(parser: ResponseParser) -> None:
    # One read can hold thousands of parser events (1-byte chunks): parse them in steps and let
    # the event loop run between steps, so other diagnoses and heartbeats are not held up.
    while parser.pending:
        await asyncio.sleep(0)
        parser.resume()


def _words(exc: BaseException) -> str:
    """Plain words: OpenSSL's reason for a TLS error, the OS's for a socket error."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, SessionError):
        return str(exc) or "TLS error"
    if isinstance(exc, OSError):
        return os_error_words(exc)
    return "unexpected error"


# --- the origin observation shared by the http.* checks ------------------------------------------


def origin_schemes(policy: ProtocolPolicy) -> tuple[str, ...]:
    """The protocols CloudFront uses to the origin under `policy` (match-viewer: both)."""
    if policy == ProtocolPolicy.HTTP_ONLY:
        return ("http",)
    if policy == ProtocolPolicy.HTTPS_ONLY:
        return ("https",)
    return ("http", "https")


def origin_timeouts(deadlines: Deadlines) -> ExchangeTimeouts:
    """CloudFront's deadlines for one origin request: connect and handshake within the connection
    timeout, the head and each packet within the response timeout. One attempt only: the tcp.*
    checks already cover retries, and the whole exchange fits well inside the per-check backstop."""
    return ExchangeTimeouts(
        connect=deadlines.connect,
        tls=deadlines.handshake,
        response=deadlines.response,
        gap=deadlines.packet_gap,
        budget=deadlines.request,
    )


def origin_headers(probe: Probe, request_id: str) -> list[tuple[str, str]]:
    """CloudFront's origin request headers (facts §4.3). X-Forwarded-For is left out: there is no
    viewer, and an invented client address could trip the origin's allow-lists or rate limits."""
    headers = [
        ("Host", probe.host_header),
        ("User-Agent", "Amazon CloudFront"),
        ("Via", new_via()),
        ("X-Amz-Cf-Id", request_id),
        ("Connection", "Keep-Alive"),
    ]
    # The distribution's custom headers, as CloudFront adds them (an ALB rule may require one).
    headers += [(h.name, h.value) for h in probe.origin.custom_headers]
    if probe.origin.method in ("POST", "PUT", "PATCH"):
        headers.append(("Content-Length", "0"))
    return headers


async def origin_exchange(probe: Probe, scheme: str, address: str) -> Exchange:
    """The origin request CloudFront would make, over `scheme` to `address` (memoised). An address
    whose port did not open for the tcp.* check is not asked again: the exchange carries that
    outcome, so the HTTP checks judge the addresses that connect and point at tcp.* for the rest.
    Over HTTPS the request goes on the connection of tls.handshake's own handshake."""
    return await probe.once(("http", scheme, address), lambda: _observed(probe, scheme, address))


def start_exchanges(probe: Probe) -> None:
    """Start every origin request now (the addresses are vetted): each goes out as soon as its
    connection is ready, while the rest of the checks' code loads in a cold process; the checks
    that judge it share the same exchange (`origin_exchange`)."""
    for scheme in origin_schemes(probe.origin.protocol_policy):
        for address in probe.addresses:
            probe.begin(
                ("http", scheme, address), functools.partial(_observed, probe, scheme, address)
            )


async def _observed(probe: Probe, scheme: str, address: str) -> Exchange:
    port = probe.origin.https_port if scheme == "https" else probe.origin.http_port
    tcp = next((o for o in await port_outcomes(probe, scheme) if o.address == address), None)
    if tcp is not None and tcp.status != "open":
        return _not_connected(probe, scheme, address, tcp)
    request_id = new_request_id()
    headers = origin_headers(probe, request_id)
    timeouts = origin_timeouts(probe.deadlines)
    host, method, target = probe.host_header, probe.origin.method, probe.origin.path
    if scheme == "http":
        return await exchange(
            address=address,
            port=port,
            host=host,
            method=method,
            target=target,
            headers=headers,
            timeouts=timeouts,
            request_id=request_id,
        )
    obs, session = await tls_connection(probe, address)
    if session is None:
        return _not_negotiated(probe, address, port, obs)
    return await exchange_over(
        session,
        address=address,
        host=host,
        sni=probe.sni,
        method=method,
        target=target,
        headers=headers,
        timeouts=timeouts,
        request_id=request_id,
    )


def _not_negotiated(probe: Probe, address: str, port: int, obs: TlsObservation) -> Exchange:
    """CloudFront's handshake failed: no request is sent (tls.handshake says why)."""
    main = obs.main
    connect = ConnectOutcome(address, port, "open")
    tls_ms: float | None = None
    if obs.unavailable is not None or main is None:
        error = obs.unavailable or "no TLS handshake"
    elif main.tcp is not None:
        connect, error = main.tcp, None
    elif main.failure == "timeout":
        error, tls_ms = f"no TLS handshake within {probe.deadlines.handshake:g} s", main.elapsed_ms
    else:
        error, tls_ms = f"TLS handshake failed: {main.detail or main.failure}", main.elapsed_ms
    return replace(
        _not_connected(probe, "https", address, connect),
        tls_ms=tls_ms,
        tls_error=error,
        total_ms=main.elapsed_ms if main is not None else 0.0,
    )


def _not_connected(probe: Probe, scheme: str, address: str, tcp: ConnectOutcome) -> Exchange:
    return Exchange(
        scheme=scheme,
        address=address,
        port=tcp.port,
        host=probe.host_header,
        sni=probe.sni if scheme == "https" else None,
        method=probe.origin.method,
        target=probe.origin.path,
        request_id="",
        connect=tcp,
        timeouts=origin_timeouts(probe.deadlines),
    )


async def origin_exchanges(probe: Probe) -> tuple[Exchange, ...]:
    """Every protocol the policy uses x every vetted address, concurrently."""
    pairs = [(s, a) for s in origin_schemes(probe.origin.protocol_policy) for a in probe.addresses]
    return tuple(await asyncio.gather(*(origin_exchange(probe, s, a) for s, a in pairs)))
