"""CloudFront's TLS client handshake on one connection, without I/O (pyOpenSSL, memory BIOs).

`Handshake` says what to send and takes what the server sends, and keeps what it has seen of the
server's flight (`ServerFlight`) and how it ended. `_probe` drives it over asyncio; a cold
`cf502 check` starts it on the early connections (`cf502.firstconnect`) as soon as this module has
loaded, before asyncio, dnspython and the engine: `FirstHello` says its ClientHello there, and the
early lane feeds it the server's answer as it comes, until the engine takes the connection and
goes on from wherever it is (`_probe`). Either way every server byte goes through `hear`, under
the same caps.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from OpenSSL import SSL

from cf502.checks.tls._offer import pyopenssl_context
from cf502.checks.tls._wire import ServerFlight
from cf502.firstconnect import FirstWords

__all__ = ["MAX_HANDSHAKE_BYTES", "FirstHello", "Handshake", "client", "openssl_words", "outgoing"]

# More than any honest server flight (OpenSSL itself refuses chains over 100 KB).
MAX_HANDSHAKE_BYTES = 256 * 1024
_READ = 16 * 1024


def client(ctx: SSL.Context, sni: str) -> SSL.Connection:
    """A client connection making `ctx`'s offer with the server name `sni`, not started."""
    conn = SSL.Connection(ctx, None)
    conn.set_tlsext_host_name(sni.encode("ascii"))
    conn.set_connect_state()
    return conn


def outgoing(conn: SSL.Connection) -> bytes:
    """What the connection has to send now (b"" when nothing)."""
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


def openssl_words(exc: Exception) -> str:
    """OpenSSL's reasons from a pyOpenSSL error, e.g. 'sslv3 alert handshake failure'."""
    args = exc.args[0] if exc.args else None
    if isinstance(args, list):
        reasons = [str(r[2]) for r in args if isinstance(r, tuple) and len(r) == 3 and r[2]]
        if reasons:
            return "; ".join(dict.fromkeys(reasons))
    if isinstance(exc, SSL.SysCallError) and len(exc.args) == 2:
        return str(exc.args[1])
    return str(exc) or type(exc).__name__


class Handshake:
    """One client handshake with `ctx`'s offer to `sni`, fed the server's bytes by its driver.

    Attributes:
        conn: the pyOpenSSL connection (kept open by a `Session` afterwards).
        flight: what the server has sent so far, parsed (its choices, chain, alerts).
        done: the handshake completed.
        failure: None, or why it ended ("oversized", "not-tls" or "tls-error", and words).
        said_at / over_at: time.perf_counter() when the ClientHello was made and when the
            handshake ended (None until then): its own duration, whichever thread drove it.
    """

    def __init__(self, ctx: SSL.Context, sni: str) -> None:
        self.conn = client(ctx, sni)
        self.flight = ServerFlight()
        self.done = False
        self.failure: tuple[str, str] | None = None
        self.said_at = 0.0
        self.over_at: float | None = None

    @property
    def over(self) -> bool:
        """Nothing more to hear: it completed or failed."""
        return self.done or self.failure is not None

    def start(self) -> bytes:
        """The ClientHello."""
        self.said_at = time.perf_counter()
        return self._step()

    def hear(self, data: bytes) -> bytes:
        """Take the server's next bytes (not after `over`); what to send back (b"" if nothing).
        An oversized flight or one that is not TLS ends it before OpenSSL reads a byte of it."""
        self.flight.feed(data)
        if self.flight.received > MAX_HANDSHAKE_BYTES:
            self._end("oversized", f"the origin sent more than {MAX_HANDSHAKE_BYTES:,} bytes")
            return b""
        if self.flight.not_tls:
            self._end("not-tls", "")
            return b""
        self.conn.bio_write(data)
        return self._step()

    def _step(self) -> bytes:
        try:
            self.conn.do_handshake()
        except SSL.WantReadError:
            pass
        except SSL.Error as exc:  # what we send now is our alert, as a real client sends it
            self._end("tls-error", openssl_words(exc))
        else:
            self.done = True
            self.over_at = time.perf_counter()
        return outgoing(self.conn)

    def _end(self, kind: str, detail: str) -> None:
        self.failure = kind, detail
        self.over_at = time.perf_counter()


class FirstHello:
    """CloudFront's ClientHello for an early connection: a `cf502.firstconnect` speaker, whose
    words' state is the `Handshake` (the early lane goes on feeding it the server's answer).

    Its words' key is (context, server name): the engine goes on from them only when it would
    have made the same offer to the same name (`_probe`), else it connects afresh.
    Raises OfferUnavailable when this machine cannot make the offer (then nothing is said).
    """

    def __init__(self, protocols: Sequence[str], sni: str) -> None:
        self.ctx = pyopenssl_context(protocols)
        self.sni = sni

    def __call__(self) -> FirstWords:
        handshake = Handshake(self.ctx, self.sni)
        return FirstWords(handshake, (self.ctx, self.sni), handshake.start())
