"""A real DNS server on loopback for tests, built on dnspython's message API (UDP and TCP).

One `DnsWorld` is a recursive resolver on 127.0.0.1 plus three authoritative name servers
(ns1/ns2/ns3.example.test on 127.0.0.2/.3/.4), all on the SAME port, so the engine can be pointed
at them with `EngineSettings(resolver="127.0.0.1:PORT", dns_port=PORT)`. Every server answers
from the same test zones (`example.test`, `elb.amazonaws.com`, ...) unless a test gives one of them
its own (disagreeing) zones, and each has a `behaviour` (silent, REFUSED, no AA flag, SERVFAIL,
truncated over UDP) that a test sets before running a check. Servers log every query they get.

All servers share one asyncio loop in one thread; `DnsWorld.start()` returns once every socket
is bound and serving (readiness via an Event, no sleeps).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone
import pytest

from cf502.settings import EngineSettings

__all__ = [
    "NS_ADDRESSES",
    "RESOLVER_ADDRESS",
    "Behaviour",
    "DnsServer",
    "DnsWorld",
    "Seen",
    "Zones",
    "dns_world_fixture",
    "example_zones",
]

RESOLVER_ADDRESS = "127.0.0.1"
NS_ADDRESSES = {"ns1": "127.0.0.2", "ns2": "127.0.0.3", "ns3": "127.0.0.4"}
ORIGIN_ADDRESS = "127.0.0.10"
SERIAL = 2024010101


class Behaviour(StrEnum):
    """How a server treats every query it gets."""

    GOOD = "good"  # answers from its zones (AA set when authoritative)
    SILENT = "silent"  # never answers (UDP dropped, TCP left hanging)
    REFUSED = "refused"
    SERVFAIL = "servfail"
    NOT_AUTHORITATIVE = "not-authoritative"  # right data, but without the AA flag
    TRUNCATE = "truncate"  # UDP answers come back empty with TC set; TCP answers in full


def _zone_text(
    *, www: str, serial: int, ns: Mapping[str, str], www6: str | None, extra: str
) -> str:
    ns_lines = "\n".join(f"@ NS {name}" for name in ns)
    glue = "\n".join(f"{name} A {addr}" for name, addr in ns.items())
    aaaa = f"www AAAA {www6}" if www6 else ""
    return f"""
$TTL 300
@ SOA ns1 hostmaster {serial} 3600 600 86400 300
{ns_lines}
{glue}
www A {www}
{aaaa}
nodata TXT "a name with no address"
alias CNAME www
alias2 CNAME alias
lb CNAME my-lb-1234567890.us-east-1.elb.amazonaws.com.
nlb CNAME my-nlb-0123456789abcdef.elb.eu-west-1.amazonaws.com.
site CNAME bucket.s3-website-us-east-1.amazonaws.com.
site2 CNAME bucket.s3-website.eu-central-1.amazonaws.com.
api CNAME abc123defg.execute-api.eu-west-1.amazonaws.com.
dangling CNAME deleted-lb-42.us-east-1.elb.amazonaws.com.
{extra}
"""


_AWS_ZONE = f"""
$TTL 60
@ SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60
@ NS ns1.example.test.
my-lb-1234567890.us-east-1.elb A {ORIGIN_ADDRESS}
my-lb-1234567890.us-east-1.elb A 127.0.0.11
my-nlb-0123456789abcdef.elb.eu-west-1 A {ORIGIN_ADDRESS}
bucket.s3-website-us-east-1 A {ORIGIN_ADDRESS}
bucket.s3-website.eu-central-1 A {ORIGIN_ADDRESS}
abc123defg.execute-api.eu-west-1 A {ORIGIN_ADDRESS}
"""


class Zones:
    """A set of zones a server answers from, looked up like a real server would."""

    def __init__(self, zones: Sequence[dns.zone.Zone]) -> None:
        # Longest origin first, so the closest enclosing zone wins.
        self.zones = sorted(zones, key=lambda z: len(z.origin or dns.name.root), reverse=True)

    @classmethod
    def from_text(cls, texts: Mapping[str, str]) -> Zones:
        return cls(
            [
                dns.zone.from_text(text, origin=origin, relativize=False)
                for origin, text in texts.items()
            ]
        )

    def zone_for(self, qname: dns.name.Name) -> dns.zone.Zone | None:
        for zone in self.zones:
            assert zone.origin is not None
            if qname.is_subdomain(zone.origin):
                return zone
        return None

    def soa(self, zone: dns.zone.Zone) -> dns.rrset.RRset:
        assert zone.origin is not None
        rds = zone.find_rdataset(zone.origin, dns.rdatatype.SOA)
        return dns.rrset.from_rdata_list(zone.origin, rds.ttl, list(rds))

    def answer(
        self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType
    ) -> tuple[dns.rcode.Rcode, list[dns.rrset.RRset], list[dns.rrset.RRset]] | None:
        """(rcode, answer, authority) for a query, following CNAMEs; None when out of zone."""
        zone = self.zone_for(qname)
        if zone is None:
            return None
        answer: list[dns.rrset.RRset] = []
        for _ in range(8):  # CNAME chains in the test zones are short; never loop forever
            node = zone.get_node(qname)
            if node is None:
                # An empty non-terminal (a name with only children) exists: NODATA, not NXDOMAIN.
                exists = any(n.is_subdomain(qname) for n in zone.nodes)
                rcode = dns.rcode.NOERROR if exists else dns.rcode.NXDOMAIN
                return rcode, answer, [self.soa(zone)]
            rds = node.get_rdataset(dns.rdataclass.IN, rdtype)
            if rds is not None:
                answer.append(dns.rrset.from_rdata_list(qname, rds.ttl, list(rds)))
                return dns.rcode.NOERROR, answer, []
            cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if cname is None:
                return dns.rcode.NOERROR, answer, [self.soa(zone)]
            answer.append(dns.rrset.from_rdata_list(qname, cname.ttl, list(cname)))
            qname = next(iter(cname)).target
            next_zone = self.zone_for(qname)
            if next_zone is None:
                return dns.rcode.NOERROR, answer, []
            zone = next_zone
        return dns.rcode.SERVFAIL, [], []


def example_zones(
    *,
    www: str = ORIGIN_ADDRESS,
    www6: str | None = None,
    serial: int = SERIAL,
    ns: Mapping[str, str] | None = None,
    extra: str = "",
) -> Zones:
    """The test zones: `example.test` (origin `www`, aliases, ELB/S3/API Gateway CNAMEs) and the
    AWS names they point at. Change `www` or `serial` to build a disagreeing server's copy."""
    return Zones.from_text(
        {
            "example.test.": _zone_text(
                www=www, serial=serial, ns=ns or NS_ADDRESSES, www6=www6, extra=extra
            ),
            "amazonaws.com.": _AWS_ZONE,
        }
    )


