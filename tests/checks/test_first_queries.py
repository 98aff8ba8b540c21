"""The origin name's first DNS queries, sent before the engine loads (`cf502.firstquery`), and the
resolution taking their replies (`cf502.checks.dns._first`), against real servers on loopback:
`DnsWorld` (which logs every query), a resolver socket that is closed, and a hostile responder
that floods the early sockets."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import cast

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.rdatatype
import dns.resolver
import dns.rrset
import pytest

from cf502.checks.dns._first import MAX_DATAGRAMS, adopt
from cf502.engine import diagnose
from cf502.firstquery import (
    FirstQueries,
    ResolvConf,
    encode_query,
    parse_resolv_conf,
    send_first_queries,
    system_resolver,
)
from cf502.model import CheckResult, Report
from cf502.settings import OriginSettings
from cf502.target import parse_target
from tests.servers.dns import (
    Behaviour,
    DnsWorld,
    dns_world_fixture,  # noqa: F401  (provides the `dns_world` fixture)
)

HOST = "www.example.test"
ROOT = Path(__file__).resolve().parents[2]
SHORT = 0.5  # DNS timeout of the scenarios that wait for one


def _closed_udp_port(host: str) -> int:
    """A UDP port nothing listens on: the kernel answers ICMP port unreachable."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


async def _diagnose(
    world: DnsWorld, first: FirstQueries | None, **engine: object
) -> tuple[CheckResult, Report]:
    report = await diagnose(
        parse_target(HOST),
        OriginSettings(),
        world.engine(**engine),
        only=["dns.resolve"],
        first_queries=first,
    )
    res = report.check("dns.resolve")
    assert res is not None
    return replace(res, duration_ms=0), report


def _resolver_of(world: DnsWorld) -> tuple[str, int]:
    return ("127.0.0.1", world.port)


def _seen(world: DnsWorld, qname: str = HOST) -> list[tuple[str, str]]:
    return sorted((s.rdtype, s.transport) for s in world.resolver.queries() if s.qname == qname)


def _all_closed(first: FirstQueries) -> bool:
    return first.pending == () and all(q.closed for q in first.sent)


async def _with_and_without(
    world: DnsWorld, first: Callable[[], FirstQueries], **engine: object
) -> tuple[tuple[CheckResult, list[tuple[str, str]]], tuple[CheckResult, list[tuple[str, str]]]]:
    """dns.resolve and the resolver's log, first with early queries, then without."""
    early = first()
    with_first, _ = await _diagnose(world, early, **engine)
    seen_with = _seen(world)
    assert _all_closed(early)
    world.resolver.seen.clear()
    without, _ = await _diagnose(world, None, **engine)
    return (with_first, seen_with), (without, _seen(world))


async def test_the_reported_duration_starts_with_the_first_packet(dns_world: DnsWorld) -> None:
    # Given early queries sent well before the engine was called (as a cold process's imports
    # take time between the two): their send time is pushed back by a second
    first = send_first_queries(HOST, _resolver_of(dns_world))
    assert first.sent_at is not None
    first.sent_at -= 1.0
    # When the diagnosis runs
    _, report = await _diagnose(dns_world, first)
    # Then its duration counts from the first packet, not from the engine's call
    assert report.duration_ms >= 1000
    # And without early queries it counts from the call (a loopback diagnosis: well under that)
    _, plain = await _diagnose(dns_world, None)
    assert plain.duration_ms < 1000


# ---------------------------------------------------------------------------------------------
# The resolution takes the early replies, or asks as always


async def test_the_resolution_takes_the_early_replies(dns_world: DnsWorld) -> None:
    # Given the A and AAAA queries for the origin sent early to the engine's resolver
    first = send_first_queries(HOST, _resolver_of(dns_world))
    assert len(first.sent) == 2
    # When the diagnosis resolves the origin
    res, report = await _diagnose(dns_world, first)
    # Then the resolver was asked once for each type (the early queries), not twice
    assert _seen(dns_world) == [("A", "udp"), ("AAAA", "udp")]
    assert res.status.value == "pass" and report.addresses == ("127.0.0.10",)
    # And both early sockets were taken and closed
    assert _all_closed(first)
    # And the result is the one without early queries
    dns_world.resolver.seen.clear()
    plain, _ = await _diagnose(dns_world, None)
    assert res == plain
    assert _seen(dns_world) == [("A", "udp"), ("AAAA", "udp")]


