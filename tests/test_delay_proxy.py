"""The benchmarks' delay proxy (`benchmarks/delay.py`) holds what passes as a network RTT away would.

A real echo server and a real DNS world on loopback behind the proxy, timed with the monotonic
clock the proxy's event loop uses. A client's data cannot leave before its SYN-ACK would have come
back (one RTT after connect()), then takes RTT/2 each way: data sent at once is echoed no earlier
than 2 RTT after connect(), data sent after the handshake's RTT has passed 1 RTT after it was sent.
Lower bounds are tight (the proxy's own clock); upper bounds loose (a busy machine may be late).
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import dns.message
import dns.query
import dns.rdatatype
import pytest

from benchmarks.delay import DelayProxy
from tests.servers.dns import ORIGIN_ADDRESS, RESOLVER_ADDRESS, DnsWorld, dns_world_fixture
from tests.servers.tcp import closed_port
from tests.servers.tls import LoopbackServer

__all__ = ["dns_world_fixture"]  # the `dns_world` fixture, used by name

RTT = 0.3
EARLY = 0.002  # seconds a bound may be missed by: float rounding, never a real early delivery
LATE = 0.5  # seconds a busy machine may add to an upper bound
PING = b"ping over the delay proxy"


class Echo(LoopbackServer):
    """Echoes every byte back; notes when each connection's first bytes arrived."""

    def __init__(self, *, host: str) -> None:
        super().__init__(host=host)
        self.first_bytes: list[float] = []  # time.monotonic() of each connection's first bytes

    def handle(self, conn: socket.socket) -> None:
        first = True
        for _ in range(1024):  # 64 MB at most
            data = conn.recv(65536)
            if not data:
                return
            if first:
                with self._lock:
                    self.first_bytes.append(time.monotonic())
                first = False
            conn.sendall(data)

    def arrivals(self) -> list[float]:
        with self._lock:
            return list(self.first_bytes)


@dataclass
class Behind:
    """The proxy and the real servers behind it."""

    proxy: DelayProxy
    echo: Echo
    world: DnsWorld

    @property
    def echo_port(self) -> int:
        """The proxy's port for the echo server (on the echo server's address)."""
        return self.proxy.ports[(ORIGIN_ADDRESS, self.echo.port)]


@pytest.fixture(name="behind")
def behind_fixture(dns_world: DnsWorld) -> Iterator[Behind]:
    with Echo(host=ORIGIN_ADDRESS) as echo:
        with DelayProxy(
            RTT,
            dns_addresses=[RESOLVER_ADDRESS],
            dns_port=dns_world.port,
            origins=[(ORIGIN_ADDRESS, echo.port)],
        ) as proxy:
            yield Behind(proxy, echo, dns_world)


def receive(sock: socket.socket, size: int, within: float = 2 * RTT + 2.0) -> tuple[bytes, float]:
    """`size` bytes from `sock` (fewer if it closes first) and the monotonic time the last came."""
    deadline = time.monotonic() + within
    got = b""
    while len(got) < size:
        left = deadline - time.monotonic()
        assert left > 0, f"only {len(got)} of {size} bytes came back within {within:g} s"
        sock.settimeout(left)
        data = sock.recv(size - len(got))
        if not data:
            break
        got += data
    return got, time.monotonic()


def test_data_sent_at_once_is_echoed_two_rtts_after_connect(behind: Behind) -> None:
    # Given a client that connects through the proxy and sends at once
    started = time.monotonic()
    with socket.create_connection((ORIGIN_ADDRESS, behind.echo_port), timeout=2) as sock:
        sock.sendall(PING)
        # When the echo comes back
        echoed, back = receive(sock, len(PING))
    # Then the data reached the server no earlier than 1.5 RTT after connect() (its SYN-ACK's
    # round trip, then half a round trip), and the echo took half a round trip more
    assert echoed == PING
    (arrived,) = behind.echo.arrivals()
    assert arrived - started >= 1.5 * RTT - EARLY, arrived - started
    assert back - started >= 2 * RTT - EARLY, back - started
    assert back - started < 2 * RTT + LATE, back - started


def test_data_sent_after_the_handshakes_rtt_is_echoed_one_rtt_after_it_was_sent(
    behind: Behind,
) -> None:
    # Given a client that connects through the proxy and sends only once its SYN-ACK would have
    # come back (as `cf502 check` does after loading its TLS library)
    with socket.create_connection((ORIGIN_ADDRESS, behind.echo_port), timeout=2) as sock:
        # A deliberate pause, not a wait for something: the time between connect() and the
        # first bytes is what the proxy must account for. Nothing may come back meanwhile.
        readable, _, _ = select.select([sock], [], [], 1.25 * RTT)
        assert readable == []
        sent = time.monotonic()
        sock.sendall(PING)
        # When the echo comes back
        echoed, back = receive(sock, len(PING))
    # Then the data took half a round trip each way, no more: the handshake's RTT had passed.
    # The old proxy held a connection's first bytes one RTT more (2 RTT after they were sent).
    assert echoed == PING
    (arrived,) = behind.echo.arrivals()
    assert arrived - sent >= 0.5 * RTT - EARLY, arrived - sent
    assert back - sent >= RTT - EARLY, back - sent
    assert back - sent < 1.5 * RTT, back - sent


def test_a_dns_query_over_udp_takes_one_rtt(behind: Behind) -> None:
    # Given the resolver behind the proxy
    query = dns.message.make_query("www.example.test", dns.rdatatype.A)
    # When a query goes through the proxy over UDP
    started = time.monotonic()
    reply = dns.query.udp(query, RESOLVER_ADDRESS, port=behind.proxy.dns_port, timeout=2 * RTT + 2)
    took = time.monotonic() - started
    # Then the real resolver answered it, one round trip later
    assert [r.address for rrset in reply.answer for r in rrset] == [ORIGIN_ADDRESS]
    assert [(s.qname, s.transport) for s in behind.world.resolver.queries()] == [
        ("www.example.test", "udp")
    ]
    assert took >= RTT - EARLY, took
    assert took < RTT + LATE, took


def test_a_refusing_upstream_closes_the_clients_connection_at_once(dns_world: DnsWorld) -> None:
    # Given a proxy for an origin port where nothing listens
    refusing = closed_port(ORIGIN_ADDRESS)
    with DelayProxy(
        RTT,
        dns_addresses=[RESOLVER_ADDRESS],
        dns_port=dns_world.port,
        origins=[(ORIGIN_ADDRESS, refusing)],
    ) as proxy:
        port = proxy.ports[(ORIGIN_ADDRESS, refusing)]
        # When a client connects (the kernel accepts for the proxy) and sends
        started = time.monotonic()
        with socket.create_connection((ORIGIN_ADDRESS, port), timeout=2) as sock:
            sock.sendall(PING)
            # Then the proxy drops the connection as soon as the origin refuses it, sending
            # nothing back (no RTT is spent on a connection that cannot be made)
            try:
                echoed, _ = receive(sock, len(PING))
            except ConnectionResetError:
                echoed = b""
        took = time.monotonic() - started
    assert echoed == b""
    assert took < RTT + LATE, took
