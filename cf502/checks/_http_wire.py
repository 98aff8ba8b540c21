"""The origin request as CloudFront writes it, and a bounded parser for the reply. Pure: no I/O.

Why h11 and not httpx: httpx hides exactly what these checks measure (the size of the header block
as sent, the first bytes of a non-HTTP reply, how many body bytes came before the peer closed) and
it buffers without our caps. h11 is the sans-I/O HTTP/1.1 state machine under httpcore: it gives
the protocol grammar (status line, header syntax, chunked framing, Content-Length) with its own
error messages, while this module feeds it bytes itself and so keeps the exact byte counts, a
cap on header bytes (a server sending endless headers costs at most `HEAD_CAP`) and a cap on
body bytes (`BODY_CAP`, then reading stops and the observation says so).
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, replace

import h11

__all__ = [
    "BODY_CAP",
    "BODY_KEEP",
    "HEAD_CAP",
    "ResponseObservation",
    "ResponseParser",
    "build_request",
    "new_request_id",
    "new_via",
]

# CloudFront's limit is 20,480 bytes for the whole header block; past 64 KiB there is nothing more
# to learn, so reading stops there.
HEAD_CAP = 64 * 1024
# Enough to see the body is flowing and framed correctly; a bigger body is not read to the end.
BODY_CAP = 1024 * 1024
# Body bytes kept for the edge check (CloudFront's error page is about 1 KB).
BODY_KEEP = 16 * 1024

_BLANK_LINE = re.compile(b"\n\r?\n")


def new_request_id() -> str:
    """An id shaped like CloudFront's X-Amz-Cf-Id (56 base64url characters), unique per request,
    so the origin's own access logs can be searched for this exact request."""
    return base64.urlsafe_b64encode(secrets.token_bytes(40)).decode("ascii")


def new_via() -> str:
    """A Via value in CloudFront's format: `1.1 <32 hex>.cloudfront.net (CloudFront)`."""
    return f"1.1 {secrets.token_hex(16)}.cloudfront.net (CloudFront)"


def build_request(
    method: str, target: str, headers: list[tuple[str, str]]
) -> tuple[bytes, h11.Connection]:
    """The request bytes and an h11 client connection primed to read the reply to them.

    Raises ValueError when a header value or the target cannot be sent (e.g. contains CR/LF).
    """
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=HEAD_CAP + 1)
    try:
        data = conn.send(h11.Request(method=method, target=target, headers=headers))
        data += conn.send(h11.EndOfMessage())
    except h11.LocalProtocolError as exc:
        raise ValueError(f"cannot send this request: {exc}") from None
    return data, conn