async def test_queries_to_another_resolver_are_not_used(dns_world: DnsWorld) -> None:
    # Given early queries sent to a socket that is not the engine's resolver
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        other.bind(("127.0.0.6", 0))
        first = send_first_queries(HOST, other.getsockname())
        # When the diagnosis resolves the origin through its own resolver
        res, _ = await _diagnose(dns_world, first)
        other.settimeout(5)
        got = [other.recv(512) for _ in first.sent]
    # Then the early queries did go out, the resolver was asked on the normal path, the answer is
    # the usual one, and the early sockets were closed unread
    assert len(got) == 2
    assert _seen(dns_world) == [("A", "udp"), ("AAAA", "udp")]
    assert res.status.value == "pass" and "127.0.0.10" in res.summary
    assert _all_closed(first)


async def test_queries_for_another_name_are_not_used(dns_world: DnsWorld) -> None:
    # Given early queries for another name to the engine's resolver
    first = send_first_queries("alias.example.test", _resolver_of(dns_world))
    # When the diagnosis resolves the origin
    res, _ = await _diagnose(dns_world, first)
    # Then the origin was asked on the normal path and the other name's replies were left alone
    assert _seen(dns_world) == [("A", "udp"), ("AAAA", "udp")]
    assert _seen(dns_world, "alias.example.test") == [("A", "udp"), ("AAAA", "udp")]
    assert res.summary == "www.example.test resolves to 127.0.0.10."
    assert _all_closed(first)


async def test_a_truncated_early_reply_is_asked_again_over_tcp(dns_world: DnsWorld) -> None:
    # Given a resolver that truncates every UDP answer
    dns_world.resolver.behaviour = Behaviour.TRUNCATE
    # When the diagnosis takes the early (truncated) replies
    (with_first, seen), (without, _) = await _with_and_without(
        dns_world, lambda: send_first_queries(HOST, _resolver_of(dns_world))
    )
    # Then dnspython retried over TCP as usual: the answer came, UDP was not asked twice
    assert with_first.status.value == "pass" and "127.0.0.10" in with_first.summary
    assert seen == [("A", "tcp"), ("A", "udp"), ("AAAA", "tcp"), ("AAAA", "udp")]
    assert with_first == without


async def test_a_silent_resolver_reads_the_same_within_the_same_deadline(
    dns_world: DnsWorld,
) -> None:
    # Given a resolver that answers nothing
    dns_world.resolver.behaviour = Behaviour.SILENT
    # When the diagnosis waits on the early queries
    started = time.monotonic()
    early = send_first_queries(HOST, _resolver_of(dns_world))
    with_first, _ = await _diagnose(dns_world, early, dns_timeout=SHORT)
    elapsed = time.monotonic() - started
    # Then it is the usual "did not answer" error, within one DNS timeout (and the control query)
    assert with_first.status.value == "error"
    assert "did not answer (not even a query for the root zone)" in with_first.summary
    assert elapsed < 2 * SHORT
    assert _seen(dns_world) == [("A", "udp"), ("AAAA", "udp")]
    assert _all_closed(early)
    without, _ = await _diagnose(dns_world, None, dns_timeout=SHORT)
    assert with_first == without


async def test_a_name_that_times_out_reads_the_same(dns_world: DnsWorld) -> None:
    # Given a resolver alive but silent for the origin's name only
    dns_world.resolver.silent_for.add(HOST)
    # When the diagnosis waits on the early queries
    (with_first, seen), (without, _) = await _with_and_without(
        dns_world, lambda: send_first_queries(HOST, _resolver_of(dns_world)), dns_timeout=SHORT
    )
    # Then it is the origin's timeout, worded as without early queries
    assert f"gave no answer within {SHORT:g} s" in with_first.summary
    assert seen == [("A", "udp"), ("AAAA", "udp")]
    assert with_first == without


async def test_a_closed_resolver_port_reads_the_same(dns_world: DnsWorld) -> None:
    # Given a resolver address whose port is closed (the kernel answers ICMP port unreachable,
    # which only the early, connected sockets see)
    port = _closed_udp_port("127.0.0.1")
    resolver = f"127.0.0.1:{port}"
    early = send_first_queries(HOST, ("127.0.0.1", port))
    with_first, _ = await _diagnose(dns_world, early, resolver=resolver, dns_timeout=SHORT)
    without, _ = await _diagnose(dns_world, None, resolver=resolver, dns_timeout=SHORT)
    # Then the verdict is dnspython's own (a silent resolver), not a new one
    assert with_first.status.value == "error" and "did not answer" in with_first.summary
    assert with_first == without
    assert _all_closed(early)


