"""The demo's DNS server: a resolver and the authoritative server of the demo zones in one,
on loopback, built on dnspython's message and zone API (UDP and TCP).

It answers from its zones only (REFUSED for anything else, so nothing is ever forwarded off the
machine), follows CNAMEs within them like a resolver, and sets the AA flag like the zones' own
name server, which is what `dns.authoritative` asks it as.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Mapping
from typing import Any, cast

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

__all__ = ["DemoDns"]

_MAX_CHAIN = 8  # the demo's CNAME chains are one link long; never loop


class DemoDns:
    """Zones (origin name -> zone file text) served on one loopback address and port."""

    def __init__(self, zones: Mapping[str, str]) -> None:
        loaded = [dns.zone.from_text(text, origin=o, relativize=False) for o, text in zones.items()]
        self._zones = sorted(loaded, key=lambda z: len(_apex(z)), reverse=True)
        self._servers: list[asyncio.Server] = []
        self._transports: list[asyncio.BaseTransport] = []
        self.port = 0

    def _zone_for(self, qname: dns.name.Name) -> dns.zone.Zone | None:
        return next((z for z in self._zones if qname.is_subdomain(_apex(z))), None)

    def _soa(self, zone: dns.zone.Zone) -> dns.rrset.RRset:
        rds = zone.find_rdataset(_apex(zone), dns.rdatatype.SOA)
        return dns.rrset.from_rdata_list(_apex(zone), rds.ttl, list(rds))

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA | dns.flags.AA
        question = query.question[0]
        qname, rdtype = question.name, dns.rdatatype.RdataType(question.rdtype)
        zone = self._zone_for(qname)
        if zone is None:
            response.flags &= ~dns.flags.AA
            response.set_rcode(dns.rcode.REFUSED)
            return response
        for _ in range(_MAX_CHAIN):
            node = zone.get_node(qname)
            if node is None:
                exists = any(n.is_subdomain(qname) for n in zone.nodes)
                response.set_rcode(dns.rcode.NOERROR if exists else dns.rcode.NXDOMAIN)
                response.authority.append(self._soa(zone))
                return response
            found = node.get_rdataset(dns.rdataclass.IN, rdtype)
            if found is not None:
                response.answer.append(dns.rrset.from_rdata_list(qname, found.ttl, list(found)))
                return response
            cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if cname is None:
                response.authority.append(self._soa(zone))
                return response
            response.answer.append(dns.rrset.from_rdata_list(qname, cname.ttl, list(cname)))
            qname = next(iter(cname)).target
            next_zone = self._zone_for(qname)
            if next_zone is None:
                return response
            zone = next_zone
        response.set_rcode(dns.rcode.SERVFAIL)
        return response

    def reply(self, wire: bytes) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except Exception:  # not DNS: stay silent, as servers do
            return None
        if len(query.question) != 1:
            return None
        return self.answer(query).to_wire()

    async def start(self, host: str) -> None:
        """Serve UDP and TCP on `host`, on one port that is free for both."""
        loop = asyncio.get_running_loop()
        for _ in range(50):
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=(host, 0)
            )
            port = transport.get_extra_info("sockname")[1]
            try:
                server = await asyncio.start_server(self._tcp, host, port)
            except OSError:  # the TCP port is taken: try another pair
                transport.close()
                continue
            self._transports.append(transport)
            self._servers.append(server)
            self.port = port
            return
        raise OSError("no port free for both UDP and TCP on " + host)

    async def _tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            async with asyncio.timeout(10):
                while True:
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    reply = self.reply(await reader.readexactly(length))
                    if reply is None:
                        break
                    writer.write(struct.pack("!H", len(reply)) + reply)
                    await writer.drain()
        writer.close()

    def close(self) -> None:
        for transport in self._transports:
            transport.close()
        for server in self._servers:
            server.close()


def _apex(zone: dns.zone.Zone) -> dns.name.Name:
    return zone.origin or dns.name.root  # zones from text always have their origin


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DemoDns) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        reply = self.server.reply(data)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)
