"""CloudFront's TCP connections opened as soon as the first queries' replies arrive
(`cf502.firstconnect`), and the engine adopting them (`Probe.preconnect`), against real servers on
loopback: `DnsWorld` (resolver on 127.0.0.1), a resolver of our own on 127.0.0.5 that holds its
replies until told or forges one, and TLS origins on 127.0.0.10/.11 and ::1 that count every
connection they accept; and the real command, whose connects are noted by an audit hook.

The rule under test: the early lane connects exactly where `cf502.safety.connect_to` says, once
per address, only after clean replies, never once the engine has asked; the engine takes what it
vetted itself; whatever nobody takes is closed with the diagnosis, with no descriptor left.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import dns.message
import dns.query
import dns.rdatatype
import dns.rrset
import dns.zone
import pytest

from cf502.checks.dns._lookup import MAX_NS_NAMES
from cf502.checks.tls._client import FirstHello, Handshake
from cf502.cli import build_parser
from cf502.cli.check import _diagnosis, _first_connections
from cf502.engine import diagnose
from cf502.errors import TargetNotAllowed
from cf502.firstconnect import TIMED_OUT, FirstConnections, FirstWords, Plan
from cf502.firstquery import FirstQueries, send_first_queries
from cf502.model import CheckResult, Report, Status
from cf502.safety import MAX_ADDRESSES, connect_to
from cf502.settings import EngineSettings, OriginSettings
from cf502.target import parse_target
from tests.certs import pki
from tests.checks.test_preconnect import (
    DUO,
    DUO_ADDRESSES,
    LEFT_WITHIN,
    WWW,
    Accepted,
    CountingOrigin,
    chain_for,
    settled,
    wait_until_all_left,
)
from tests.servers.dns import (
    NS_ADDRESSES,
    ORIGIN_ADDRESS,
    Behaviour,
    DnsWorld,
    Seen,
    Zones,
    dns_world_fixture,
    example_zones,
)
from tests.servers.tcp import black_hole_port, closed_port
from tests.servers.tls import (
    GarbageServer,
    LegacyOnlyServer,
    LoopbackServer,
    PlainHttpServer,
    ResetServer,
    root_ca_file_fixture,
    same_port,
)

__all__ = ["dns_world_fixture", "root_ca_file_fixture"]  # fixtures used by name

ROOT = Path(__file__).resolve().parents[2]
OTHER = "127.0.0.11"
V6 = "::1"
# A global address (PCP anycast), allowed without --allow-private: connected to only if the rule
# were broken (then a SYN would leave loopback; nothing listens there).
PUBLIC = "192.0.0.9"
RESOLVER_AT = "127.0.0.5"  # the tests' own `Resolver`
WATCH_ENDS = 5.0  # seconds for the watch's thread to end once its work is done
SLOW_DNS = 8.0  # a DNS timeout no test waits for
CF_SITE = "d111111abcdef8.cloudfront.net"
_CF_ZONE = f"""
$TTL 60
@ SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60
@ NS ns1.example.test.
d111111abcdef8 A {ORIGIN_ADDRESS}
"""


# --- helpers ------------------------------------------------------------------------------------


Origin = CountingOrigin


def origin_on(host: str, port: int = 0) -> Origin:
    return Origin(chain_for(WWW, DUO), pki().leaf_key, host=host, port=port)


def _settings(port: int, **origin: Any) -> OriginSettings:
    return OriginSettings(https_port=port, connect_timeout=1, read_timeout=2, **origin)


def _plan(host: str, port: int, *, site_given: bool = False, reply_timeout: float = 2.0) -> Plan:
    """A plan of our own (`_as_the_cli` builds the command line's), private targets allowed."""
    return Plan(
        host,
        port,
        allow_private=True,
        ip_address_type=None,
        site_given=site_given,
        connect_timeout=1.0,
        reply_timeout=reply_timeout,
    )


def _resolver(world: DnsWorld) -> tuple[str, int]:
    return ("127.0.0.1", world.port)


def _early(resolver: tuple[str, int], plan: Plan) -> tuple[FirstQueries, FirstConnections]:
    """The queries sent and the watch started, as `cf502 check` does before loading."""
    queries = send_first_queries(plan.host, resolver)
    assert len(queries.sent) == 2
    lane = FirstConnections(queries, plan).start()
    queries.connections = lane
    return queries, lane


def _as_the_cli(
    host: str, origin: OriginSettings, engine: EngineSettings
) -> tuple[FirstQueries, FirstConnections]:
    """The queries and the watch exactly as `cf502 check` builds them from its settings."""
    queries = send_first_queries(host, engine.resolver_address)
    assert len(queries.sent) == 2
    lane = _first_connections(queries, parse_target(host), origin, engine)
    queries.connections = lane
    return queries, lane


def _thread(lane: FirstConnections) -> threading.Thread:
    return lane._thread  # the watch's daemon thread (named cf502-first)


def _watched(lane: FirstConnections, within: float = WATCH_ENDS) -> str:
    """The watch's outcome once its thread has ended (it ends once its connections are made)."""
    _thread(lane).join(within)
    assert not _thread(lane).is_alive(), "the watch did not end in time"
    return lane.outcome


async def _watch_ended(lane: FirstConnections) -> str:
    return await asyncio.to_thread(_watched, lane)


def _early_to(lane: FirstConnections, addresses: Sequence[str], port: int) -> list[str]:
    """The addresses the watch connected to (asked as the engine asks: after the watch ended)."""
    return [a for a in addresses if lane.connection(a, port) is not None]


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def _counting(servers: Sequence[object]) -> list[Origin]:
    origins = [s for s in servers if isinstance(s, Origin)]
    assert len(origins) == len(servers)
    return origins


@contextmanager
def _origins(*hosts: str) -> Iterator[dict[str, Origin]]:
    """A healthy counting TLS origin on each host, all on one port."""
    with same_port([(h, lambda a, p: origin_on(a, p)) for h in hosts]) as servers:
        yield {o.host: o for o in _counting(servers)}


def passed(report: Report, check_id: str) -> bool:
    res = report.check(check_id)
    assert res is not None, check_id
    return res.status is Status.PASS


Forge = Callable[[dns.message.Message], dns.message.Message | None]


class Resolver:
    """A resolver on 127.0.0.5 answering as `world`'s resolver does, unless `forge` has its own
    reply for a query. `hold`: every reply is held until `release()` (then all are sent at
    once): replies that come after the engine has asked."""

    def __init__(self, world: DnsWorld, *, hold: bool = False, forge: Forge | None = None) -> None:
        self.world = world
        self.forge = forge
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((RESOLVER_AT, 0))
        self.address: tuple[str, int] = self._sock.getsockname()
        self._wake_r, self._wake_w = socket.socketpair()
        self._cond = threading.Condition()
        self._held: list[tuple[bytes, tuple[str, int]]] = []
        self._released = not hold
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def engine(self, **overrides: Any) -> EngineSettings:
        """`world.engine(...)` asking this resolver (the name servers stay the world's)."""
        return self.world.engine(resolver=f"{RESOLVER_AT}:{self.address[1]}", **overrides)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._wake_w.send(b"x")
        self._thread.join(5)
        for s in (self._sock, self._wake_r, self._wake_w):
            s.close()

    def _answer(self, data: bytes, peer: tuple[str, int]) -> None:
        forged = None if self.forge is None else self.forge(dns.message.from_wire(data))
        reply = self.world.resolver.wire(data, "udp") if forged is None else forged.to_wire()
        if reply is not None:
            self._sock.sendto(reply, peer)

    def _serve(self) -> None:
        while True:
            ready, _, _ = select.select([self._sock, self._wake_r], [], [])
            if self._wake_r in ready:
                return
            data, peer = self._sock.recvfrom(65535)
            with self._cond:
                if not self._released:
                    self._held.append((data, peer))
                    self._cond.notify_all()
                    continue
            self._answer(data, peer)

    def wait_for(self, count: int, within: float = 5.0) -> None:
        """Until `count` queries are held."""
        deadline = time.monotonic() + within
        with self._cond:
            while len(self._held) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"only {len(self._held)} queries came"
                self._cond.wait(left)

    def release(self) -> None:
        with self._cond:
            self._released = True
            held, self._held = self._held, []
        for data, peer in held:
            self._answer(data, peer)


def _cloudfront_zones(extra: str) -> Zones:
    """The test zones plus cloudfront.net, where the site's name resolves to the origin."""
    site = dns.zone.from_text(_CF_ZONE, origin="cloudfront.net.", relativize=False)
    return Zones([*example_zones(extra=extra).zones, site])


# --- the early connection is the engine's connection --------------------------------------------


@pytest.mark.parametrize(
    ("name", "addresses"), [(WWW, (ORIGIN_ADDRESS,)), (DUO, DUO_ADDRESSES)], ids=["one", "two"]
)
async def test_one_early_connection_per_address_is_the_one_the_diagnosis_uses(
    dns_world: DnsWorld, root_ca_file: str, name: str, addresses: tuple[str, ...]
) -> None:
    dns_world.set_zones(example_zones(extra="\n".join(f"duo A {a}" for a in DUO_ADDRESSES)))
    with _origins(*addresses) as origins:
        port = origins[ORIGIN_ADDRESS].port
        origin, engine = _settings(port), dns_world.engine(ca_file=root_ca_file)
        # Given the queries sent and the watch started as `cf502 check` does
        queries, lane = _as_the_cli(name, origin, engine)
        # When the replies come, before the engine has loaded
        assert await _watch_ended(lane) == "connected"
        # Then each address has accepted one connection, on which nothing was said yet
        early: dict[str, Accepted] = {}
        for address, server in origins.items():
            accepted = await settled(server)
            assert len(accepted) == 1 and not accepted[0].spoke, accepted
            early[address] = accepted[0]
        # When the engine diagnoses the name with those queries
        report = await diagnose(parse_target(name), origin, engine, first_queries=queries)
        # Then it passes, and each address saw no other connection: the early one carried
        # CloudFront's handshake and request
        for check_id in ("dns.resolve", "tcp.https", "tls.handshake", "http.response"):
            assert passed(report, check_id), report.check(check_id)
        assert sorted(report.addresses) == sorted(addresses)
        for address, server in origins.items():
            accepted = await settled(server)
            assert [a.peer for a in accepted] == [early[address].peer]
            assert accepted[0].request.startswith(b"GET / HTTP/1.1\r\n"), accepted[0].request
            await wait_until_all_left(accepted)
        # And the resolver was asked once for each type: the early queries
        asked = sorted(s.rdtype for s in dns_world.resolver.queries() if s.qname == name)
        assert asked == ["A", "AAAA"]


async def test_a_diagnosis_started_at_once_still_makes_one_connection_per_address(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    # Given two addresses, the watch started and the diagnosis begun with no pause between,
    # several times (the watch and the engine race for the replies: whoever wins, one
    # connection per address)
    dns_world.set_zones(example_zones(extra="\n".join(f"duo A {a}" for a in DUO_ADDRESSES)))
    with _origins(*DUO_ADDRESSES) as origins:
        port = origins[ORIGIN_ADDRESS].port
        origin, engine = _settings(port), dns_world.engine(ca_file=root_ca_file)
        outcomes = []
        for run in range(1, 4):
            queries, lane = _as_the_cli(DUO, origin, engine)
            report = await diagnose(parse_target(DUO), origin, engine, first_queries=queries)
            # Then it passes, and the watch is over when the diagnosis returns
            assert passed(report, "tls.handshake"), report.check("tls.handshake")
            assert not _thread(lane).is_alive()
            outcomes.append(lane.outcome)
            # And each address has seen exactly one connection per diagnosis
            for server in origins.values():
                accepted = await settled(server)
                assert len(accepted) == run, (outcomes, accepted)
                await wait_until_all_left(accepted)
        assert set(outcomes) <= {"connected", "too late", "no clean replies"}, outcomes


# --- where the early lane does not connect ------------------------------------------------------


async def test_without_allow_private_no_connection_reaches_a_loopback_origin(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    with origin_on(ORIGIN_ADDRESS) as server:
        origin = _settings(server.port)
        engine = dns_world.engine(ca_file=root_ca_file, allow_private=False)
        # Given the watch of a command line without --allow-private, its replies read
        queries, lane = _as_the_cli(WWW, origin, engine)
        assert await _watch_ended(lane) == "not allowed"
        # When the diagnosis runs, Then it refuses the target
        with pytest.raises(TargetNotAllowed, match=re.escape("127.0.0.10, a loopback address")):
            await diagnose(parse_target(WWW), origin, engine, first_queries=queries)
        # And no connection ever reached the origin
        assert await settled(server) == []
        assert _early_to(lane, [ORIGIN_ADDRESS], server.port) == []


@pytest.mark.parametrize(
    ("records", "blocked"),
    [
        (f"mixed A {PUBLIC}\nmixed A {ORIGIN_ADDRESS}", ORIGIN_ADDRESS),
        (f"mixed A {PUBLIC}\nmixed AAAA {V6}", V6),  # the blocked one in the other reply
    ],
    ids=["same-reply", "other-reply"],
)
async def test_one_blocked_address_refuses_every_early_connection(
    dns_world: DnsWorld, root_ca_file: str, records: str, blocked: str
) -> None:
    # Given a name with a public address and a loopback one, where an origin listens
    dns_world.set_zones(example_zones(extra=records))
    host = "mixed.example.test"
    with _origins(ORIGIN_ADDRESS, V6) as origins:
        port = origins[ORIGIN_ADDRESS].port
        origin = _settings(port)
        engine = dns_world.engine(ca_file=root_ca_file, allow_private=False)
        queries, lane = _as_the_cli(host, origin, engine)
        # When the replies come, Then the watch connects to neither
        assert await _watch_ended(lane) == "not allowed"
        assert _early_to(lane, [PUBLIC, ORIGIN_ADDRESS, V6], port) == []
        # And the engine refuses the target too, naming the blocked address
        with pytest.raises(TargetNotAllowed, match=re.escape(f"resolves to {blocked},")):
            await diagnose(parse_target(host), origin, engine, first_queries=queries)
        for server in origins.values():
            assert await settled(server) == []


@pytest.mark.parametrize("host", ["cdn.example.test", CF_SITE], ids=["cname", "itself"])
def test_a_cloudfront_name_gets_no_early_connection_unless_the_site_is_given(
    dns_world: DnsWorld, host: str
) -> None:
    # Given a name that is, or is an alias of, a CloudFront distribution's name, resolving to a
    # listening origin
    dns_world.set_zones(_cloudfront_zones(f"cdn CNAME {CF_SITE}."))
    with origin_on(ORIGIN_ADDRESS) as server:
        # When its replies come, Then nothing is connected: the engine judges the edge
        _, lane = _early(_resolver(dns_world), _plan(host, server.port))
        assert _watched(lane) == "a CloudFront name"
        assert server.settled() == []
        lane.close()
        # But when the command line says the name is the origin (--origin), it is connected
        queries, lane = _early(_resolver(dns_world), _plan(host, server.port, site_given=True))
        assert _watched(lane) == "connected"
        accepted = server.settled()
        assert len(accepted) == 1
        # And closed with the queries, nobody having taken it
        queries.close()
        assert accepted[0].left.wait(LEFT_WITHIN)


@pytest.mark.parametrize(
    ("ip_type", "www6"),
    [("ipv6", None), ("ipv6", V6), ("ipv4", V6), ("dualstack", V6), (None, V6)],
    ids=["ipv6-only-a", "ipv6", "ipv4", "dualstack", "unset"],
)
async def test_the_early_lane_connects_where_connect_to_says_and_the_engine_adopts_it(
    dns_world: DnsWorld, root_ca_file: str, ip_type: str | None, www6: str | None
) -> None:
    # Given www with an A record (and maybe an AAAA one), an origin on each address
    dns_world.set_zones(example_zones(www6=www6))
    found = [ORIGIN_ADDRESS] if www6 is None else [ORIGIN_ADDRESS, www6]
    expected, _ = connect_to(WWW, found, allow_private=True, ip_address_type=ip_type)
    with _origins(ORIGIN_ADDRESS, V6) as origins:
        port = origins[ORIGIN_ADDRESS].port
        origin = _settings(port, ip_address_type=ip_type)
        engine = dns_world.engine(ca_file=root_ca_file)
        queries, lane = _as_the_cli(WWW, origin, engine)
        # When the replies come, Then the watch connected exactly where connect_to says
        assert await _watch_ended(lane) == "connected"
        assert sorted(_early_to(lane, [ORIGIN_ADDRESS, V6], port)) == sorted(expected)
        # And the diagnosis connects to the same addresses, through those connections only
        report = await diagnose(parse_target(WWW), origin, engine, first_queries=queries)
        assert sorted(report.addresses) == sorted(expected)
        assert passed(report, "tls.handshake"), report.check("tls.handshake")
        for address, server in origins.items():
            accepted = await settled(server)
            assert len(accepted) == (1 if address in expected else 0), (address, accepted)
            await wait_until_all_left(accepted)


async def test_the_early_lane_connects_to_max_addresses_the_ones_the_engine_tests(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    # Given a name with 20 addresses, none listening on the port
    many = [f"127.0.0.{i}" for i in range(20, 40)]
    dns_world.set_zones(example_zones(extra="\n".join(f"many A {a}" for a in many)))
    port = closed_port("127.0.0.20")
    origin, engine = _settings(port), dns_world.engine(ca_file=root_ca_file)
    queries, lane = _as_the_cli("many.example.test", origin, engine)
    # When the replies come, Then MAX_ADDRESSES connections were tried, each refused
    assert await _watch_ended(lane) == "connected"
    tried = _early_to(lane, many, port)
    assert len(tried) == MAX_ADDRESSES
    for address in tried:
        made = lane.connection(address, port)
        assert made is not None and made.ended.is_set() and made.error == errno.ECONNREFUSED
    # And they are the addresses the engine tests (the same reply, the same rule)
    report = await diagnose(
        parse_target("many.example.test"), origin, engine, first_queries=queries
    )
    assert sorted(report.addresses) == sorted(tried)
    tcp = report.check("tcp.https")
    assert tcp is not None and tcp.status is Status.FAIL


def test_a_silent_resolver_means_no_connection_and_close_ends_the_watch_at_once(
    dns_world: DnsWorld,
) -> None:
    # Given a resolver that never answers, and a watch that would wait 30 s for it
    dns_world.resolver.behaviour = Behaviour.SILENT
    with origin_on(ORIGIN_ADDRESS) as server:
        queries, lane = _early(_resolver(dns_world), _plan(WWW, server.port, reply_timeout=30))
        dns_world.resolver.wait_for(WWW)
        assert _thread(lane).is_alive()
        # When the diagnosis ends (the queries are closed)
        started = time.monotonic()
        queries.close()
        # Then the watch ends at once, having connected nothing
        _thread(lane).join(1.0)
        assert not _thread(lane).is_alive()
        assert time.monotonic() - started < 1.0
        assert lane.outcome == "no clean replies"
        assert server.settled() == []


def test_a_silent_resolver_ends_the_watch_at_its_reply_timeout(dns_world: DnsWorld) -> None:
    dns_world.resolver.behaviour = Behaviour.SILENT
    with origin_on(ORIGIN_ADDRESS) as server:
        started = time.monotonic()
        queries, lane = _early(_resolver(dns_world), _plan(WWW, server.port, reply_timeout=0.3))
        assert _watched(lane) == "no clean replies"
        assert 0.3 <= time.monotonic() - started < WATCH_ENDS
        assert server.settled() == []
        queries.close()


@pytest.mark.parametrize(
    "behaviour", [Behaviour.SERVFAIL, Behaviour.TRUNCATE, Behaviour.REFUSED], ids=str
)
async def test_a_reply_that_is_not_clean_means_no_early_connection_and_the_usual_diagnosis(
    dns_world: DnsWorld, root_ca_file: str, behaviour: Behaviour
) -> None:
    # Given a resolver that fails, refuses or truncates every UDP reply (and a DNS timeout far
    # longer than its replies take)
    dns_world.resolver.behaviour = behaviour
    with origin_on(ORIGIN_ADDRESS) as server:
        origin = _settings(server.port)
        engine = dns_world.engine(ca_file=root_ca_file, dns_timeout=SLOW_DNS)
        queries, lane = _as_the_cli(WWW, origin, engine)
        # When the replies come, Then nothing is connected early, and the watch gives up on
        # the first reply that is not clean, not at the DNS timeout
        assert await asyncio.to_thread(_watched, lane, SLOW_DNS / 2) == "no clean replies"
        assert await settled(server) == []
        # And the diagnosis is the one without the early lane
        report = await diagnose(parse_target(WWW), origin, engine, first_queries=queries)
        during = len(await settled(server))
        plain = await diagnose(parse_target(WWW), origin, engine)
        assert _verdicts(report) == _verdicts(plain)
        if behaviour is Behaviour.TRUNCATE:  # over TCP the name resolves: one connection
            assert passed(report, "dns.resolve") and passed(report, "tls.handshake")
            assert during == 1
        else:
            resolved = report.check("dns.resolve")
            assert resolved is not None and resolved.status is not Status.PASS
            assert during == 0
        await wait_until_all_left(await settled(server))


def _verdicts(report: Report) -> list[tuple[str, Status, str]]:
    return [(c.id, c.status, _untimed(c.summary)) for c in report.checks]


def _untimed(text: str) -> str:
    """`text` without its measured times (they differ from run to run; the words do not)."""
    return re.sub(r"\d+(\.\d+)? ms", "N ms", text)


# --- too late: the engine asked first -----------------------------------------------------------


async def test_once_the_engine_has_asked_the_watch_starts_no_connection(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    with Resolver(dns_world, hold=True) as held, origin_on(ORIGIN_ADDRESS) as server:
        origin = _settings(server.port)
        engine = held.engine(ca_file=root_ca_file)
        # Given the watch started, its queries at a resolver that holds the replies
        queries, lane = _as_the_cli(WWW, origin, engine)
        await asyncio.to_thread(held.wait_for, 2)
        # When the engine asks for its connection before the replies came
        assert lane.connection(ORIGIN_ADDRESS, server.port) is None
        held.release()
        # Then the replies, read after, start no connection
        assert await _watch_ended(lane) == "too late"
        assert await settled(server) == []
        # And the diagnosis opens its own: one connection in all, carrying the request
        report = await diagnose(parse_target(WWW), origin, engine, first_queries=queries)
        assert passed(report, "tls.handshake"), report.check("tls.handshake")
        accepted = await settled(server)
        assert len(accepted) == 1 and accepted[0].request.startswith(b"GET / ")
        await wait_until_all_left(accepted)
        # And the early queries were the resolution's: one of each type
        asked = sorted(s.rdtype for s in dns_world.resolver.queries() if s.qname == WWW)
        assert asked == ["A", "AAAA"]


# --- connections nobody adopts are closed -------------------------------------------------------


def test_an_early_connection_nobody_takes_is_closed_with_nothing_left_open(
    dns_world: DnsWorld,
) -> None:
    before = _fds()
    with origin_on(ORIGIN_ADDRESS) as server:
        # Given an early connection made
        queries, lane = _early(_resolver(dns_world), _plan(WWW, server.port))
        assert _watched(lane) == "connected"
        accepted = server.settled()
        assert len(accepted) == 1 and not accepted[0].left.is_set()
        # When the diagnosis ends without taking it (the queries are closed)
        queries.close()
        # Then the origin sees it closed, and the watch is gone
        assert accepted[0].left.wait(LEFT_WITHIN)
        assert not _thread(lane).is_alive()
        queries.close()  # again: nothing
    # And no descriptor is left (the early sockets, their copies, the pipe, the connection)
    assert _fds() - before == set()


async def test_an_early_connection_to_an_address_the_engine_did_not_resolve_is_closed(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    # Given the early queries answered by another resolver, for which www is 127.0.0.11
    with DnsWorld() as other, _origins(ORIGIN_ADDRESS, OTHER) as origins:
        other.set_zones(example_zones(www=OTHER))
        port = origins[ORIGIN_ADDRESS].port
        origin, engine = _settings(port), dns_world.engine(ca_file=root_ca_file)
        queries = send_first_queries(WWW, _resolver(other))
        lane = _first_connections(queries, parse_target(WWW), origin, engine)
        queries.connections = lane
        assert await _watch_ended(lane) == "connected"
        # When the engine diagnoses www through its own resolver (www is 127.0.0.10)
        report = await diagnose(parse_target(WWW), origin, engine, first_queries=queries)
        # Then it tested its own address on a connection of its own
        assert report.addresses == (ORIGIN_ADDRESS,)
        assert passed(report, "tls.handshake"), report.check("tls.handshake")
        mine = await settled(origins[ORIGIN_ADDRESS])
        assert len(mine) == 1 and mine[0].spoke
        # And the early connection to 127.0.0.11 carried nothing and was closed with it
        stray = await settled(origins[OTHER])
        assert len(stray) == 1 and not stray[0].spoke
        await wait_until_all_left([*mine, *stray])
        assert not _thread(lane).is_alive()


def _cname_beside_the_address(query: dns.message.Message) -> dns.message.Message | None:
    """www's A reply with its address (127.0.0.10) and, against the rules, also a CNAME to a
    name at 127.0.0.11; anything else as usual."""
    question = query.question[0]
    if question.name.to_text() != WWW + "." or question.rdtype != dns.rdatatype.A:
        return None
    reply = dns.message.make_response(query)
    reply.answer += [
        dns.rrset.from_text(WWW + ".", 60, "IN", "A", ORIGIN_ADDRESS),
        dns.rrset.from_text(WWW + ".", 60, "IN", "CNAME", "t.example.test."),
        dns.rrset.from_text("t.example.test.", 60, "IN", "A", OTHER),
    ]
    return reply


async def test_a_reply_dnspython_reads_otherwise_opens_no_connection_the_engine_would_not(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    forged = Resolver(dns_world, forge=_cname_beside_the_address)
    with forged, _origins(ORIGIN_ADDRESS, OTHER) as origins:
        port = origins[ORIGIN_ADDRESS].port
        origin, engine = _settings(port), forged.engine(ca_file=root_ca_file)
        queries, lane = _as_the_cli(WWW, origin, engine)
        await _watch_ended(lane)
        report = await diagnose(parse_target(WWW), origin, engine, first_queries=queries)
        # The engine tests 127.0.0.10, the name's own address
        assert report.addresses == (ORIGIN_ADDRESS,)
        assert len(await settled(origins[ORIGIN_ADDRESS])) == 1
        # and nothing should have connected to 127.0.0.11
        assert await settled(origins[OTHER]) == []


# --- a refusing port ----------------------------------------------------------------------------


def _port_check(report: Report) -> tuple[Status, str, Any, list[tuple[str, str]]]:
    res = report.check("tcp.https")
    assert res is not None
    return res.status, res.summary, res.cloudfront_status, _evidence(res)


def _evidence(res: CheckResult) -> list[tuple[str, str]]:
    return [(e.label, _untimed(e.value)) for e in res.evidence]


async def test_a_refused_early_connection_fails_tcp_https_as_a_fresh_one_does(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    # Given www on 127.0.0.10, where nothing listens on the HTTPS port
    port = closed_port(ORIGIN_ADDRESS)
    origin, engine = _settings(port), dns_world.engine(ca_file=root_ca_file)
    queries, lane = _as_the_cli(WWW, origin, engine)
    # When the early connection is refused
    assert await _watch_ended(lane) == "connected"
    made = lane.connection(ORIGIN_ADDRESS, port)
    assert made is not None and made.ended.is_set() and made.error == errno.ECONNREFUSED
    # Then the diagnosis adopting it fails tcp.https in the same words as without it
    early = await diagnose(parse_target(WWW), origin, engine, first_queries=queries)
    fresh = await diagnose(parse_target(WWW), origin, engine)
    status, summary, cloudfront_status, evidence = _port_check(early)
    assert status is Status.FAIL and f"{ORIGIN_ADDRESS} refused port {port}" in summary
    assert cloudfront_status == 502
    assert any("connection refused (ECONNREFUSED)" in v for _, v in evidence), evidence
    assert _port_check(early) == _port_check(fresh)
    assert early.verdict.likely_cause == fresh.verdict.likely_cause == "tcp.https"


async def test_an_early_connection_that_got_no_answer_times_out_as_a_fresh_one_does(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    # Given www on 127.0.0.10, whose HTTPS port drops every SYN
    with black_hole_port(ORIGIN_ADDRESS) as port:
        origin = _settings(port)
        engine = dns_world.engine(ca_file=root_ca_file)
        queries, lane = _as_the_cli(WWW, origin, engine)
        # When the early connection gets no answer within the connection timeout (1 s)
        assert await _watch_ended(lane) == "connected"
        made = lane.connection(ORIGIN_ADDRESS, port)
        assert made is not None and made.ended.is_set() and made.error == TIMED_OUT
        assert made.elapsed_ms >= 1000
        # Then the diagnosis adopting it fails tcp.https in the same words as without it
        early = await diagnose(parse_target(WWW), origin, engine, first_queries=queries)
        fresh = await diagnose(parse_target(WWW), origin, engine)
    status, summary, cloudfront_status, _ = _port_check(early)
    assert status is Status.FAIL and "did not answer on port" in summary, summary
    assert cloudfront_status == 504
    assert _port_check(early) == _port_check(fresh)


# --- the first words: CloudFront's ClientHello said early, and the zone's NS query -------------


@asynccontextmanager
async def _early_open(
    world: DnsWorld, ca_file: str
) -> AsyncIterator[tuple[Origin, OriginSettings, EngineSettings, FirstQueries, FirstConnections]]:
    """A healthy origin on ORIGIN_ADDRESS, and the early lane to WWW as `cf502 check` builds it,
    its connection open: (origin server, origin settings, engine settings, queries, lane)."""
    with origin_on(ORIGIN_ADDRESS) as server:
        origin, engine = _settings(server.port), world.engine(ca_file=ca_file)
        queries, lane = _as_the_cli(WWW, origin, engine)
        assert await _watch_ended(lane) == "connected"
        yield server, origin, engine, queries, lane


async def _heard_early(server: Origin) -> None:
    """The origin has one connection, on which the client has spoken (before any engine ran)."""
    accepted = await settled(server)
    assert len(accepted) == 1
    assert await asyncio.to_thread(accepted[0].heard.wait, LEFT_WITHIN)


async def _one_handshake(server: Origin) -> list[Accepted]:
    """The origin's connections, which must be one, with one TLS handshake."""
    accepted = await settled(server)
    assert len(accepted) == 1 and server.handshakes == 1
    return accepted


async def _diagnosed_passing(
    server: Origin, queries: FirstQueries, origin: OriginSettings, engine: EngineSettings
) -> Report:
    """The diagnosis of WWW with `queries`, which must pass CloudFront's handshake and request."""
    report = await diagnose(parse_target(WWW), origin, engine, first_queries=queries)
    for check_id in ("tcp.https", "tls.handshake", "http.response"):
        assert passed(report, check_id), report.check(check_id)
    return report


async def test_a_clienthello_said_before_the_connection_opened_is_said_as_it_opens(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    with origin_on(ORIGIN_ADDRESS) as server, Resolver(dns_world, hold=True) as resolver:
        origin, engine = _settings(server.port), resolver.engine(ca_file=root_ca_file)
        # Given the replies held, so no early connection is open yet
        queries, lane = _as_the_cli(WWW, origin, engine)
        resolver.wait_for(2)
        # When the ClientHello is said now, and only then the replies come
        lane.speak(FirstHello(origin.ssl_protocols, WWW))
        assert lane.outcome == "waiting"
        resolver.release()
        assert await _watch_ended(lane) == "connected"
        # Then the watch said it as the connection opened, and the engine went on from it
        await _heard_early(server)
        await _diagnosed_passing(server, queries, origin, engine)
        await wait_until_all_left(await _one_handshake(server))


async def test_a_clienthello_for_another_name_is_left_and_the_handshake_connects_afresh(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    async with _early_open(dns_world, root_ca_file) as (server, origin, engine, queries, lane):
        # Given the early connection has said a ClientHello the engine would not say (another
        # server name than CloudFront's)
        lane.speak(FirstHello(origin.ssl_protocols, "other.example.test"))
        # When the engine diagnoses
        await _diagnosed_passing(server, queries, origin, engine)
        # Then its handshake was on a connection of its own, and the early one was dropped
        accepted = await settled(server)
        assert len(accepted) == 2, accepted
        assert accepted[0].request == b"" and accepted[1].request.startswith(b"GET / ")
        await wait_until_all_left(accepted)


async def test_a_speaker_that_fails_says_nothing_and_the_engine_starts_the_handshake(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    def broken() -> FirstWords:
        raise RuntimeError("no words")

    async with _early_open(dns_world, root_ca_file) as (server, origin, engine, queries, lane):
        # Given a speaker that fails
        lane.speak(broken)
        early = lane.connection(ORIGIN_ADDRESS, server.port)
        assert early is not None and early.words is None
        # Then the engine speaks first on the same connection, as without early words
        await _diagnosed_passing(server, queries, origin, engine)
        await wait_until_all_left(await _one_handshake(server))


async def test_the_command_line_says_cloudfronts_clienthello_the_engine_would_say(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    with origin_on(ORIGIN_ADDRESS) as server:
        # Given `cf502 check`'s command line, with a forwarded Host (the server name it sends)
        argv = [
            "check", WWW, "--allow-private", "--resolver", f"127.0.0.1:{dns_world.port}",
            "--dns-port", str(dns_world.port), "--ca-file", root_ca_file,
            "--https-port", str(server.port), "--host-header", DUO,
        ]  # fmt: skip
        args = build_parser("check").parse_args(argv)
        # When it reads it and sends its first packets
        diagnosis = _diagnosis(args, send_first=True)
        queries = diagnosis.first_queries
        assert queries is not None and queries.connections is not None
        lane = queries.connections
        assert await _watch_ended(lane) == "connected"
        # Then its early connection said a ClientHello, all of it
        early = lane.connection(ORIGIN_ADDRESS, server.port)
        assert early is not None and early.words is not None and early.words.unsent == b""
        await _heard_early(server)
        # And it is the one the engine makes: its handshake goes on from it (one connection)
        report = await diagnose(
            diagnosis.target, diagnosis.origin, diagnosis.engine, first_queries=queries
        )
        assert passed(report, "tls.handshake"), report.check("tls.handshake")
        accepted = await _one_handshake(server)
        assert accepted[0].request.startswith(b"GET / HTTP/1.1\r\nHost: duo.example.test\r\n")
        await wait_until_all_left(accepted)


async def _listened(lane: FirstConnections) -> None:
    """Until the lane's listening has ended (its thread ends once every handshake it feeds is
    over, or left to the engine)."""
    thread = lane._thread  # the watch, or the listener `speak` started after it
    await asyncio.to_thread(thread.join, WATCH_ENDS)
    assert not thread.is_alive(), "the listening did not end in time"


async def test_the_lane_feeds_the_handshake_the_servers_answer_and_the_engine_goes_on(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    async with _early_open(dns_world, root_ca_file) as (server, origin, engine, queries, lane):
        # Given the early connection open, When CloudFront's ClientHello is said on it (as
        # `cf502 check` does once its TLS code has loaded)
        lane.speak(FirstHello(origin.ssl_protocols, WWW))
        # Then the origin hears it before any engine has run, all of it sent
        await _heard_early(server)
        # And once the lane has listened to the server's answer (still no engine), it has fed
        # the handshake to its end: the server's flight, its choice, its Finished
        await _listened(lane)
        early = lane.connection(ORIGIN_ADDRESS, server.port)
        assert early is not None and early.words is not None and early.words.unsent == b""
        handshake = early.words.state
        assert isinstance(handshake, Handshake) and handshake.done and handshake.failure is None
        assert handshake.flight.received > 0 and handshake.flight.certificates
        assert handshake.over_at is not None and handshake.over_at >= handshake.said_at
        # (as if its round trips had taken 250 ms: the report must show the handshake's own
        # duration, not the moment the engine took it over)
        handshake.said_at = handshake.over_at - 0.25
        # And the engine takes the finished handshake and sends its request on it
        report = await _diagnosed_passing(server, queries, origin, engine)
        latency = report.check("http.latency")
        assert latency is not None
        assert ("TLS handshake", "250 ms") in [(e.label, e.value) for e in latency.evidence]
        accepted = await _one_handshake(server)
        assert accepted[0].request.startswith(b"GET / HTTP/1.1\r\nHost: www.example.test\r\n")
        await wait_until_all_left(accepted)


def _handshake_check(report: Report) -> tuple[Status, str, list[tuple[str, str]]]:
    res = report.check("tls.handshake")
    assert res is not None
    return res.status, _untimed(res.summary), _evidence(res)


_BROKEN: dict[str, Callable[[str], LoopbackServer]] = {
    "plain HTTP": lambda host: PlainHttpServer(host=host),
    "not TLS": lambda host: GarbageServer(host=host),
    "an alert": lambda host: LegacyOnlyServer(chain_for(WWW), host=host),
    "a reset": lambda host: ResetServer(host=host),
}


@pytest.mark.parametrize("answer", list(_BROKEN))
async def test_a_broken_answer_heard_early_fails_the_handshake_as_a_fresh_one_does(
    answer: str, dns_world: DnsWorld, root_ca_file: str
) -> None:
    with _BROKEN[answer](ORIGIN_ADDRESS) as server:
        origin, engine = _settings(server.port), dns_world.engine(ca_file=root_ca_file)
        # Given CloudFront's ClientHello said early, and the lane listening to the answer
        queries, lane = _as_the_cli(WWW, origin, engine)
        assert await _watch_ended(lane) == "connected"
        lane.speak(FirstHello(origin.ssl_protocols, WWW))
        await _listened(lane)
        early_conn = lane.connection(ORIGIN_ADDRESS, server.port)
        assert early_conn is not None and early_conn.words is not None
        handshake = early_conn.words.state
        assert isinstance(handshake, Handshake)
        if answer != "a reset":  # (what a reset leaves is the engine's to read)
            assert handshake.flight.received > 0 and handshake.over, answer
        # When the engine diagnoses with that connection, and again on its own
        early = await diagnose(parse_target(WWW), origin, engine, first_queries=queries)
        fresh = await diagnose(parse_target(WWW), origin, engine)
    # Then CloudFront's handshake fails (a legacy suite only: a warning) in the same words either
    # way
    assert _handshake_check(early)[0] in (Status.FAIL, Status.WARN), _handshake_check(early)
    assert _handshake_check(early) == _handshake_check(fresh)


def _ns_asked(world: DnsWorld) -> list[str]:
    return [s.qname for s in world.resolver.queries() if s.rdtype == "NS"]


_EACH_SERVER_ONCE = sorted((f"{ns}.example.test", t) for ns in NS_ADDRESSES for t in ("A", "AAAA"))


def _servers_asked(world: DnsWorld) -> list[tuple[str, str]]:
    """The resolver's queries for the name servers' addresses, once all six have come."""

    def of(seen: list[Seen]) -> list[tuple[str, str]]:
        return sorted((s.qname, s.rdtype) for s in seen if s.qname.startswith("ns"))

    return of(world.resolver.queries_once(lambda seen: len(of(seen)) >= 6, WATCH_ENDS))


async def test_the_zones_ns_query_goes_out_with_the_replies_and_the_survey_takes_it(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    async with _early_open(dns_world, root_ca_file) as (server, origin, engine, queries, _):
        # Given the early lane, when the replies have come (the AAAA one is NODATA: its SOA
        # names the zone)
        # Then the zone's NS query has gone out already, before any engine, and once its reply
        # came, its name servers' A and AAAA queries
        assert _ns_asked(dns_world) == ["example.test"]
        assert _servers_asked(dns_world) == _EACH_SERVER_ONCE
        # When the engine diagnoses
        report = await _diagnosed_passing(server, queries, origin, engine)
        # Then the zone survey took those replies: the resolver was asked each once, and the
        # survey passed, having asked each name server
        assert passed(report, "dns.authoritative"), report.check("dns.authoritative")
        assert _ns_asked(dns_world) == ["example.test"]
        assert _servers_asked(dns_world) == _EACH_SERVER_ONCE
        assert queries.pending == ()
        await wait_until_all_left(await settled(server))


def test_the_early_questions_stop_at_the_surveys_cap_of_name_servers(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    # Given a zone listing 20 name servers (a hostile zone may list thousands)
    many = {f"ns{i:02}": "127.0.0.2" for i in range(20)}
    dns_world.set_zones(example_zones(ns=many))
    with origin_on(ORIGIN_ADDRESS) as server:
        origin, engine = _settings(server.port), dns_world.engine(ca_file=root_ca_file)
        queries, lane = _as_the_cli(WWW, origin, engine)
        # When the replies have come
        assert _watched(lane) == "connected"
        # Then the servers asked about are the survey's: the first MAX_NS_NAMES, sorted
        first = sorted(f"{n}.example.test" for n in many)[:MAX_NS_NAMES]
        expected = sorted((n, t) for n in first for t in ("A", "AAAA"))
        # (a query of our own, sent after the watch's and answered after them: all are in)
        sentinel = dns.message.make_query("sentinel.example.test", "A")
        dns.query.udp(sentinel, "127.0.0.1", timeout=5, port=dns_world.port)
        seen = dns_world.resolver.queries_once(
            lambda seen: any(s.qname == "sentinel.example.test" for s in seen)
        )
        assert sorted((s.qname, s.rdtype) for s in seen if s.qname.startswith("ns")) == expected
        queries.close()


def _survey_check(report: Report) -> tuple[Status, str, list[tuple[str, str]]]:
    res = report.check("dns.authoritative")
    assert res is not None
    return res.status, _untimed(res.summary), _evidence(res)


@pytest.mark.parametrize(
    "behaviour", [Behaviour.NOT_AUTHORITATIVE, Behaviour.REFUSED, Behaviour.SERVFAIL]
)
async def test_a_broken_name_server_fails_the_survey_taken_early_as_a_fresh_one(
    behaviour: Behaviour, dns_world: DnsWorld, root_ca_file: str
) -> None:
    # Given ns2 broken (lame, refusing or failing), and the survey's first questions asked early
    dns_world.ns["ns2"].behaviour = behaviour
    async with _early_open(dns_world, root_ca_file) as (server, origin, engine, queries, _):
        assert _servers_asked(dns_world) == _EACH_SERVER_ONCE
        # When the engine diagnoses with them, and again on its own
        early = await diagnose(parse_target(WWW), origin, engine, first_queries=queries)
        assert queries.pending == ()  # (it took every early reply)
        fresh = await diagnose(parse_target(WWW), origin, engine)
        await wait_until_all_left(await settled(server))
    # Then dns.authoritative fails, naming ns2, in the same words either way
    status, summary, _ = _survey_check(early)
    assert status is Status.FAIL and "ns2.example.test" in summary, summary
    assert _survey_check(early) == _survey_check(fresh)


def test_without_the_zone_survey_no_ns_query_goes_out_early(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    with origin_on(ORIGIN_ADDRESS) as server:
        origin, engine = _settings(server.port), dns_world.engine(ca_file=root_ca_file)
        # Given `--only tls.handshake` (no dns.authoritative)
        queries = send_first_queries(WWW, engine.resolver_address)
        lane = _first_connections(queries, parse_target(WWW), origin, engine, ["tls.handshake"])
        queries.connections = lane
        # When the replies have come, Then the lane connected but asked nothing more
        assert _watched(lane) == "connected"
        assert _ns_asked(dns_world) == []
        queries.close()


# --- the command line ---------------------------------------------------------------------------

# `cf502 check`, noting on stderr each TCP connect (the thread that made it, where to) and each
# thread started.
_NOTING = """
import sys, threading
def hook(event, args):
    if event == "socket.connect" and isinstance(args[1], tuple) and args[0].type == 1:
        where = " ".join(str(part) for part in args[1][:2])
        sys.stderr.write(f"CONNECT {threading.current_thread().name} {where}\\n")
sys.addaudithook(hook)
_start = threading.Thread.start
def start(self):
    sys.stderr.write(f"THREAD {self.name}\\n")
    _start(self)
threading.Thread.start = start
from cf502.cli import entry
entry()
"""


def _cf502(world: DnsWorld, port: int, ca_file: str, *extra: str) -> tuple[str, list[str]]:
    """(stdout, the connects and threads noted) of `cf502 check www.example.test --json ...`,
    which must exit 0 (no check failed)."""
    argv = [
        sys.executable, "-c", _NOTING, "check", WWW, "--json", "--allow-private",
        "--resolver", f"127.0.0.1:{world.port}", "--dns-port", str(world.port),
        "--dns-timeout", "1", "--ca-file", ca_file, "--https-port", str(port),
        "--connect-timeout", "1", "--read-timeout", "2", *extra,
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, cwd=ROOT)
    assert done.returncode == 0, (done.stdout, done.stderr)
    noted = [line for line in done.stderr.splitlines() if line.startswith(("CONNECT ", "THREAD "))]
    return done.stdout, noted


def test_the_command_connects_once_from_the_early_lane(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    with origin_on(ORIGIN_ADDRESS) as server:
        # When the real command diagnoses www
        out, noted = _cf502(dns_world, server.port, root_ca_file)
        # Then no check failed, and the handshake and the request passed
        statuses = {c["id"]: c["status"] for c in json.loads(out)["checks"]}
        assert statuses["tcp.https"] == statuses["tls.handshake"] == "pass", statuses
        assert statuses["http.response"] == "pass", statuses
        # And it connected to the origin once, from the early lane's thread, before the engine
        assert noted.count("THREAD cf502-first") == 1, noted
        to_origin = [c for c in noted if c.endswith(f" {ORIGIN_ADDRESS} {server.port}")]
        assert to_origin == [f"CONNECT cf502-first {ORIGIN_ADDRESS} {server.port}"], noted
        # And the origin saw that one connection and one handshake, which carried the request
        accepted = server.settled()
        assert len(accepted) == 1 and accepted[0].request.startswith(b"GET / HTTP/1.1\r\n")
        assert server.handshakes == 1
        assert accepted[0].left.wait(LEFT_WITHIN)
        # And the resolver was asked the zone's NS once (early, the survey took its reply)
        assert [s.qname for s in dns_world.resolver.queries() if s.rdtype == "NS"] == [
            "example.test"
        ]


def test_the_command_without_the_handshake_opens_no_early_connection(
    dns_world: DnsWorld, root_ca_file: str
) -> None:
    with origin_on(ORIGIN_ADDRESS) as server:
        out, noted = _cf502(dns_world, server.port, root_ca_file, "--only", "dns.resolve")
        assert [c["id"] for c in json.loads(out)["checks"]] == ["dns.resolve"]
        # No watch was started, and nothing connected to the origin
        assert "THREAD cf502-first" not in noted, noted
        assert [c for c in noted if f" {ORIGIN_ADDRESS} " in c] == []
        assert server.settled() == []
