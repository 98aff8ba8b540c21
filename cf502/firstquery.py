"""The origin name's first DNS queries, sent as soon as `cf502 check` has read its command line.

A cold `cf502 check` spends ~100 ms importing asyncio, dnspython and the engine before its first
packet. The A and AAAA queries for the origin go out first, from here, while those imports run;
the resolution (`cf502.checks.dns._first`) then takes their replies instead of asking again.

Each query is byte for byte what dnspython's `Resolver.resolve(name, rdtype, search=False)` would
send (apart from its random id), so its reply is the one dnspython would have got. Anything that
does not match is simply not used: the resolution asks on its normal path.

Standard library only, and little of it: this module is imported before the first packet.
`_socket` rather than `socket` because `socket` costs ~3 ms of enum building on a cold start.
"""

from __future__ import annotations

import _socket
import _thread
import os
import time
from collections import namedtuple

# Not `typing`: importing it costs ~5 ms before the first packet (mypy reads this name as typing's).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import NamedTuple

    from cf502.firstconnect import FirstConnections

__all__ = [
    "EDNS_PAYLOAD",
    "MAX_RESOLV_CONF",
    "RESOLV_CONF",
    "EarlyQuery",
    "FirstQueries",
    "ResolvConf",
    "claim",
    "encode_query",
    "parse_resolv_conf",
    "send_early",
    "send_first_queries",
    "system_resolver",
]

RESOLV_CONF = "/etc/resolv.conf"
MAX_RESOLV_CONF = 65536  # bytes read of it; a nameserver line further down is not looked for
EDNS_PAYLOAD = 1232  # dnspython's DEFAULT_EDNS_PAYLOAD: what `options edns0` makes it send
_A, _AAAA = 1, 28
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


_RESOLV_CONF_DOC = """What dnspython's `read_resolv_conf` takes from /etc/resolv.conf that shapes the
first query.

Attributes:
    nameservers: the `nameserver` values, in order (not validated, as dnspython reads them).
    edns0: `options edns0` (dnspython then sends EDNS0 with a 1232-byte payload).
    rotate: `options rotate` (dnspython then asks its nameservers in a random order).
"""

if TYPE_CHECKING:

    class ResolvConf(NamedTuple):
        nameservers: tuple[str, ...]
        edns0: bool
        rotate: bool

else:  # the same named tuple, without `typing` (see TYPE_CHECKING)
    ResolvConf = namedtuple("ResolvConf", ("nameservers", "edns0", "rotate"))
    ResolvConf.__doc__ = _RESOLV_CONF_DOC


def parse_resolv_conf(text: str) -> ResolvConf:
    """Read resolv.conf `text` line by line exactly as dnspython 2.9 does: a comment is a line
    starting with `#` or `;`, a line needs two tokens, `options` may say `rotate` and `edns0`."""
    nameservers: list[str] = []
    edns0 = rotate = False
    # A file read in text mode has its \r\n and \r turned into \n: those are its lines.
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line or line[0] in "#;":
            continue
        tokens = line.split()
        if len(tokens) < 2:
            continue
        if tokens[0] == "nameserver":
            nameservers.append(tokens[1])
        elif tokens[0] == "options":
            rotate = rotate or "rotate" in tokens[1:]
            edns0 = edns0 or "edns0" in tokens[1:]
    return ResolvConf(tuple(nameservers), edns0, rotate)


def system_resolver(path: str = RESOLV_CONF) -> tuple[tuple[str, int], bool] | None:
    """The server dnspython's `Resolver()` asks first, on port 53, and whether it uses EDNS0;
    None when the file cannot be read, names no nameserver, names one that is not an IP address
    (dnspython would use DNS over HTTPS or refuse it) or asks them in a random order."""
    try:
        with open(path, encoding="utf-8") as f:
            conf = parse_resolv_conf(f.read(MAX_RESOLV_CONF))
    except (OSError, UnicodeError):
        return None
    if not conf.nameservers or (conf.rotate and len(conf.nameservers) > 1):
        return None
    server = (conf.nameservers[0], 53)
    return (server, conf.edns0) if _sockaddr(server) is not None else None