# ---------------------------------------------------------------------------------------------
# A hostile responder floods the early sockets


class _Hostile(asyncio.DatagramProtocol):
    """A "resolver" that answers each query with `junk` datagrams that are not its reply (random
    bytes, replies with the wrong id, to another question, a query, a truncated wrong-id reply),
    then the real reply when `answer`."""

    def __init__(self, junk: int, answer: bool) -> None:
        self.junk, self.answer = junk, answer
        self.queries: list[tuple[str, int]] = []  # (type, source port)
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        query = dns.message.from_wire(data)
        rdtype = query.question[0].rdtype
        self.queries.append((dns.rdatatype.to_text(rdtype), addr[1]))
        reply = dns.message.make_response(query)
        if rdtype == dns.rdatatype.A:
            reply.answer.append(
                dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "192.0.2.1")
            )
        wrong_id = dns.message.make_response(query)
        wrong_id.id ^= 0xFFFF
        truncated = dns.message.make_response(query)
        truncated.id ^= 0x00FF
        truncated.flags |= dns.flags.TC
        other_question = dns.message.make_response(dns.message.make_query("other.example.", "A"))
        other_question.id = query.id
        kinds = [
            b"\xff" * 40,
            wrong_id.to_wire(),
            truncated.to_wire(),
            other_question.to_wire(),
            data,  # the query itself: QR unset
            b"\x00",  # (asyncio does not send an empty datagram)
        ]
        for i in range(self.junk):
            self.transport.sendto(kinds[i % len(kinds)], addr)
        if self.answer:
            self.transport.sendto(reply.to_wire(), addr)


async def _hostile(junk: int, answer: bool) -> tuple[_Hostile, asyncio.DatagramTransport, int]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _Hostile(junk, answer), local_addr=("127.0.0.7", 0)
    )
    return protocol, transport, transport.get_extra_info("sockname")[1]


def _resolver_at(port: int, timeout: float = 1.0) -> dns.asyncresolver.Resolver:
    res = dns.asyncresolver.Resolver(configure=False)
    res.nameservers, res.port = ["127.0.0.7"], port
    res.timeout = res.lifetime = timeout
    res.cache = None
    return res


@pytest.mark.parametrize(
    ("junk", "early_used"), [(MAX_DATAGRAMS - 1, True), (MAX_DATAGRAMS, False)]
)
async def test_datagrams_that_are_not_the_reply_are_ignored_up_to_the_cap(
    junk: int, early_used: bool
) -> None:
    # Given a responder that sends `junk` datagrams that are not the reply before the reply
    hostile, transport, port = await _hostile(junk, answer=True)
    try:
        first = send_first_queries(HOST, ("127.0.0.7", port))
        res = _resolver_at(port)
        adopt(res, first)
        # When the resolution takes the early A query
        answer = await res.resolve(HOST, "A", search=False)
    finally:
        transport.close()
        first.close()
    # Then the answer is right either way
    assert [rd.to_text() for rd in answer] == ["192.0.2.1"]
    asked = [q for q in hostile.queries if q[0] == "A"]
    if early_used:
        # within the cap, the early socket's reply was taken: A was asked once
        assert len(asked) == 1
    else:
        # at the cap, the early socket was given up after MAX_DATAGRAMS reads and the query
        # asked again on dnspython's normal path (from another socket)
        assert len(asked) == 2 and asked[0][1] != asked[1][1]
    assert _all_closed(first)


async def test_a_flood_without_a_reply_times_out_as_without_early_queries() -> None:
    # Given a responder flooding every query with 2000 datagrams and never replying
    _, transport, port = await _hostile(2000, answer=False)
    outcomes: list[tuple[type[BaseException], float]] = []
    try:
        for early in (True, False):
            res = _resolver_at(port, SHORT)
            first = send_first_queries(HOST, ("127.0.0.7", port)) if early else FirstQueries()
            adopt(res, first)
            started = time.monotonic()
            with pytest.raises(dns.exception.Timeout) as failed:
                await res.resolve(HOST, "A", search=False)
            outcomes.append((type(failed.value), time.monotonic() - started))
            first.close()
    finally:
        transport.close()
    # Then it times out the same way, within the same deadline
    (with_first, took), (without, _) = outcomes
    assert with_first is without is dns.resolver.LifetimeTimeout
    assert took < SHORT + 0.5


# ---------------------------------------------------------------------------------------------
# The wire: byte for byte what dnspython sends


