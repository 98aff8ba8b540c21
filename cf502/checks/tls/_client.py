"""CloudFront's TLS client on one connection, and its first words (the ClientHello). No I/O.

A pyOpenSSL connection in memory-BIO mode: `_probe` drives its handshake over asyncio, and a cold
`cf502 check` has it say its ClientHello on the early connections (`cf502.firstconnect`) as soon
as this module has loaded, before asyncio, dnspython and the engine do: the hello then travels
while they load, and the engine's handshake goes on from the server's answer (`FirstHello`).
"""

from __future__ import annotations

from collections.abc import Sequence

from OpenSSL import SSL

from cf502.checks.tls._offer import pyopenssl_context
from cf502.firstconnect import FirstWords

__all__ = ["FirstHello", "client", "outgoing"]

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


class FirstHello:
    """CloudFront's ClientHello for an early connection: a `cf502.firstconnect` speaker.

    Its words' key is (context, server name): the engine's handshake goes on from them only when
    it would have made the same offer to the same name (`_probe`), else it connects afresh.
    Raises OfferUnavailable when this machine cannot make the offer (then nothing is said).
    """

    def __init__(self, protocols: Sequence[str], sni: str) -> None:
        self.ctx = pyopenssl_context(protocols)
        self.sni = sni

    def __call__(self) -> FirstWords:
        conn = client(self.ctx, self.sni)
        try:
            conn.do_handshake()
        except SSL.WantReadError:  # the ClientHello is out; the server's answer is awaited
            pass
        return FirstWords(conn, (self.ctx, self.sni), outgoing(conn))