@dataclass(frozen=True, slots=True)
class Seen:
    """One query a server received."""

    qname: str
    rdtype: str
    transport: str  # "udp" or "tcp"
    rd: bool  # recursion desired


@dataclass
class DnsServer:
    """One DNS server (UDP + TCP) on `address`: set `behaviour`/`zones` to change what it does.

    `recursive` servers answer like a resolver (RA set, no AA); the others answer with AA.
    `silent_for` names get no answer at all, whatever the behaviour (a resolver that is alive but
    gets nothing from the name's own servers in time).
    """

    address: str
    zones: Zones
    recursive: bool = False
    behaviour: Behaviour = Behaviour.GOOD
    silent_for: set[str] = field(default_factory=set)
    seen: list[Seen] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def record(self, query: dns.message.Message, transport: str) -> None:
        q = query.question[0]
        seen = Seen(
            q.name.to_text(omit_final_dot=True).lower(),
            dns.rdatatype.to_text(q.rdtype),
            transport,
            bool(query.flags & dns.flags.RD),
        )
        with self._cond:
            self.seen.append(seen)
            self._cond.notify_all()

    def wait_for(self, qname: str, timeout: float = 5.0) -> Seen:
        """Block until a query for `qname` arrives (or fail after `timeout`)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                hit = next((s for s in self.seen if s.qname == qname), None)
                if hit is not None:
                    return hit
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.address} saw no query for {qname}: {self.seen}")
                self._cond.wait(left)

    def queries(self) -> list[Seen]:
        with self._cond:
            return list(self.seen)

    def queries_once(
        self, enough: Callable[[list[Seen]], bool], timeout: float = 5.0
    ) -> list[Seen]:
        """The queries seen, once `enough` says so of them (or as they are after `timeout`)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not enough(self.seen):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return list(self.seen)

    def handle(self, query: dns.message.Message, transport: str) -> dns.message.Message | None:
        """The response to `query`, or None to stay silent."""
        self.record(query, transport)
        behaviour = self.behaviour
        qname = query.question[0].name.to_text(omit_final_dot=True).lower()
        if behaviour is Behaviour.SILENT or qname in self.silent_for:
            return None
        response = dns.message.make_response(query)
        if self.recursive:
            response.flags |= dns.flags.RA
        if behaviour is Behaviour.REFUSED:
            response.set_rcode(dns.rcode.REFUSED)
            return response
        if behaviour is Behaviour.SERVFAIL:
            response.set_rcode(dns.rcode.SERVFAIL)
            return response
        if behaviour is Behaviour.TRUNCATE and transport == "udp":
            response.flags |= dns.flags.TC
            return response
        q = query.question[0]
        found = self.zones.answer(q.name, dns.rdatatype.RdataType(q.rdtype))
        if found is None:
            response.set_rcode(dns.rcode.REFUSED)  # not our zone
            return response
        rcode, answer, authority = found
        response.set_rcode(rcode)
        response.answer.extend(answer)
        response.authority.extend(authority)
        if not self.recursive and behaviour is not Behaviour.NOT_AUTHORITATIVE:
            response.flags |= dns.flags.AA
        return response

    def wire(self, data: bytes, transport: str) -> bytes | None:
        try:
            query = dns.message.from_wire(data)
        except Exception:  # garbage in: stay silent, like most servers
            return None
        if not query.question:
            return None
        response = self.handle(query, transport)
        return None if response is None else response.to_wire()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        reply = self.server.wire(data, "udp")
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