def _wire_name(host: str) -> bytes | None:
    """`host` in wire form, or None for anything but plain LDH (and `_`) labels: those are the
    names whose encoding is certain to be dnspython's (no escapes, no IDNA, no case folding)."""
    labels = (host[:-1] if host.endswith(".") else host).split(".")
    wire = bytearray()
    for label in labels:
        if not 0 < len(label) < 64 or not _LABEL_CHARS.issuperset(label):
            return None
        wire.append(len(label))
        wire += label.encode("ascii")
    wire.append(0)
    return bytes(wire) if len(wire) <= 255 else None


def encode_query(host: str, rdtype: int, qid: int, *, edns: bool) -> bytes | None:
    """The query dnspython's Resolver sends for (`host`, `rdtype`, IN) with id `qid`: RD set, one
    question, and with `edns` an OPT record (version 0, no flags, no options, 1232-byte payload);
    None when `host` is not a name this module encodes."""
    name = _wire_name(host)
    if name is None:
        return None
    header = qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00" + bytes([edns])
    question = name + rdtype.to_bytes(2, "big") + b"\x00\x01"
    opt = b"\x00\x00\x29" + EDNS_PAYLOAD.to_bytes(2, "big") + bytes(6) if edns else b""
    return header + question + opt


def _sockaddr(
    server: tuple[str, int],
) -> tuple[int, tuple[str, int] | tuple[str, int, int, int]] | None:
    """(family, socket address) for an IP literal server, as dnspython builds it (an IPv6 scope
    `%eth0` or `%2` becomes the scope id); None for anything else."""
    address, port = server
    if not 0 < port < 65536:
        return None
    try:
        if ":" not in address:
            _socket.inet_pton(_socket.AF_INET, address)
            return _socket.AF_INET, (address, port)
        ip, _, scope = address.partition("%")
        _socket.inet_pton(_socket.AF_INET6, ip)
        if not scope:
            return _socket.AF_INET6, (ip, port, 0, 0)
        index = int(scope) if scope.isdigit() else _socket.if_nametoindex(scope)
        return _socket.AF_INET6, (ip, port, 0, index)
    except (OSError, ValueError):
        return None


def _key(server: tuple[str, int]) -> tuple[bytes, str, int] | None:
    """A server's identity whatever its spelling (`::1` and `0::1` are one server)."""
    address, port = server
    ip, _, scope = address.partition("%")
    try:
        family = _socket.AF_INET6 if ":" in ip else _socket.AF_INET
        return _socket.inet_pton(family, ip), scope, port
    except (OSError, ValueError):
        return None


