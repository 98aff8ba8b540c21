"""Real HTTP/1.1 servers on loopback that misbehave on purpose, plain or TLS (trustme certificates).

`HttpServer` is a raw-socket asyncio server (the bytes are written by hand, so it can send what no
framework would: garbage, bad chunking, 25 KB of headers, endless headers, a truncated body). It
runs in the test's own event loop, binds port 0 and records every request it gets. The behaviour
is picked by request path (`ORIGIN_ROUTES`); `FakeEdge` answers every path like a CloudFront edge.
Servers that "never answer" wait for the client to go away instead of sleeping.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import trustme

from cf502.demo.origins import CLOUDFRONT_ERROR_PAGE

__all__ = [
    "CF_ERROR_PAGE",
    "EDGE_HEADERS",
    "ORIGIN_ROUTES",
    "Conn",
    "FakeEdge",
    "HttpServer",
    "HttpServerThread",
    "Seen",
    "http_origin",
    "response",
    "tls_ca",
    "tls_server_context",
]

TLS_NAMES = ("www.example.test", "origin.example.test", "cdn.example.test")
GOOD_BODY = b"hello from the origin\n"


@dataclass(frozen=True, slots=True)
class Seen:
    """One request a server received."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    def query(self, name: str, default: str = "") -> str:
        return parse_qs(urlsplit(self.target).query).get(name, [default])[0]


@dataclass(slots=True)
class Conn:
    """A connection being served: the parsed request and the raw streams."""

    request: Seen
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def until_client_leaves(self, timeout: float | None = None) -> bool:
        """Wait until the client closes (True) or `timeout` passes while it stays (False)."""
        try:
            async with asyncio.timeout(timeout):
                while await self.reader.read(4096):
                    pass
        except TimeoutError:
            return False
        except (ConnectionError, ssl.SSLError):
            pass
        return True


Handler = Callable[[Conn], Awaitable[None]]