async def _serve_tcp(
    server: DnsServer,
    clients: set[asyncio.StreamWriter],
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    clients.add(writer)
    try:
        while True:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            reply = server.wire(await reader.readexactly(length), "tcp")
            if reply is not None:
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        clients.discard(writer)
        writer.close()


def _bind_same_port(
    addresses: Sequence[str],
) -> tuple[int, list[tuple[socket.socket, socket.socket]]]:
    """Bind UDP and TCP sockets on one port that is free on every address (retry on clashes)."""
    for _ in range(100):
        pairs: list[tuple[socket.socket, socket.socket]] = []
        port = 0
        try:
            for address in addresses:
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                udp = socket.socket(family, socket.SOCK_DGRAM)
                tcp = socket.socket(family, socket.SOCK_STREAM)
                pairs.append((udp, tcp))
                udp.bind((address, port))
                port = udp.getsockname()[1]
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((address, port))
                tcp.listen(64)
        except OSError as exc:
            for udp, tcp in pairs:
                udp.close()
                tcp.close()
            if exc.errno != errno.EADDRINUSE:
                raise
            continue
        return port, pairs
    raise RuntimeError("no port free on all of " + ", ".join(addresses))


class DnsWorld:
    """A resolver on 127.0.0.1 and ns1-ns3.example.test on 127.0.0.2-4, all on one port.

    `extra_ns` adds more name servers by name and address (e.g. {"ns6": "::1"}); they serve the
    same zones but are listed in the NS set only if a test's zones say so.
    """

    def __init__(self, extra_ns: Mapping[str, str] | None = None) -> None:
        zones = example_zones()
        self.resolver = DnsServer(RESOLVER_ADDRESS, zones, recursive=True)
        self.ns = {name: DnsServer(addr, zones) for name, addr in NS_ADDRESSES.items()}
        for name, addr in (extra_ns or {}).items():
            self.ns[name] = DnsServer(addr, zones)
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None

    @property
    def servers(self) -> list[DnsServer]:
        return [self.resolver, *self.ns.values()]

    def set_zones(self, zones: Zones) -> None:
        """Serve `zones` from every server (resolver included)."""
        for server in self.servers:
            server.zones = zones

    def engine(self, **overrides: Any) -> EngineSettings:
        """Engine settings pointed at this world (private targets allowed, short DNS timeout)."""
        settings: dict[str, Any] = {
            "allow_private": True,
            "resolver": f"{RESOLVER_ADDRESS}:{self.port}",
            "dns_port": self.port,
            "dns_timeout": 1.0,
        }
        settings.update(overrides)
        return EngineSettings(**settings)

    def start(self) -> DnsWorld:
        port, sockets = _bind_same_port([s.address for s in self.servers])
        self.port = port
        ready = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            transports: list[asyncio.BaseTransport] = []
            tcp_servers: list[asyncio.Server] = []
            clients: set[asyncio.StreamWriter] = set()
            try:
                for server, (udp, tcp) in zip(self.servers, sockets, strict=True):
                    transport, _ = await loop.create_datagram_endpoint(
                        functools.partial(_Udp, server), sock=udp
                    )
                    transports.append(transport)
                    tcp_servers.append(
                        await asyncio.start_server(
                            functools.partial(_serve_tcp, server, clients),
                            sock=tcp,
                        )
                    )
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                raise
            ready.set()
            try:
                await self._stop.wait()
            finally:
                for t in transports:
                    t.close()
                for s in tcp_servers:
                    s.close()
                for w in list(clients):  # e.g. TCP clients a silent server left hanging
                    w.close()
                for s in tcp_servers:
                    await s.wait_closed()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(main())
            except BaseException:
                if not failure:
                    raise
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name=f"dns-world-{port}", daemon=True)
        self._thread.start()
        if not ready.wait(10) or failure:
            raise RuntimeError(f"DNS test servers did not start: {failure}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> DnsWorld:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(name="dns_world")
def dns_world_fixture() -> Iterator[DnsWorld]:
    """`dns_world`: a fresh resolver + three good name servers for one test."""
    with DnsWorld() as world:
        yield world