class EarlyQuery:
    """One query already sent, on its own connected non-blocking UDP socket (connected, so an
    ICMP error from the server is seen on it).

    Attributes:
        server: (IP, port) it was sent to.
        wire: the query as sent.
    """

    __slots__ = ("_sock", "key", "server", "wire")

    def __init__(self, server: tuple[str, int], wire: bytes, sock: _socket.socket) -> None:
        self.server = server
        self.wire = wire
        self.key = _key(server)
        self._sock: _socket.socket | None = sock

    @property
    def closed(self) -> bool:
        return self._sock is None

    def duplicate(self) -> _socket.socket:
        """Another socket on the same queue of datagrams (for a reader that only peeks; it
        stays valid whatever becomes of this one)."""
        if self._sock is None:
            raise ValueError("the early query's socket is closed or already taken")
        return _socket.socket(fileno=os.dup(self._sock.fileno()))

    def detach(self) -> int:
        """Hand the socket's file descriptor to the caller, who closes it from now on."""
        if self._sock is None:
            raise ValueError("the early query's socket is closed or already taken")
        fd = self._sock.detach()
        self._sock = None
        return fd

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class FirstQueries:
    """The queries sent early; each is taken at most once, by the resolution that would have sent
    the same query to the same server. Thread-safe: the early lane asks more (`ask`)."""

    __slots__ = ("_closed", "_edns", "_lock", "_pending", "connections", "sent", "sent_at")

    def __init__(
        self, sent: Iterable[EarlyQuery] = (), sent_at: float | None = None, *, edns: bool = False
    ) -> None:
        self.sent = tuple(sent)
        # time.perf_counter() when the first went out: the diagnosis's start, for its duration.
        self.sent_at = sent_at
        self._pending = list(self.sent)
        self._edns = edns
        self._lock = _thread.allocate_lock()
        self._closed = False
        # CloudFront's connections, opened when the replies come (`cf502.firstconnect`).
        self.connections: FirstConnections | None = None

    def ask(self, host: str, rdtype: int) -> EarlyQuery | None:
        """Send one more query, as dnspython's resolver would send it, to the server the first
        ones went to (e.g. the zone's NS query, which the zone survey then takes); None when
        it could not be sent, or after `close`."""
        if not self.sent:
            return None
        server = self.sent[0].server
        wire = encode_query(host, rdtype, int.from_bytes(os.urandom(2), "big"), edns=self._edns)
        query = None if wire is None else _send(server, wire)
        if query is None:
            return None
        with self._lock:
            if not self._closed:
                self._pending.append(query)
                return query
        query.close()
        return None

    @property
    def pending(self) -> tuple[EarlyQuery, ...]:
        """The queries nobody has taken yet."""
        with self._lock:
            return tuple(self._pending)

    def expects(self, server: tuple[str, int]) -> bool:
        """Is a query to `server` waiting to be taken?"""
        key = _key(server)
        return key is not None and any(q.key == key for q in self.pending)

    def take(self, server: tuple[str, int], wire: bytes) -> EarlyQuery | None:
        """The early query identical to `wire` but for its id (bytes 0-1) sent to `server`, now
        the caller's to read and close; None when there is none."""
        key = _key(server)
        with self._lock:
            for query in self._pending:
                if query.key == key and len(query.wire) == len(wire) and query.wire[2:] == wire[2:]:
                    self._pending.remove(query)
                    return query
        return None

    def close(self) -> None:
        """Close the sockets of the queries nobody took, and the early connections nobody took
        (again: nothing)."""
        if self.connections is not None:
            self.connections.close()
        with self._lock:
            self._closed = True
            pending, self._pending = self._pending, []
        for query in pending:
            query.close()


def _send(server: tuple[str, int], wire: bytes) -> EarlyQuery | None:
    where = _sockaddr(server)
    if where is None:
        return None
    family, sockaddr = where
    try:
        sock = _socket.socket(family, _socket.SOCK_DGRAM)
    except OSError:
        return None
    try:
        sock.setblocking(False)
        sock.connect(sockaddr)
        sock.send(wire)
    except OSError:  # no route, no buffer space, ...: the resolution asks on its own
        sock.close()
        return None
    return EarlyQuery(server, wire, sock)


def send_first_queries(host: str, resolver: tuple[str, int] | None) -> FirstQueries:
    """Send the A and the AAAA query for `host` (an A-label name) to `resolver`, or to the first
    nameserver of /etc/resolv.conf when None. Never blocks, never raises for the network: a query
    that could not be sent is just not early."""
    if resolver is None:
        found = system_resolver()
        if found is None:
            return FirstQueries()
        server, edns = found
    else:
        server, edns = resolver, False  # make_resolver's Resolver(configure=False): no EDNS
    sent = []
    sent_at = time.perf_counter()
    for rdtype in (_A, _AAAA):
        wire = encode_query(host, rdtype, int.from_bytes(os.urandom(2), "big"), edns=edns)
        query = None if wire is None else _send(server, wire)
        if query is not None:
            sent.append(query)
    return FirstQueries(sent, sent_at if sent else None, edns=edns)


# The queries `cf502.entry` sent before the command line was parsed: (name, resolver, queries).
_early: tuple[str, tuple[str, int] | None, FirstQueries] | None = None


def send_early(host: str, resolver: tuple[str, int] | None) -> None:
    """Send `host`'s first queries now (`send_first_queries`), for the diagnosis to `claim`."""
    global _early
    _early = (host, resolver, send_first_queries(host, resolver))


def claim(host: str, resolver: tuple[str, int] | None) -> FirstQueries | None:
    """The queries `send_early` sent, if they are for `host` and `resolver` exactly (the
    validated command line's); else None, and they are closed. Once: a second claim is None."""
    global _early
    early, _early = _early, None
    if early is None:
        return None
    if early[:2] == (host, resolver):
        return early[2]
    early[2].close()
    return None
