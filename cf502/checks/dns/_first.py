"""The resolver's side of `cf502.firstquery`: take the reply of a query `cf502 check` already sent.

`FirstNameserver` stands in for dnspython's `Do53Nameserver` for the server the early queries went
to. When dnspython is about to send, over UDP, a query identical to an early one (everything but
the id), it reads the early query's reply instead, validated as dnspython's own `udp()` validates
(`ignore_unexpected`, `ignore_errors`, `raise_on_truncation`). Whatever the early socket cannot
settle (an ICMP error dnspython's unconnected socket would never see, a flood of datagrams that
are not the reply) hands the query back to dnspython's normal path with the time left, so
verdicts, retries, the TCP fallback and timeouts are dnspython's own.
"""

from __future__ import annotations

import asyncio
import socket
import time

import dns._asyncbackend
import dns.asyncresolver
import dns.exception
import dns.inet
import dns.message
import dns.nameserver

from cf502.firstquery import EarlyQuery, FirstQueries

__all__ = ["MAX_DATAGRAMS", "FirstNameserver", "adopt"]

# Datagrams read from an early socket before giving it up: a resolver answers with one, a hostile
# one may send thousands that must not cost us more than a few parses.
MAX_DATAGRAMS = 16


class FirstNameserver(dns.nameserver.Do53Nameserver):
    """A Do53 nameserver that first looks for an early query identical to the one asked."""

    def __init__(self, address: str, port: int, queries: FirstQueries) -> None:
        super().__init__(address, port)
        self.queries = queries

    async def async_query(
        self,
        request: dns.message.QueryMessage,
        timeout: float,
        source: str | None,
        source_port: int,
        max_size: bool,
        backend: dns._asyncbackend.Backend,  # dns.asyncbackend re-exports it, untyped
        one_rr_per_rrset: bool = False,
        ignore_trailing: bool = False,
    ) -> dns.message.Message:
        started = time.monotonic()
        early = None
        # Only a plain UDP query can have been sent early: not TCP, not TSIG-signed (its wire
        # would be signed now), not from a chosen source, not on another I/O library.
        if (
            not max_size
            and request.keyring is None
            and source is None
            and not source_port
            and backend.name() == "asyncio"
        ):
            early = self.queries.take((self.address, self.port), request.to_wire())
        if early is not None:
            reply = await _early_reply(early, timeout, one_rr_per_rrset, ignore_trailing)
            if reply is not None:
                reply.time = time.monotonic() - started
                return reply
            timeout = max(0.0, timeout - (time.monotonic() - started))
        return await super().async_query(
            request,
            timeout,
            source,
            source_port,
            max_size,
            backend,
            one_rr_per_rrset=one_rr_per_rrset,
            ignore_trailing=ignore_trailing,
        )


async def _early_reply(
    early: EarlyQuery, timeout: float, one_rr_per_rrset: bool, ignore_trailing: bool
) -> dns.message.Message | None:
    """The reply to `early` on its socket within `timeout` (closing the socket), or None when the
    socket cannot tell: an ICMP error, or MAX_DATAGRAMS datagrams none of which is the reply.

    Raises dns.exception.Timeout as dnspython's udp() does, and dns.message.Truncated for a
    truncated reply to it (dnspython then asks again over TCP).
    """
    query = dns.message.from_wire(early.wire)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    with socket.socket(fileno=early.detach()) as sock:
        sock.setblocking(False)  # it is; said again for asyncio, which asks the Python object
        for _ in range(MAX_DATAGRAMS):
            try:
                async with asyncio.timeout_at(deadline):
                    wire = await loop.sock_recv(sock, 65535)
            except TimeoutError:
                raise dns.exception.Timeout(timeout=timeout) from None  # type: ignore[no-untyped-call]
            except OSError:
                # ICMP port/host unreachable on the connected socket: dnspython's own socket is
                # not connected and never sees it, so its path decides what the silence means.
                return None
            try:
                reply = dns.message.from_wire(
                    wire,
                    keyring=query.keyring,
                    request_mac=query.mac,
                    one_rr_per_rrset=one_rr_per_rrset,
                    ignore_trailing=ignore_trailing,
                    raise_on_truncation=True,
                )
            except dns.message.Truncated as exc:
                if query.is_response(exc.message()):  # type: ignore[no-untyped-call]
                    raise
                continue
            except Exception:  # noqa: S112  (garbage: ignored, as ignore_errors=True does)
                continue
            if query.is_response(reply):
                return reply
    return None


def adopt(res: dns.asyncresolver.Resolver, queries: FirstQueries) -> None:
    """Let `res` take the early queries: its nameservers that they were sent to (same address
    and port) become FirstNameservers. The others, and every other query, are untouched."""
    servers: list[str | dns.nameserver.Nameserver] = []
    changed = False
    for ns in res.nameservers:
        if isinstance(ns, str) and dns.inet.is_address(ns):
            port = res.nameserver_ports.get(ns, res.port)
            if queries.expects((ns, port)):
                servers.append(FirstNameserver(ns, port, queries))
                changed = True
                continue
        servers.append(ns)
    if changed:
        res.nameservers = servers