def _dnspython_sends(res: dns.asyncresolver.Resolver, rdtype: str) -> bytes:
    """The datagram dnspython's Resolver really sends for HOST, caught on a loopback socket."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.8", 0))
        res.port = sink.getsockname()[1]
        res.timeout = res.lifetime = 0.2
        res.cache = None

        async def ask() -> None:
            with pytest.raises(dns.exception.Timeout):
                await res.resolve(HOST, rdtype, search=False)

        asyncio.run(ask())
        sink.settimeout(5)
        return sink.recv(512)


@pytest.mark.parametrize("rdtype", ["A", "AAAA"])
@pytest.mark.parametrize(
    ("conf", "edns"),
    [
        (None, False),
        ("nameserver 127.0.0.8\n", False),
        ("options edns0 trust-ad\nnameserver 127.0.0.8\n", True),
    ],
)
def test_the_early_query_is_what_dnspython_sends(
    tmp_path: Path, conf: str | None, edns: bool, rdtype: str
) -> None:
    # Given dnspython's Resolver as make_resolver builds it (--resolver) or from a resolv.conf
    if conf is None:
        res = dns.asyncresolver.Resolver(configure=False)
        res.nameservers = ["127.0.0.8"]
    else:
        (tmp_path / "resolv.conf").write_text(conf)
        res = dns.asyncresolver.Resolver(str(tmp_path / "resolv.conf"))
        assert system_resolver(str(tmp_path / "resolv.conf")) == (("127.0.0.8", 53), edns)
    # When it sends its query, Then ours with the same id is the same bytes
    sent = _dnspython_sends(res, rdtype)
    number = dns.rdatatype.from_text(rdtype)
    assert encode_query(HOST, number, int.from_bytes(sent[:2], "big"), edns=edns) == sent


def test_names_that_are_not_plain_are_not_sent() -> None:
    # Given names whose wire form is not plain letters, digits and hyphens
    for name in (
        "",
        "a..b",
        "a" * 64 + ".test",
        "caf\u00e9.test",
        "a\\.b.test",
        ".".join(["a" * 60] * 5),
    ):
        # Then no query is encoded (the resolution asks on its own)
        assert encode_query(name, 1, 0, edns=False) is None
    assert encode_query("www.example.test.", 1, 0, edns=False) == encode_query(
        HOST, 1, 0, edns=False
    )


# ---------------------------------------------------------------------------------------------
# /etc/resolv.conf, read as dnspython reads it


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nameserver 10.0.0.2\nnameserver 10.0.0.3\n", ResolvConf(("10.0.0.2", "10.0.0.3"), False, False)),
        ("# nameserver 10.9.9.9\n; nameserver 10.9.9.8\nnameserver 2001:db8::53\n", ResolvConf(("2001:db8::53",), False, False)),
        ("nameserver fe80::1%eth0 # link-local\r\noptions rotate edns0\n", ResolvConf(("fe80::1%eth0",), True, True)),
        ("search example.com\nnameserver\n  # indented comment\noptions ndots:2\n", ResolvConf((), False, False)),
        ("", ResolvConf((), False, False)),
    ],
)  # fmt: skip
def test_resolv_conf_is_read_as_dnspython_reads_it(text: str, expected: ResolvConf) -> None:
    # Given a resolv.conf text, When it is read
    conf = parse_resolv_conf(text)
    # Then it says what we expect, which is what dnspython takes from it
    assert conf == expected
    try:
        res = dns.resolver.Resolver(_text_file(text))
    except dns.resolver.NoResolverConfiguration:
        assert conf.nameservers == ()
        return
    assert tuple(res.nameservers) == conf.nameservers
    assert (res.edns == 0, res.rotate) == (conf.edns0, conf.rotate)


def _text_file(text: str) -> io.StringIO:
    return io.StringIO(text, newline=None)  # universal newlines, as open() reads the file


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nameserver ::1\n", (("::1", 53), False)),
        ("nameserver fe80::1%1\noptions edns0\n", (("fe80::1%1", 53), True)),
        ("nameserver 10.0.0.2\nnameserver 10.0.0.3\noptions rotate\n", None),  # random first
        ("nameserver 10.0.0.2\noptions rotate\n", (("10.0.0.2", 53), False)),
        ("nameserver https://dns.example/dns-query\n", None),  # DNS over HTTPS in dnspython
        ("nameserver 010.0.0.2\n", None),
        ("domain example.com\n", None),
    ],
)
def test_the_system_resolver_is_the_first_nameserver(
    tmp_path: Path, text: str, expected: tuple[tuple[str, int], bool] | None
) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text(text)
    assert system_resolver(str(path)) == expected


def test_no_resolv_conf_sends_nothing(tmp_path: Path) -> None:
    assert system_resolver(str(tmp_path / "missing")) is None
    assert send_first_queries(HOST, ("not-an-address", 53)).sent == ()
    empty = FirstQueries()
    empty.close()
    empty.close()  # idempotent
    assert empty.take(("127.0.0.1", 53), b"\x00" * 30) is None


def test_take_matches_the_server_whatever_its_spelling() -> None:
    # Given a query sent to ::1 on a port nobody listens to (nothing is read)
    port = _closed_udp_port("::1")
    first = send_first_queries(HOST, ("::1", port))
    wire = first.sent[0].wire
    # When the resolution looks for it, Then the server's spelling does not matter, but its port,
    # the question and anything but the id do
    assert first.take(("::1", port + 1), wire) is None
    assert first.take(("0::1", port), wire[:-1] + b"\x02") is None
    assert first.expects(("0:0::1", port))
    taken = first.take(("0:0::1", port), b"\x12\x34" + wire[2:])
    assert taken is first.sent[0]
    assert first.take(("::1", port), wire) is None  # once only
    taken.close()
    first.close()
    assert _all_closed(first)


# ---------------------------------------------------------------------------------------------
# The command line


def _cf502(world: DnsWorld, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable, "-m", "cf502", "check", HOST, "--json", "--allow-private",
        "--resolver", f"127.0.0.1:{world.port}", "--dns-port", str(world.port),
        "--dns-timeout", "1", *extra,
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, cwd=ROOT)


def test_the_command_asks_each_type_once(dns_world: DnsWorld) -> None:
    # Given the real command against the loopback resolver
    done = _cf502(dns_world, "--only", "dns.resolve")
    # Then it resolved the origin, asking the resolver once for A and once for AAAA
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [c["status"] for c in report["checks"] if c["id"] == "dns.resolve"] == ["pass"]
    assert _seen(dns_world) == [("A", "udp"), ("AAAA", "udp")]


def test_a_refused_command_line_sends_at_most_the_names_two_first_queries(
    dns_world: DnsWorld,
) -> None:
    # Given an unknown check id (the ids are checked once the command line is parsed, after the
    # name's first queries: `cf502.entry`)
    done = _cf502(dns_world, "--only", "dns.nope")
    # Then it is refused, and nothing went out but those two queries to the resolver named: no
    # other query, no connection (those wait for the validated command line)
    assert done.returncode == 2 and "dns.nope" in done.stderr
    asked = [(s.qname, s.rdtype) for s in dns_world.resolver.queries()]
    assert sorted(asked) == [(HOST, "A"), (HOST, "AAAA")]


def test_a_command_line_not_read_for_certain_sends_nothing_when_refused(
    dns_world: DnsWorld,
) -> None:
    # Given an option the early reading does not know (so it sends nothing early)
    done = _cf502(dns_world, "--no-such-option", "1")
    # Then the parser refuses it before any query
    assert done.returncode == 2 and "--no-such-option" in done.stderr
    assert dns_world.resolver.queries() == []


_ORDER = """
import json, sys
seen = []
def hook(event, args):
    if event == "socket.connect" and not seen:
        seen.append(1)
        sys.stderr.write("FIRST " + json.dumps(sorted(m for m in ("asyncio", "dns") if m in sys.modules)) + "\\n")
sys.addaudithook(hook)
from cf502.cli import main
main(sys.argv[1:])
"""


def test_the_first_packet_leaves_before_asyncio_and_dnspython_load(dns_world: DnsWorld) -> None:
    # Given the command without --only (which loads the engine to check the ids), the origin's
    # name resolving to a closed loopback port
    argv = [
        sys.executable, "-c", _ORDER, "check", HOST, "--json", "--allow-private",
        "--resolver", f"127.0.0.1:{dns_world.port}", "--dns-port", str(dns_world.port),
        "--dns-timeout", "1", "--connect-timeout", "1", "--read-timeout", "1",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, cwd=ROOT)
    # Then its first connection (the early query's socket) came before asyncio and dnspython
    first = [line for line in done.stderr.splitlines() if line.startswith("FIRST ")]
    assert first == ["FIRST []"], done.stderr
    assert _seen(dns_world) == [("A", "udp"), ("AAAA", "udp")]
