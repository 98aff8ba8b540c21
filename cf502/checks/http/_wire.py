"""The origin request as CloudFront writes it, and a bounded parser for the reply. Pure: no I/O.

Why h11 and not httpx: httpx hides exactly what these checks measure (the size of the header block
as sent, the first bytes of a non-HTTP reply, how many body bytes came before the peer closed) and
it buffers without our caps. h11 is the sans-I/O HTTP/1.1 state machine under httpcore: it gives
the protocol grammar (status line, header syntax, chunked framing, Content-Length) with its own
error messages, while this module feeds it bytes itself and so keeps the exact byte counts, a
cap on header bytes (a server sending endless headers, or endless interim responses, costs at
most `HEAD_CAP`), caps on body bytes (`BODY_CAP`) and body events (`EVENT_CAP`: a body of 1-byte
chunks), after which reading stops and the observation says so; and it parses in bounded steps
so that no single call holds an event loop.
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
    "EVENT_CAP",
    "HEAD_CAP",
    "INTERIM_CAP",
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
# Interim (1xx) responses read before the final one: origins send one 100 Continue or a few 103
# Early Hints; more is a flood. Their bytes also count against HEAD_CAP.
INTERIM_CAP = 8
# Body events (chunks, partial chunks, reads) per response: h11 costs about 10 us an event, so
# a body of 1-byte chunks would cost seconds of CPU before BODY_CAP; this keeps it near 0.2 s.
EVENT_CAP = 16 * 1024
# Parser events per step; the caller lets its event loop run between steps.
STEP_EVENTS = 256

_BLANK_LINE = re.compile(b"\n\r?\n")
_INTERIM_LINE = re.compile(rb"HTTP/\d\.\d 1\d\d")


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


@dataclass(frozen=True)
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
        body_events: body pieces parsed (chunks or parts of chunks, and reads).
        body_prefix: the first BODY_KEEP body bytes.
        body_cap_hit: BODY_CAP body bytes arrived; reading stopped before the end.
        event_cap_hit: the body came in EVENT_CAP pieces before its end or BODY_CAP; reading
            stopped there (the framing was sound that far).
        complete: the whole response arrived, correctly framed.
        eof: the peer closed the connection.
        error: why the reply is not a valid HTTP/1.1 response, in words.
        error_kind: "not-http", "malformed", "chunked", "truncated", "zero-body" (closed before
            any of the announced body), "empty", "closed-in-head", "interim" (more than one
            100 Continue), "interim-flood" (more than INTERIM_CAP interim responses, or interim
            heads filling HEAD_CAP); None when there is no error.
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
    body_events: int = 0
    body_prefix: bytes = b""
    body_cap_hit: bool = False
    event_cap_hit: bool = False
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
    """Feed it the bytes of one reply (and EOF); it keeps an exact, bounded account of them.

    Parsing goes in steps of at most `step_events` parser events: after `feed`, `feed_eof` or
    `resume`, `pending` says whether bytes already fed may hold more events, and the caller calls
    `resume()` (an async caller yields to its event loop first). One read can hold thousands of
    events (a body in 1-byte chunks), and none of them may hold the loop for long.
    """

    def __init__(
        self,
        method: str,
        conn: h11.Connection,
        *,
        head_cap: int = HEAD_CAP,
        body_cap: int = BODY_CAP,
        event_cap: int = EVENT_CAP,
        interim_cap: int = INTERIM_CAP,
        step_events: int = STEP_EVENTS,
    ) -> None:
        self._method = method.upper()
        self._conn = conn
        self._head_cap = head_cap
        self._body_cap = body_cap
        self._event_cap = event_cap
        self._interim_cap = interim_cap
        self._step_events = step_events
        # Counters live here, not in the frozen observation: rebuilding a dataclass per event
        # is what made a body of tiny chunks cost seconds.
        self._raw_bytes = 0
        self._first = b""
        self._eof = False
        self._head_buf = bytearray()  # every head's bytes (interim ones too), at most head_cap
        self._head_start = 0  # where the head being parsed starts in _head_buf
        self._held = b""  # head bytes past head_cap, given to h11 only if the head ended in time
        self._interim: list[int] = []
        self._continues = 0
        self._body = bytearray()
        self._body_bytes = 0
        self._body_events = 0
        self._obs = ResponseObservation()  # what changes rarely: head, verdict, caps
        self._stopped = False
        self._pending = False

    @property
    def done(self) -> bool:
        """Nothing more to read: complete, broken, capped or closed."""
        return self._stopped

    @property
    def pending(self) -> bool:
        """Bytes already fed may hold more events: call `resume()`."""
        return self._pending and not self._stopped

    @property
    def started(self) -> bool:
        return self._raw_bytes > 0

    @property
    def head_done(self) -> bool:
        return self._obs.status is not None

    def observation(self) -> ResponseObservation:
        return replace(
            self._obs,
            raw_bytes=self._raw_bytes,
            first_bytes=self._first,
            interim=tuple(self._interim),
            body_bytes=self._body_bytes,
            body_events=self._body_events,
            body_prefix=bytes(self._body),
            eof=self._eof,
        )

    def feed(self, data: bytes, *, pieces: int = 1) -> None:
        """Account for `data` and parse one step of it (see `pending`). `pieces`: how many reads
        or TLS records `data` came in (each counts as a body event)."""
        if self._stopped or not data:
            return
        self._raw_bytes += len(data)
        if not self._first:
            self._first = bytes(data[:64])
        if self.head_done:
            # A read is work too: 1-byte packets (or TLS records) cost as much as chunks.
            self._body_events += pieces
        else:
            # Every head (interim ones too) counts against one budget; h11 never sees more
            # than head_cap head bytes, so a head that does not end in time costs no more.
            room = self._head_cap - len(self._head_buf)
            if len(data) > room:
                self._held += bytes(data[room:])
                data = data[:room]
            self._head_buf += data
            if not self._looks_like_http():
                return
        if data:
            self._conn.receive_data(data)
        self._drain()

    def feed_eof(self) -> None:
        """The peer closed the connection (then see `pending`)."""
        if self._stopped:
            return
        self._eof = True
        self._conn.receive_data(b"")
        self._drain()

    def resume(self) -> None:
        """Parse the next step of the bytes already fed."""
        if self.pending:
            self._drain()

    def _looks_like_http(self) -> bool:
        # A reply that does not start with "HTTP/" is not HTTP; say so at once instead of waiting
        # for a blank line that may never come (an SSH banner, a TLS alert, a stray service).
        prefix = bytes(self._head_buf[:5])
        if b"HTTP/".startswith(prefix) or prefix.startswith(b"HTTP/"):
            return True
        shown = bytes(self._head_buf[:40])
        self._fail("not-http", f"the origin's reply is not HTTP: it starts with {shown!r}")
        return False

    def _over_head_cap(self) -> None:
        # The heads so far fill head_cap bytes and the final one has not ended. Interim heads
        # taking the budget (or the unfinished head being one more) is a flood; otherwise the
        # final head itself is too big.
        unfinished = bytes(self._head_buf[self._head_start : self._head_start + 16])
        if self._interim and (
            _INTERIM_LINE.match(unfinished) or self._head_start >= self._head_cap // 2
        ):
            self._fail(
                "interim-flood",
                f"the origin sent a flood of interim (1xx) responses: "
                f"{_interim_words(self._interim)} filling {self._head_cap:,} bytes and no final "
                "response",
            )
            return
        self._obs = replace(self._obs, head_cap_hit=True)
        self._stopped = True

    def _drain(self) -> None:
        self._pending = False
        steps = self._step_events
        while not self._stopped:
            if steps == 0:
                self._pending = True
                return
            steps -= 1
            try:
                event = self._conn.next_event()
            except h11.RemoteProtocolError as exc:
                self._protocol_error(str(exc))
                return
            if event is h11.NEED_DATA:
                if not self.head_done and self._held:
                    self._over_head_cap()
                elif self._eof:  # h11 always concludes on EOF; this is a safety net
                    self._fail(
                        "truncated", "the origin closed the connection before the response ended"
                    )
                return
            if event is h11.PAUSED or isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                self._obs = replace(self._obs, complete=True)
                self._stopped = True
                return
            if isinstance(event, h11.InformationalResponse):
                self._interim_head(event.status_code)
            elif isinstance(event, h11.Response):
                self._head(event)
            elif isinstance(event, h11.Data):
                self._data(event.data)

    def _interim_head(self, status: int) -> None:
        self._interim.append(status)
        # Each head ends at a blank line; searching from the previous one keeps this linear.
        m = _BLANK_LINE.search(self._head_buf, self._head_start)
        if m is not None:
            self._head_start = m.end()
        self._continues += status == 100
        if self._continues > 1:
            self._fail(
                "interim",
                "the origin sent more than one 100 Continue response, which CloudFront rejects",
            )
        elif len(self._interim) > self._interim_cap:
            self._fail(
                "interim-flood",
                f"the origin sent a flood of interim (1xx) responses: "
                f"{_interim_words(self._interim)} and no final response (reading stops after "
                f"{self._interim_cap})",
            )

    def _head(self, event: h11.Response) -> None:
        m = _BLANK_LINE.search(self._head_buf, self._head_start)
        head_bytes = (m.end() - self._head_start) if m else None
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
        if self._held:  # the head ended within the budget: what followed it is body
            self._conn.receive_data(self._held)
            self._held = b""

    def _data(self, chunk: bytes | bytearray | memoryview) -> None:
        room = BODY_KEEP - len(self._body)
        if room > 0:
            self._body += chunk[:room]
        self._body_bytes += len(chunk)
        self._body_events += 1
        if self._body_bytes >= self._body_cap:
            self._obs = replace(self._obs, body_cap_hit=True)
            self._stopped = True
        elif self._body_events >= self._event_cap:
            # The framing is sound this far; reading on would only cost CPU (about 10 us per
            # event), not tell more about why CloudFront fails.
            self._obs = replace(self._obs, event_cap_hit=True)
            self._stopped = True

    def _protocol_error(self, message: str) -> None:
        obs = self.observation()
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


def _interim_words(statuses: list[int]) -> str:
    """`9 (103 x9)`."""
    counts: dict[int, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    each = ", ".join(f"{s} x{n}" for s, n in sorted(counts.items()))
    return f"{len(statuses)} ({each})"


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
