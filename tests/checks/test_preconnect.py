"""CloudFront's TCP connections opened as soon as the addresses are vetted (`Probe.preconnect`).

The engine opens one connection per vetted address to the HTTPS port before the TLS checks load;
tcp.https reports those connections' outcomes and CloudFront's handshake (and then the origin
request) speaks on them. Against real origins on loopback that count what they accept: one
connection per address, none left open after the diagnosis, and the same verdicts as on a fresh
connection when the origin refuses or closes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import gc
import logging
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography import x509

from cf502.checks.tcp import PortOpen, port_outcomes
from cf502.checks.tls._offer import pyopenssl_context
from cf502.checks.tls._probe import session
from cf502.checks.tls.handshake import Handshake
from cf502.engine import OnResult, diagnose
from cf502.model import CheckResult, Report, Status
from cf502.settings import OriginSettings
from cf502.target import parse_target
from tests.certs import PrivateKey, issue_leaf, pki
from tests.servers.dns import ORIGIN_ADDRESS, DnsWorld, dns_world_fixture, example_zones
from tests.servers.tcp import closed_port
from tests.servers.tls import TlsServer, make_probe, root_ca_file_fixture, same_port

__all__ = ["dns_world_fixture", "root_ca_file_fixture"]  # fixtures used by name

WWW = "www.example.test"  # resolves to ORIGIN_ADDRESS (127.0.0.10) in the test zones
DUO = "duo.example.test"
DUO_ADDRESSES = (ORIGIN_ADDRESS, "127.0.0.11")
LEFT_WITHIN = 5.0  # seconds for the client to close a connection after the diagnosis returned
CLOSED_WORDS = "the origin closed the connection without answering the ClientHello"
# tls.handshake's summary for it: the same words, as a sentence
CLOSED_SUMMARY = (
    f"The origin closed the connection without answering the ClientHello, on {ORIGIN_ADDRESS}."
)


@dataclass
class Accepted:
    """One connection an origin accepted, as the origin saw it."""

    local: str  # the address it was accepted on
    peer: tuple[str, int]  # the client's address and port
    spoke: bool = False  # the client sent at least one byte
    heard: threading.Event = field(default_factory=threading.Event)  # set with `spoke`
    request: bytes = b""  # the first plaintext the client sent after the TLS handshake
    left: threading.Event = field(default_factory=threading.Event)  # the client closed/reset it


class CountingOrigin(TlsServer):
    """A TLS origin that records every connection it accepts, in accept order: whether the client
    sent anything, the request it sent over TLS, and whether the client then went away.

    After its reply it sends FIN (as TlsServer's close does) but keeps reading until the client
    leaves (EOF or reset), so a connection the client never closes shows as not `left`.
    `close_at_once`: send FIN as soon as a connection is accepted, answer nothing, and read until
    the client leaves (no unread data is ever discarded, so the kernel never turns the close into
    a reset: the failure is the same whenever the client speaks).
    """

    def __init__(
        self,
        chain: Sequence[x509.Certificate],
        key: PrivateKey,
        *,
        close_at_once: bool = False,
        **kw: Any,
    ) -> None:
        super().__init__(chain, key, **kw)
        self.close_at_once = close_at_once
        self._accepted: dict[tuple[str, int], Accepted] = {}  # in accept order
        self._sentinels: set[tuple[str, int]] = set()  # `settled`'s own connections
        self._seen = threading.Condition()

    def _worker(self, conn: socket.socket, peer: tuple[str, int]) -> Callable[[], None]:
        # Each connection is recorded as it is accepted (not later, in its worker thread), so
        # `settled` can rely on the accept queue's order.
        record = Accepted(conn.getsockname()[0], peer)
        with self._seen:
            self._accepted[peer[:2]] = record  # (host, port), as for IPv4
            self._seen.notify_all()
        return functools.partial(self._serve_one, conn, record)

    def settled(self, within: float = 5.0) -> list[Accepted]:
        """Every connection accepted so far, once the server has accepted all that reached it:
        a connection of our own is accepted after them (the accept queue is first in, first
        out), and such connections are left out of the list."""
        with socket.create_connection((self.host, self.port), timeout=within) as sentinel:
            mine = sentinel.getsockname()[:2]
            deadline = time.monotonic() + within
            with self._seen:
                self._sentinels.add(mine)
                while mine not in self._accepted:
                    left = deadline - time.monotonic()
                    assert left > 0, "the origin did not accept a connection in time"
                    self._seen.wait(left)
                return [a for p, a in self._accepted.items() if p not in self._sentinels]

    def _serve_one(self, conn: socket.socket, record: Accepted) -> None:
        with self._lock:
            self.connections += 1
        conn.settimeout(LEFT_WITHIN * 2)  # bounded even if the client never leaves
        sock: socket.socket = conn
        try:
            if self.close_at_once:
                conn.shutdown(socket.SHUT_WR)
            elif conn.recv(1, socket.MSG_PEEK):
                record.spoke = True
                record.heard.set()
                sock = self.ctx.wrap_socket(conn, server_side=True)  # takes over conn's socket
                with self._lock:
                    self.handshakes += 1
                record.request = sock.recv(65536)
                if record.request:
                    sock.sendall(self.response)
                sock.shutdown(socket.SHUT_WR)  # FIN, without close_notify; reads are plain again
            self._until_client_leaves(sock, record)
        except OSError as exc:  # ssl.SSLError included
            if isinstance(exc, ConnectionError | ssl.SSLEOFError) or exc.errno == errno.ENOTCONN:
                record.left.set()  # reset or closed by the client (mid-handshake too): gone
            else:
                self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            sock.close()

    @staticmethod
    def _until_client_leaves(sock: socket.socket, record: Accepted) -> None:
        for _ in range(10_000):  # 640 MB at most: bounded whatever a client sends
            data = sock.recv(65536)
            if not data:
                record.left.set()
                return
            record.spoke = True
            record.heard.set()


def chain_for(*names: str) -> list[x509.Certificate]:
    return [issue_leaf(list(names), pki().intermediate), pki().intermediate.cert]


def origin_on(host: str, port: int = 0, **kw: Any) -> CountingOrigin:
    return CountingOrigin(chain_for(WWW, DUO), pki().leaf_key, host=host, port=port, **kw)


async def settled(origin: CountingOrigin) -> list[Accepted]:
    """`origin.settled()`, in a thread: the client's event loop keeps running meanwhile (it
    closes aborted sockets on its next turn)."""
    return await asyncio.to_thread(origin.settled)


async def wait_until_all_left(accepted: Sequence[Accepted], within: float = LEFT_WITHIN) -> None:
    """Every one of these connections is closed by the client within `within` seconds (waited
    for in a thread, so the client's event loop keeps running)."""
    deadline = time.monotonic() + within
    for record in accepted:
        left = await asyncio.to_thread(record.left.wait, max(0.0, deadline - time.monotonic()))
        assert left, f"the connection from {record.peer} to {record.local} was left open"


@contextlib.contextmanager
def no_leaked_transports() -> Iterator[None]:
    """Fails if a stream or transport opened inside is collected unclosed (asyncio warns then,
    and closes it: a leak the server would not see)."""
    gc.collect()  # what earlier tests left behind is not ours
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield
        gc.collect()
    leaked = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaked == [], leaked


async def run(
    world: DnsWorld,
    name: str,
    port: int,
    ca_file: str,
    only: list[str] | None = None,
    on_result: OnResult | None = None,
) -> Report:
    return await diagnose(
        parse_target(name),
        OriginSettings(https_port=port, connect_timeout=1, read_timeout=2),
        world.engine(ca_file=ca_file),
        only=only,
        on_result=on_result,
    )


def passed(report: Report, check_id: str) -> bool:
    res = report.check(check_id)
    assert res is not None, check_id
    return res.status is Status.PASS


# --- a healthy origin: one connection per address, carrying the handshake and the request -------


async def test_a_diagnosis_opens_one_connection_to_the_https_port_and_sends_the_request_on_it(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    # Given www.example.test resolving to a healthy TLS origin on 127.0.0.10
    with origin_on(ORIGIN_ADDRESS) as origin:
        # When the engine diagnoses it with every check, as `cf502 check` does
        report = await run(dns_world, WWW, origin.port, root_ca_file)
        # Then the port check, CloudFront's handshake and the origin request pass
        for check_id in ("tcp.https", "tls.handshake", "http.response"):
            assert passed(report, check_id), report.check(check_id)
        # And the origin accepted exactly one connection, which carried the handshake and then
        # CloudFront's request (tcp.https opened no connection of its own)
        accepted = await settled(origin)
        assert len(accepted) == 1, accepted
        assert accepted[0].spoke
        assert accepted[0].request.startswith(b"GET / HTTP/1.1\r\n"), accepted[0].request
        assert origin.handshakes == 1
        # And the client closed it once the diagnosis was over
        await wait_until_all_left(accepted)
    assert origin.errors == []


async def test_two_addresses_get_one_connection_each(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    # Given duo.example.test with two addresses, a healthy origin on each, on one port
    extra = "\n".join(f"duo A {a}" for a in DUO_ADDRESSES)
    dns_world.set_zones(example_zones(extra=extra))
    with same_port([(a, lambda h, p: origin_on(h, p)) for a in DUO_ADDRESSES]) as servers:
        origins = [s for s in servers if isinstance(s, CountingOrigin)]
        assert len(origins) == 2
        # When the engine diagnoses the name
        report = await run(dns_world, DUO, origins[0].port, root_ca_file)
        # Then both addresses were tested and pass
        assert sorted(report.addresses) == sorted(DUO_ADDRESSES)
        for check_id in ("tcp.https", "tls.handshake", "http.response"):
            assert passed(report, check_id), report.check(check_id)
        # And each address accepted exactly one connection, with one request on it
        for origin, address in zip(origins, DUO_ADDRESSES, strict=True):
            accepted = await settled(origin)
            assert [a.local for a in accepted] == [address]
            assert accepted[0].request.startswith(b"GET / HTTP/1.1\r\n")
            # And none was left open
            await wait_until_all_left(accepted)


# --- a refusing port: the pre-opened connection's refusal is what tcp.https reports --------------


async def test_a_refusing_port_fails_tcp_https_and_skips_tls_without_leaking(
    dns_world: DnsWorld, root_ca_file: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given www.example.test on 127.0.0.10, where nothing listens on the HTTPS port
    port = closed_port(ORIGIN_ADDRESS)
    caplog.set_level(logging.WARNING)
    with no_leaked_transports():
        # When the engine diagnoses it
        report = await run(dns_world, WWW, port, root_ca_file)
    # Then tcp.https fails on the refusal, in the OS's words, predicting CloudFront's 502
    tcp = report.check("tcp.https")
    assert tcp is not None and tcp.status is Status.FAIL
    assert f"{ORIGIN_ADDRESS} refused port {port}" in tcp.summary
    assert tcp.cloudfront_status == 502
    evidence = {e.label: e.value for e in tcp.evidence}
    assert "connection refused (ECONNREFUSED)" in evidence[f"{ORIGIN_ADDRESS} port {port}"]
    # And every TLS check is skipped behind it, and the verdict names it
    tls = [c for c in report.checks if c.id.startswith("tls.")]
    assert tls and all(c.status is Status.SKIP for c in tls), [(c.id, c.status) for c in tls]
    assert report.verdict.likely_cause == "tcp.https"
    # And nothing was logged as an error (no crashed check, no unretrieved task exception)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_tcp_https_reports_the_preopened_connections_refusal(root_ca_file: str) -> None:
    # Given a probe whose CloudFront connection to a refusing port was opened early
    port = closed_port(ORIGIN_ADDRESS)
    probe = make_probe(port, root_ca_file, addresses=(ORIGIN_ADDRESS,))
    try:
        probe.preconnect(port)
        opened = probe.opened(ORIGIN_ADDRESS, port)
        assert opened is not None
        # When tcp.https runs
        outcomes = await port_outcomes(probe, "https")
        res = await PortOpen("https").run(probe)
        # Then its outcome is that connection's own (the same object), not a second attempt's
        early, streams = await opened
        assert streams is None and early.status == "refused"
        assert outcomes == (early,) and outcomes[0] is early
        assert res.status is Status.FAIL and f"refused port {port}" in res.summary
    finally:
        await probe.close()


# --- no handshake to run: no early connection ------------------------------------------------


async def test_without_the_handshake_tcp_https_opens_its_own_silent_connection(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    # Given a healthy origin
    with origin_on(ORIGIN_ADDRESS) as origin:
        # When only tcp.https runs (CloudFront's handshake does not: nothing is opened early),
        # noting, as tcp.https reports, whether its connection is closed already
        closed_when_reported: list[bool] = []

        async def on_result(res: CheckResult) -> None:
            accepted = await asyncio.to_thread(origin.settled)
            assert len(accepted) == 1, accepted
            # A connection kept for a handshake would stay open until the diagnosis ends, and
            # it cannot end while this callback runs.
            closed = await asyncio.to_thread(accepted[0].left.wait, LEFT_WITHIN)
            closed_when_reported.append(closed)

        report = await run(
            dns_world, WWW, origin.port, root_ca_file, only=["tcp.https"], on_result=on_result
        )
        assert [c.id for c in report.checks] == ["tcp.https"]
        assert passed(report, "tcp.https")
        # Then the origin saw one connection, tcp.https's own: it carried no byte and was closed
        # before tcp.https reported
        assert closed_when_reported == [True]
        accepted = await settled(origin)
        assert len(accepted) == 1, accepted
        assert not accepted[0].spoke
        assert origin.handshakes == 0


# --- an origin that closes at once: the same verdict on a pre-opened connection -----------------


async def test_a_preopened_connection_gets_the_same_failure_as_a_fresh_one(
    root_ca_file: str,
) -> None:
    # Given an origin that closes every connection as soon as it accepts it
    ctx = pyopenssl_context(("TLSv1.2",))
    with origin_on(ORIGIN_ADDRESS, close_at_once=True) as origin:
        # When CloudFront's handshake runs on a fresh connection
        fresh, fresh_kept = await session(
            ORIGIN_ADDRESS, origin.port, WWW, ctx, connect_timeout=1, timeout=1
        )
        # And on a connection opened early, which the origin has closed by the time it is used
        probe = make_probe(origin.port, root_ca_file, addresses=(ORIGIN_ADDRESS,))
        try:
            probe.preconnect(origin.port)
            opened = probe.take(ORIGIN_ADDRESS, origin.port)
            assert opened is not None and probe.take(ORIGIN_ADDRESS, origin.port) is None
            early, early_kept = await session(
                ORIGIN_ADDRESS, origin.port, WWW, ctx, connect_timeout=1, timeout=1, opened=opened
            )
        finally:
            await probe.close()
        # Then both fail the same way, in the same words, and keep no connection
        assert (fresh.ok, fresh.failure, fresh.detail) == (False, "closed", CLOSED_WORDS)
        assert (early.ok, early.failure, early.detail) == (fresh.ok, fresh.failure, fresh.detail)
        assert early.tcp is None and fresh_kept is None and early_kept is None
        accepted = await settled(origin)
        assert len(accepted) == 2
        await wait_until_all_left(accepted)


async def test_the_handshake_check_judges_a_preopened_connection_as_a_fresh_one(
    root_ca_file: str,
) -> None:
    # Given an origin that closes every connection at once
    with origin_on(ORIGIN_ADDRESS, close_at_once=True) as origin:
        # When tls.handshake runs without and with an early connection
        verdicts, connections = [], []
        for early in (False, True):
            before = len(await settled(origin))
            probe = make_probe(origin.port, root_ca_file, addresses=(ORIGIN_ADDRESS,))
            try:
                if early:
                    probe.preconnect(origin.port)
                res = await Handshake().run(probe)
            finally:
                await probe.close()
            verdicts.append((res.status, res.summary, res.cloudfront_status, res.remediation))
            connections.append(len(await settled(origin)) - before)
        # Then the verdicts are the same: a failure in the origin's words, predicting 502
        assert verdicts[0] == verdicts[1]
        status, summary, cloudfront_status, _ = verdicts[1]
        assert (status, summary) == (Status.FAIL, CLOSED_SUMMARY)
        assert cloudfront_status == 502
        # And the early connection served both the port check and the handshake: one fewer
        assert connections[1] == connections[0] - 1, connections
        await wait_until_all_left(await settled(origin))


async def test_a_diagnosis_of_an_origin_that_closes_at_once_leaves_nothing_open(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    # Given www.example.test on an origin that accepts TCP and closes at once
    with origin_on(ORIGIN_ADDRESS, close_at_once=True) as origin:
        # When the engine diagnoses it
        report = await run(dns_world, WWW, origin.port, root_ca_file)
        # Then the port opened, and CloudFront's handshake fails in the origin's words
        assert passed(report, "tcp.https")
        handshake = report.check("tls.handshake")
        assert handshake is not None and handshake.status is Status.FAIL
        assert handshake.summary == CLOSED_SUMMARY
        assert report.verdict.likely_cause == "tls.handshake"
        # And every connection the diagnosis made (the handshake's and the follow-up probes')
        # was closed by the client
        accepted = await settled(origin)
        assert accepted
        await wait_until_all_left(accepted)


# --- a connection nobody takes ----------------------------------------------------------------


async def test_a_connection_the_handshake_never_takes_is_closed_with_the_diagnosis(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    # Given a healthy origin, and CloudFront set to offer only SSLv3, which cannot be offered
    # here: the handshake gives up before it takes the connection opened for it
    with origin_on(ORIGIN_ADDRESS) as origin, no_leaked_transports():
        report = await diagnose(
            parse_target(WWW),
            OriginSettings(https_port=origin.port, connect_timeout=1, ssl_protocols=("SSLv3",)),
            dns_world.engine(ca_file=root_ca_file),
        )
        # Then tcp.https passes on that connection and the handshake is an error, not a verdict
        assert passed(report, "tcp.https")
        handshake = report.check("tls.handshake")
        assert handshake is not None and handshake.status is Status.ERROR
        assert "SSLv3" in handshake.summary
        # And the connection, which carried nothing, was closed when the diagnosis ended (by
        # the diagnosis: not by the garbage collector, which would warn)
        accepted = await settled(origin)
        assert len(accepted) == 1, accepted
        await wait_until_all_left(accepted)
        assert not accepted[0].spoke


async def test_the_handshakes_time_leaves_out_the_wait_before_the_connection_was_used(
    root_ca_file: str,
) -> None:
    # Given a healthy origin and a connection opened to it early
    ctx = pyopenssl_context(("TLSv1.2",))
    with origin_on(ORIGIN_ADDRESS) as origin:
        probe = make_probe(origin.port, root_ca_file, addresses=(ORIGIN_ADDRESS,))
        try:
            probe.preconnect(origin.port)
            opened = probe.take(ORIGIN_ADDRESS, origin.port)
            assert opened is not None
            outcome, streams = await opened
            assert outcome.status == "open" and streams is not None
            # When the handshake uses it only later: a deliberate pause, standing for the TLS
            # library's load in a cold process (the pause is what this test measures)
            pause = 0.3
            await asyncio.sleep(pause)
            attempt, kept = await session(
                ORIGIN_ADDRESS, origin.port, WWW, ctx, connect_timeout=1, timeout=1, opened=opened
            )
            # Then it succeeds on that connection, timed from the connection's opening, without
            # the pause: the connect's time plus the handshake's
            assert attempt.ok and kept is not None
            assert kept.connect is outcome
            assert attempt.elapsed_ms < pause * 1000, attempt.elapsed_ms
            assert attempt.elapsed_ms >= outcome.elapsed_ms
            assert 0 <= kept.tls_ms < pause * 1000, kept.tls_ms
            kept.abort()
        finally:
            await probe.close()
        accepted = await settled(origin)
        assert len(accepted) == 1 and accepted[0].spoke
        await wait_until_all_left(accepted)