def response(
    status: int,
    reason: str,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    length: bool = True,
) -> bytes:
    """Raw response bytes; Content-Length is added unless `length` is False or already given."""
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{n}: {v}" for n, v in headers]
    if length and not any(n.lower() == "content-length" for n, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# --- origin behaviours, by path ------------------------------------------------------------------


async def _good(c: Conn) -> None:
    await c.send(response(200, "OK", [("Content-Type", "text/plain")], GOOD_BODY))


async def _chunked(c: Conn) -> None:
    head = response(200, "OK", [("Transfer-Encoding", "chunked")], length=False)
    await c.send(head + b"6\r\nhello \r\n6\r\norigin\r\n0\r\n\r\n")


async def _truncated(c: Conn) -> None:
    await c.send(response(200, "OK", [("Content-Length", "1000")]) + b"0123456789")


async def _zero_body(c: Conn) -> None:
    await c.send(response(200, "OK", [("Content-Length", "1000")]))


async def _no_length(c: Conn) -> None:
    await c.send(response(200, "OK", [("Connection", "close")], GOOD_BODY, length=False))


async def _garbage(c: Conn) -> None:
    await c.send(b"SSH-2.0-OpenSSH_9.6\r\n")
    await c.until_client_leaves()


async def _bad_status(c: Conn) -> None:
    await c.send(b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n")


async def _bad_chunked(c: Conn) -> None:
    head = response(200, "OK", [("Transfer-Encoding", "chunked")], length=False)
    await c.send(head + b"5\r\nhello\r\nZZ not a chunk size\r\n")
    await c.until_client_leaves()


async def _two_continues(c: Conn) -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\n"
    await c.send(interim + interim + response(200, "OK", body=GOOD_BODY))


def big_headers(total: int) -> list[tuple[str, str]]:
    """Headers adding up to about `total` bytes, the biggest being one Set-Cookie."""
    cookie = "session=" + "c" * (total // 3)
    headers = [("Set-Cookie", cookie)]
    left = total - len(cookie) - 16
    i = 0
    while left > 0:
        pad = "p" * min(900, max(1, left - 20))
        headers.append((f"X-Padding-{i:02d}", pad))
        left -= len(pad) + 16
        i += 1
    return headers


async def _big_headers(c: Conn) -> None:
    await c.send(response(200, "OK", big_headers(25_000), GOOD_BODY))


async def _near_limit_headers(c: Conn) -> None:
    await c.send(response(200, "OK", big_headers(17_500), GOOD_BODY))


async def _endless_headers(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\n")
    line = b"X-Endless: " + b"y" * 1000 + b"\r\n"
    # Bounded even if the client kept reading: 16 MiB, then give up.
    for _ in range(16 * 1024):
        await c.send(line)


async def _big_body(c: Conn) -> None:
    # 4 MiB announced and sent: more than a client reading at most 1 MiB wants.
    await c.send(response(200, "OK", [("Content-Length", str(4 * 1024 * 1024))]))
    block = b"b" * 65536
    for _ in range(64):
        await c.send(block)


async def _slow(c: Conn) -> None:
    delay = float(c.request.query("delay", "2"))
    if not await c.until_client_leaves(timeout=delay):
        await c.send(response(200, "OK", body=GOOD_BODY))


async def _never(c: Conn) -> None:
    await c.until_client_leaves()


async def _stall_body(c: Conn) -> None:
    await c.send(response(200, "OK", [("Content-Length", "100")]) + b"0123456789")
    await c.until_client_leaves()


# --- hostile origins: cheap to serve, expensive for a careless client -----------------------------

EARLY_HINTS = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n"


async def _interim_flood(c: Conn) -> None:
    # 103 Early Hints without end and never a final response; stops at 256 MiB, or when the
    # client goes away (the write fails).
    block = EARLY_HINTS * (65536 // len(EARLY_HINTS))
    for _ in range(4096):
        await c.send(block)


async def _tiny_chunks(c: Conn) -> None:
    # A valid chunked body of `kib` KiB (default 2 MiB, past the client's body cap) in 1-byte
    # chunks: six wire bytes and one parser event per body byte.
    kib = int(c.request.query("kib", "2048"))
    await c.send(response(200, "OK", [("Transfer-Encoding", "chunked")], length=False))
    block = b"1\r\nx\r\n" * 1024
    for _ in range(kib):
        await c.send(block)
    await c.send(b"0\r\n\r\n")


async def _tiny_records(c: Conn) -> None:
    # Over TLS: a Content-Length body of `kib` KiB (default 20), each byte in its own TLS record
    # (one write, one record): cheap to send, a few microseconds each to decrypt.
    kib = int(c.request.query("kib", "20"))
    await c.send(response(200, "OK", [("Content-Length", str(kib * 1024))]))
    for i in range(kib * 1024):
        c.writer.write(b"r")
        if i % 1024 == 1023:
            await c.writer.drain()
            await asyncio.sleep(0)  # a turn for the client on the same loop (drain may not yield)


async def _drip_head(c: Conn) -> None:
    # A status line, then one header byte every `gap` seconds (default 1): each byte comes well
    # within a per-packet timeout, the head never ends. At most 20,000 bytes (hours at 1 byte/s).
    gap = float(c.request.query("gap", "1"))
    await c.send(b"HTTP/1.1 200 OK\r\n")
    line = b"X-Drip: " + b"d" * 90 + b"\r\n"
    for i in range(20_000):
        if await c.until_client_leaves(timeout=gap):
            return
        await c.send(line[i % len(line) : i % len(line) + 1])


async def _redirect_https(c: Conn) -> None:
    host = c.request.header("Host") or "localhost"
    location = f"https://{host}{c.request.target}"
    await c.send(response(301, "Moved Permanently", [("Location", location)]))


async def _redirect_canonical(c: Conn) -> None:
    # A canonical-host rule: every request goes to https://www.example.test, whatever the Host.
    location = f"https://www.example.test{c.request.target}"
    await c.send(response(301, "Moved Permanently", [("Location", location)]))


async def _redirect_self_cdn(c: Conn) -> None:
    location = f"http://cdn.example.test{c.request.target}"
    await c.send(response(301, "Moved Permanently", [("Location", location)]))


async def _redirect_elsewhere(c: Conn) -> None:
    location = "https://elsewhere.example.com/landing"
    await c.send(response(302, "Found", [("Location", location)]))


async def _origin_502(c: Conn) -> None:
    body = b"<html><body>upstream application is down</body></html>"
    await c.send(response(502, "Bad Gateway", [("Server", "nginx")], body))


ORIGIN_ROUTES: Mapping[str, Handler] = {
    "/": _good,
    "/chunked": _chunked,
    "/truncated": _truncated,
    "/zero-body": _zero_body,
    "/no-length": _no_length,
    "/garbage": _garbage,
    "/bad-status": _bad_status,
    "/bad-chunked": _bad_chunked,
    "/two-continues": _two_continues,
    "/big-headers": _big_headers,
    "/near-limit-headers": _near_limit_headers,
    "/endless-headers": _endless_headers,
    "/big-body": _big_body,
    "/slow": _slow,
    "/never": _never,
    "/stall-body": _stall_body,
    "/interim-flood": _interim_flood,
    "/tiny-chunks": _tiny_chunks,
    "/tiny-records": _tiny_records,
    "/drip-head": _drip_head,
    "/redirect-https": _redirect_https,
    "/redirect-canonical": _redirect_canonical,
    "/redirect-self-cdn": _redirect_self_cdn,
    "/redirect-elsewhere": _redirect_elsewhere,
    "/origin-502": _origin_502,
}


# --- the server ----------------------------------------------------------------------------------


async def _read_request(reader: asyncio.StreamReader) -> Seen | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    except ssl.SSLError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = [*lines[0].split(" ", 2), "", ""][:3]
    headers = []
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return Seen(method, target, tuple(headers))


class HttpServer:
    """A raw HTTP/1.1 server on `host`, port 0, choosing its behaviour by request path.

    Use as `async with HttpServer() as server:`; `server.port`, `server.seen` (requests),
    `server.connections` (connections accepted, after their TLS handshake when `tls` is set).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        tls: ssl.SSLContext | None = None,
        routes: Mapping[str, Handler] = ORIGIN_ROUTES,
        default: Handler | None = None,
    ) -> None:
        self.host = host
        self.tls = tls
        self.routes = routes
        self.default = default
        self.port = 0
        self.seen: list[Seen] = []
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        try:
            request = await _read_request(reader)
            if request is None:
                return
            self.seen.append(request)
            handler = self.routes.get(request.path, self.default)
            if handler is None:
                await Conn(request, reader, writer).send(response(404, "Not Found"))
                return
            await handler(Conn(request, reader, writer))
        except (ConnectionError, ssl.SSLError):
            pass  # the client gave up: expected for every timeout test
        finally:
            self._writers.discard(writer)
            writer.transport.abort()
            if task is not None:
                self._tasks.discard(task)

    async def __aenter__(self) -> HttpServer:
        extra: dict[str, Any] = {"ssl": self.tls, "ssl_handshake_timeout": 5} if self.tls else {}
        self._server = await asyncio.start_server(self._serve, self.host, 0, **extra)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()


class HttpServerThread:
    """An `HttpServer` on its own event loop in a thread, for tests that run a real cf502 process
    (a blocking `subprocess.run` would otherwise freeze the server's loop).

    Use as `with HttpServerThread("127.0.0.10") as origin:`; `origin.port`, `origin.server.seen`.
    """

    def __init__(self, host: str = "127.0.0.1", **kwargs: Any) -> None:
        self.server = HttpServer(host, **kwargs)
        self._ready = threading.Event()
        self._failure: list[BaseException] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="http-origin", daemon=True)

    @property
    def port(self) -> int:
        return self.server.port

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                async with self.server:
                    self._ready.set()
                    await self._stop.wait()
            except BaseException as exc:
                self._failure.append(exc)
                self._ready.set()

        asyncio.run(main())

    def __enter__(self) -> HttpServerThread:
        self._thread.start()
        if not self._ready.wait(10) or self._failure:
            raise RuntimeError(f"HTTP test server did not start: {self._failure}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


# --- a fake CloudFront edge ----------------------------------------------------------------------

CF_ERROR_PAGE = CLOUDFRONT_ERROR_PAGE  # the demo's 502 page: one copy of CloudFront's wording

EDGE_HEADERS = (
    ("X-Amz-Cf-Pop", "LHR61-P1"),
    ("X-Amz-Cf-Id", "3pZ1y0mFq7kq0x3v7Jd1sQbqk1K3cPZ0t8oHn0d7y1Qm2xk0w9bYcQ=="),
    ("Via", "1.1 0123456789abcdef0123456789abcdef.cloudfront.net (CloudFront)"),
)


def _edge_handler(answer: str) -> Handler:
    async def handle(c: Conn) -> None:
        if answer == "cf-502":
            headers = [
                ("Server", "CloudFront"),
                ("Content-Type", "text/html"),
                ("X-Cache", "Error from cloudfront"),
                *EDGE_HEADERS,
            ]
            await c.send(response(502, "Bad Gateway", headers, CF_ERROR_PAGE))
        elif answer == "origin-502":
            body = b"<html><body>upstream application is down</body></html>"
            headers = [("Server", "nginx"), ("X-Cache", "Error from cloudfront"), *EDGE_HEADERS]
            await c.send(response(502, "Bad Gateway", headers, body))
        else:
            headers = [("Server", "nginx"), ("X-Cache", "Miss from cloudfront"), *EDGE_HEADERS]
            await c.send(response(200, "OK", headers, GOOD_BODY))

    return handle


class FakeEdge(HttpServer):
    """A TLS server answering every path like a CloudFront edge: `answer` is "cf-502" (CloudFront's
    own error page), "origin-502" (the origin's 502 passed on) or "ok" (200, a cache miss)."""

    def __init__(self, tls: ssl.SSLContext, answer: str, host: str = "127.0.0.1") -> None:
        super().__init__(host, tls=tls, routes={}, default=_edge_handler(answer))


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def tls_server_context(tls_ca: trustme.CA) -> ssl.SSLContext:
    """A server context with a certificate for the test names (www/origin/cdn.example.test)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls_ca.issue_cert(*TLS_NAMES).configure_cert(ctx)
    return ctx


@pytest.fixture
async def http_origin() -> AsyncIterator[HttpServer]:
    """A plain HTTP origin on 127.0.0.1 with every behaviour of ORIGIN_ROUTES."""
    async with HttpServer() as server:
        yield server