@dataclass(frozen=True, slots=True)
class ResponseObservation:
    """What came back, as far as it was read.

    Attributes:
        raw_bytes: every byte received.
        first_bytes: the first bytes received (for "this is not HTTP" evidence).
        interim: statuses of 1xx responses before the final one.
        status / reason / http_version: the final status line (None/"" when none parsed).
        headers: the final response's headers as sent (original case), decoded as Latin-1.
        head_bytes: exact size of the final status line + headers + blank line, when complete.
        head_cap_hit: the header block did not end within HEAD_CAP bytes; reading stopped.
        framing: "content-length", "chunked", "close" (body until the peer closes) or "none".
        content_length: the Content-Length header's value, if any.
        body_bytes: body bytes received (after de-chunking).
        body_prefix: the first BODY_KEEP body bytes.
        body_cap_hit: BODY_CAP body bytes arrived; reading stopped before the end.
        complete: the whole response arrived, correctly framed.
        eof: the peer closed the connection.
        error: why the reply is not a valid HTTP/1.1 response, in words.
        error_kind: "not-http", "malformed", "chunked", "truncated", "zero-body" (closed before
            any of the announced body), "empty", "closed-in-head", "interim" (more than one
            100 Continue); None when there is no error.
    """

    raw_bytes: int = 0
    first_bytes: bytes = b""
    interim: tuple[int, ...] = ()
    status: int | None = None
    reason: str = ""
    http_version: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    head_bytes: int | None = None
    head_cap_hit: bool = False
    framing: str | None = None
    content_length: int | None = None
    body_bytes: int = 0
    body_prefix: bytes = b""
    body_cap_hit: bool = False
    complete: bool = False
    eof: bool = False
    error: str | None = None
    error_kind: str | None = None

    @property
    def head_done(self) -> bool:
        return self.status is not None

    @property
    def started(self) -> bool:
        return self.raw_bytes > 0

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None."""
        low = name.lower()
        return next((v for n, v in self.headers if n.lower() == low), None)


def _framing(method: str, status: int, headers: list[tuple[bytes, bytes]]) -> str:
    if method == "HEAD" or status in (204, 304):
        return "none"
    names = {n.lower() for n, _ in headers}
    if b"transfer-encoding" in names:
        return "chunked"  # h11 accepts no other transfer coding
    if b"content-length" in names:
        return "content-length"
    return "close"


class ResponseParser:
    """Feed it the bytes of one reply (and EOF); it keeps an exact, bounded account of them."""

    def __init__(
        self,
        method: str,
        conn: h11.Connection,
        *,
        head_cap: int = HEAD_CAP,
        body_cap: int = BODY_CAP,
    ) -> None:
        self._method = method.upper()
        self._conn = conn
        self._head_cap = head_cap
        self._body_cap = body_cap
        self._head_buf = bytearray()  # raw bytes until the final head is parsed
        self._body = bytearray()
        self._obs = ResponseObservation()
        self._stopped = False

    @property
    def done(self) -> bool:
        """Nothing more to read: complete, broken, capped or closed."""
        return self._stopped

    @property
    def started(self) -> bool:
        return self._obs.raw_bytes > 0

    @property
    def head_done(self) -> bool:
        return self._obs.status is not None

    def observation(self) -> ResponseObservation:
        return replace(self._obs, body_prefix=bytes(self._body))

    def feed(self, data: bytes) -> None:
        """Account for `data` (non-empty) and parse as far as it goes."""
        if self._stopped or not data:
            return
        obs = self._obs
        first = obs.first_bytes or data[:64]
        self._obs = obs = replace(obs, raw_bytes=obs.raw_bytes + len(data), first_bytes=first)
        if not self.head_done:
            self._head_buf += data
            if not self._looks_like_http():
                return
            if self._head_too_big():
                return
        self._conn.receive_data(data)
        self._drain()

    def feed_eof(self) -> None:
        """The peer closed the connection."""
        if self._stopped:
            return
        self._obs = replace(self._obs, eof=True)
        self._conn.receive_data(b"")
        self._drain()
        if not self._stopped:  # h11 always concludes on EOF; this is a safety net
            self._fail("truncated", "the origin closed the connection before the response ended")

    def _looks_like_http(self) -> bool:
        # A reply that does not start with "HTTP/" is not HTTP; say so at once instead of waiting
        # for a blank line that may never come (an SSH banner, a TLS alert, a stray service).
        prefix = bytes(self._head_buf[:5])
        if b"HTTP/".startswith(prefix) or prefix.startswith(b"HTTP/"):
            return True
        shown = bytes(self._head_buf[:40])
        self._fail("not-http", f"the origin's reply is not HTTP: it starts with {shown!r}")
        return False

    def _head_too_big(self) -> bool:
        if len(self._head_buf) <= self._head_cap:
            return False
        # Only the final head counts against the cap, but interim heads are tiny anyway.
        if _BLANK_LINE.search(self._head_buf, 0, self._head_cap + 4) is not None:
            return False
        self._obs = replace(self._obs, head_cap_hit=True)
        self._stopped = True
        return True

    def _drain(self) -> None:
        while not self._stopped:
            try:
                event = self._conn.next_event()
            except h11.RemoteProtocolError as exc:
                self._protocol_error(str(exc))
                return
            if event is h11.NEED_DATA:
                return
            if event is h11.PAUSED or isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                self._obs = replace(self._obs, complete=True)
                self._stopped = True
                return
            if isinstance(event, h11.InformationalResponse):
                self._interim(event.status_code)
            elif isinstance(event, h11.Response):
                self._head(event)
            elif isinstance(event, h11.Data):
                self._data(bytes(event.data))

    def _interim(self, status: int) -> None:
        interim = (*self._obs.interim, status)
        self._obs = replace(self._obs, interim=interim)
        if interim.count(100) > 1:
            self._fail(
                "interim",
                "the origin sent more than one 100 Continue response, which CloudFront rejects",
            )

    def _head(self, event: h11.Response) -> None:
        # The final head starts after the interim heads; each head ends at a blank line.
        start = 0
        for _ in self._obs.interim:
            m = _BLANK_LINE.search(self._head_buf, start)
            start = m.end() if m else start
        m = _BLANK_LINE.search(self._head_buf, start)
        head_bytes = (m.end() - start) if m else None
        raw = list(event.headers.raw_items())
        headers = tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in raw)
        length = next((v for n, v in raw if n.lower() == b"content-length"), None)
        self._obs = replace(
            self._obs,
            status=event.status_code,
            reason=event.reason.decode("latin-1"),
            http_version=event.http_version.decode("ascii", "replace"),
            headers=headers,
            head_bytes=head_bytes,
            framing=_framing(self._method, event.status_code, raw),
            content_length=_int_or_none(length),
        )
        self._head_buf = bytearray()

    def _data(self, chunk: bytes) -> None:
        room = BODY_KEEP - len(self._body)
        if room > 0:
            self._body += chunk[:room]
        body_bytes = self._obs.body_bytes + len(chunk)
        self._obs = replace(self._obs, body_bytes=body_bytes)
        if body_bytes >= self._body_cap:
            self._obs = replace(self._obs, body_cap_hit=True)
            self._stopped = True

    def _protocol_error(self, message: str) -> None:
        obs = self._obs
        if not obs.head_done:
            if obs.eof and obs.raw_bytes == 0:
                self._fail("empty", "the origin closed the connection without sending a response")
            elif obs.eof:
                self._fail(
                    "closed-in-head",
                    f"the origin closed the connection after {obs.raw_bytes} bytes, in the "
                    "middle of the status line and headers",
                )
            else:
                self._fail("malformed", f"the status line or headers are malformed: {message}")
            return
        if obs.eof:
            kind = "zero-body" if obs.body_bytes == 0 and obs.framing != "chunked" else "truncated"
            self._fail(kind, _truncation(obs))
        elif obs.framing == "chunked":
            self._fail(
                "chunked",
                f"the chunked body is malformed after {obs.body_bytes} body bytes: {message}",
            )
        else:
            self._fail("malformed", f"the body is malformed: {message}")

    def _fail(self, kind: str, message: str) -> None:
        self._obs = replace(self._obs, error=message, error_kind=kind)
        self._stopped = True


def _int_or_none(value: bytes | None) -> int | None:
    try:
        return int(value.split(b",")[0]) if value is not None else None
    except ValueError:
        return None


def _truncation(obs: ResponseObservation) -> str:
    if obs.framing == "chunked":
        return (
            f"the origin closed the connection after {obs.body_bytes} body bytes, before the "
            "end of the chunked body (no final 0-size chunk)"
        )
    if obs.body_bytes == 0:
        return (
            f"the origin closed the connection before sending any of the {obs.content_length} "
            "body bytes its Content-Length announces"
        )
    return (
        f"the origin closed the connection after {obs.body_bytes} of {obs.content_length} body "
        "bytes (Content-Length)"
    )
