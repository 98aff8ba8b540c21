"""CloudFront's TCP connections, opened as soon as the first queries' replies arrive.

A cold `cf502 check` sends the origin name's A and AAAA queries before it imports asyncio,
dnspython and the engine (`cf502.firstquery`); their replies arrive while those imports still run.
`FirstConnections` watches for them from a thread (the imports hold the interpreter, but a thread
blocked on its sockets gets it back within a switch interval), reads the addresses
(`cf502.firstanswer`), applies the one rule for what a diagnosis connects to
(`cf502.safety.connect_to`: vetted, of the origin's IP type, bounded) and starts a TCP connection
to each on the origin's HTTPS port: the TCP handshake's round trip passes while the engine loads.
When a reply names the origin's zone (the SOA of an empty answer), the zone's NS query goes out
too, from `FirstQueries.ask`, and when its reply comes, the A and AAAA queries of the name servers
it lists (the survey's first two round trips): the zone survey (dns.authoritative) takes their
replies as the resolution takes the first ones. Only the operator's resolver is asked here.

The replies are only peeked at: the resolution reads them with dnspython as if nothing had
happened, and the engine takes an early connection only for an address it vetted itself
(`Probe.preconnect`); the others are closed with the diagnosis. The reading here follows
dnspython's (`cf502.firstanswer`) and refuses whatever it is unsure of, and every early
connection passed the engine's own rule: where the two readings could still differ (a reply
dnspython rejects for a malformed record of another type), it costs a connection to a vetted
address, never a verdict. Anything unexpected (a reply that is not clean, a CloudFront name, a refused
address, no reply before the deadline) means no early connection, and the engine connects.

Once CloudFront's TLS code has loaded (before asyncio does), `speak` has each early connection
say its first words, the ClientHello, as soon as it is open (`FirstWords`), and the watch then
listens: what the server answers is handed to the words' `Listener` (the handshake, sans I/O) as it
comes, and what that says back is sent, until the engine takes the connection (the lock makes the
hand-over whole), the handshake is over, or the listening deadline passes. Only bytes the kernel
already holds are read (an end of stream or a reset is left for the engine to read and name), at
most MAX_HEARS reads per connection; the listener applies the engine's own caps.

Standard library only at import (the rule is imported in the thread): this module is imported
before asyncio, dnspython and the engine.
"""

from __future__ import annotations

import _socket
import errno
import os
import select
import sys
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from typing import NamedTuple, Protocol, runtime_checkable

from cf502.ended import Ended
from cf502.firstanswer import Answer, read_answer, read_names
from cf502.firstquery import EarlyQuery, FirstQueries

__all__ = [
    "MAX_HEARS",
    "SURVEYED_NS",
    "TIMED_OUT",
    "EarlyConnection",
    "FirstConnections",
    "FirstWords",
    "Listener",
    "Plan",
    "Speaker",
]

TIMED_OUT = -1  # an EarlyConnection's error when the connection timeout passed
_PEEK = 4096  # bytes of a reply peeked at: an A/AAAA answer for one name fits many times over
_PEEK_NS = 65535  # an NS answer: any that fits a datagram (its records are read within bounds)
_A, _NS, _AAAA = 1, 2, 28
MAX_HEARS = 64  # server reads per early connection (an honest handshake takes a few)
_READ = 16 * 1024
_SWITCH_INTERVAL = 0.0005  # seconds (the interpreter's default is 0.005)
SURVEYED_NS = 13  # the zone survey's cap on NS names (`checks.dns._lookup.MAX_NS_NAMES` is it)


class Plan(NamedTuple):
    """What the command line says about the connections CloudFront would open.

    Attributes:
        host: the origin name (A-label), as the queries asked it.
        port: the origin's HTTPS port.
        allow_private / ip_address_type: for `cf502.safety.connect_to`.
        site_given: `--origin`: the name is the origin even when it is a CloudFront name.
        connect_timeout: seconds one TCP connection may take (CloudFront's connection timeout).
        reply_timeout: seconds to wait for the replies before giving up on early connections.
        survey: the zone's name servers are surveyed (dns.authoritative): when a reply names
            the zone, its NS query goes out at once, for the survey to take.
        listen_timeout: seconds the watch listens to the server's answer to the first words
            (the handshake's deadline); 0: not at all.
    """

    host: str
    port: int
    allow_private: bool
    ip_address_type: str | None
    site_given: bool
    connect_timeout: float
    reply_timeout: float
    survey: bool = False
    listen_timeout: float = 0.0


class FirstWords(NamedTuple):
    """What an early connection said first, for the one who takes it over.

    Attributes:
        state: the speaker's, to go on from (e.g. a TLS client awaiting the server's answer).
        key: what the words were made for: the taker goes on only from words it would have said.
        unsent: the words the socket did not take at once (the taker sends them first).
    """

    state: object
    key: Hashable
    unsent: bytes


# Makes an open connection's first words (called once per connection, from either thread).
Speaker = Callable[[], FirstWords]


@runtime_checkable
class Listener(Protocol):
    """First words' state that goes on with the server's answer (e.g. a TLS handshake)."""

    @property
    def over(self) -> bool:
        """It wants no more of the server's bytes."""
        ...

    def hear(self, data: bytes) -> bytes:
        """Take the server's next bytes; what to send back (b"" for nothing)."""
        ...


class EarlyConnection:
    """One TCP connection attempt made early, handed over once.

    Attributes:
        address / port: where it went.
        ended: set when the attempt has ended (`error`, `elapsed_ms` and the socket are final).
        error: None (connected), an errno, or TIMED_OUT.
        elapsed_ms: time to connect or to fail.
        words: what was said on it before it was taken (`speak`), if anything.
    """

    def __init__(self, address: str, port: int) -> None:
        self.address = address
        self.port = port
        self.ended = Ended()
        self.error: int | None = None
        self.elapsed_ms = 0.0
        self.words: FirstWords | None = None
        self._sock: _socket.socket | None = None
        self._lock = threading.Lock()
        self._taken = False
        self._spoken = False
        self._hears = 0

    def speak(self, speaker: Speaker) -> None:
        """Say the speaker's words on the open connection, once, unless it was taken. Under the
        lock: a taker never finds words half said. A speaker that fails says nothing."""
        with self._lock:
            if self._sock is None or self._spoken:
                return
            self._spoken = True
            try:
                words = speaker()
                sent = self._sock.send(words.unsent) if words.unsent else 0
            except BlockingIOError:
                sent = 0  # the taker sends it (not seen: a new connection's buffer is empty)
            except Exception:  # an optimisation: the taker starts afresh
                return
            self.words = words._replace(unsent=words.unsent[sent:])

    @property
    def taken(self) -> bool:
        """The engine has taken the connection (or the attempt's socket is gone)."""
        return self._taken

    def fileno(self) -> int:
        """The open socket's descriptor, -1 once taken or when the attempt failed."""
        with self._lock:
            return self._sock.fileno() if self._sock is not None else -1

    def listen(self) -> bool:
        """Hand what the server has sent (the socket is readable) to the words' listener and send
        its answer; False once there is nothing more to listen to here: taken, no listener, its
        handshake over, an end of stream or an error (left in the socket for the taker), a
        reply the socket did not take whole (the taker sends the rest), or MAX_HEARS reads."""
        import fcntl
        import termios

        with self._lock:
            words, sock = self.words, self._sock
            if sock is None or words is None or words.unsent or self._hears >= MAX_HEARS:
                return False
            listener = words.state
            if not isinstance(listener, Listener) or listener.over:
                return False
            try:
                waiting = fcntl.ioctl(sock.fileno(), termios.FIONREAD, bytes(4))
                if int.from_bytes(waiting, sys.byteorder) == 0:
                    return False  # an end of stream or a reset: the taker reads it, and says so
                self._hears += 1
                answer = listener.hear(sock.recv(_READ))
            except Exception:  # half heard: the taker must not go on from these words
                self.words = words._replace(key=None)
                return False
            sent = 0
            try:
                sent = sock.send(answer) if answer else 0
            except BlockingIOError:
                pass
            except OSError:  # the taker's next read says what became of the connection
                return False
            if sent < len(answer):
                self.words = words._replace(unsent=answer[sent:])
                return False
            return not listener.over

    def take(self) -> _socket.socket | None:
        """The connected socket, now the caller's (None when the attempt failed or was taken),
        with `words` final. Call it once `ended` is set."""
        with self._lock:
            sock, self._sock = self._sock, None
            self._taken = True
            return sock

    def finish(self, error: int | None, elapsed_ms: float, sock: _socket.socket | None) -> None:
        """The attempt has ended (the watch's thread)."""
        with self._lock:
            self.error, self.elapsed_ms = error, elapsed_ms
            if sock is not None and not self._taken:
                self._sock = sock
            elif sock is not None:
                sock.close()
        self.ended.set()

    def close(self) -> None:
        """Close the socket unless it was taken (the attempt may still be running: then its
        socket is closed as soon as it ends)."""
        sock = self.take()
        if sock is not None:
            sock.close()


class FirstConnections:
    """The early connections of one diagnosis; `start` runs the watch in a daemon thread."""

    def __init__(self, queries: FirstQueries, plan: Plan) -> None:
        self.queries = queries
        self.plan = plan
        self.outcome = "not started"  # then "connected" or why not (tests, debugging)
        self._lock = threading.Lock()
        self._asked = False  # the engine has its addresses: no connection starts after this
        self._connections: dict[tuple[str, int], EarlyConnection] = {}
        self._wake_r = self._wake_w = -1  # a pipe through which `close` wakes the thread
        self._peekers: list[tuple[_socket.socket, bytes]] = []
        self._speaker: Speaker | None = None
        # The zone's NS query, peeked at for its name servers: (copy of its socket, its wire,
        # time.monotonic() by which its reply must come).
        self._ns: tuple[_socket.socket, bytes, float] | None = None
        self._closed = False
        self._interval: float | None = None  # the switch interval before `start`
        self._idle = False  # the watch ended with connections open and nothing said on them
        self._thread = threading.Thread(target=self._watch, name="cf502-first", daemon=True)

    def start(self) -> FirstConnections:
        """Watch for the replies of both queries (A and AAAA: the engine connects to their union,
        so one alone is not enough). The sockets are duplicated here, before the resolution can
        take them, so the thread never reads a descriptor that was closed and reused."""
        if len(self.queries.sent) != 2 or any(q.closed for q in self.queries.sent):
            self.outcome = "not both queries"
            return self
        try:
            self._wake_r, self._wake_w = os.pipe()
            for query in self.queries.sent:
                self._peekers.append((query.duplicate(), query.wire))
        except OSError:  # out of descriptors: the engine connects on its own
            for sock, _ in self._peekers:
                sock.close()
            self._peekers = []
            self._close_pipe()
            self.outcome = "no descriptors"
            return self
        self.outcome = "waiting"
        # The main thread imports all the while (the TLS code, asyncio, the engine): the watch
        # gets the interpreter within 0.5 ms of a reply, not 5, until `close`.
        self._interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._interval, _SWITCH_INTERVAL))
        self._thread.start()
        return self

    def speak(self, speaker: Speaker) -> None:
        """Have every early connection say `speaker`'s words as soon as it is open: the ones open
        now from here, the others from the watch as they open; then listen to the server's
        answers (`Plan.listen_timeout`): the watch goes on to, or a thread of its own when the
        watch has already ended."""
        with self._lock:
            self._speaker = speaker
            connections = list(self._connections.values())
            listener = None
            if self._idle and not self._closed:
                self._idle = False
                deadline = time.monotonic() + self.plan.listen_timeout
                listener = threading.Thread(
                    target=self._listen_after,
                    args=(connections, deadline),
                    name="cf502-listen",
                    daemon=True,
                )
                self._thread = listener
        for conn in connections:
            conn.speak(speaker)  # (a no-op for one still connecting: the watch speaks then)
        if listener is not None:
            listener.start()

    def connection(self, address: str, port: int) -> EarlyConnection | None:
        """The early connection to (address, port), if the watch opened one. Once asked, the
        watch starts no new ones: the engine connects to what is not here itself."""
        with self._lock:
            self._asked = True
            return self._connections.get((address, port))

    def close(self) -> None:
        """Stop the watch (or its listening) and close every connection nobody took (again:
        nothing)."""
        with self._lock:
            self._asked = self._closed = True
            connections = list(self._connections.values())
            thread = self._thread
        if self._wake_w >= 0:
            os.write(self._wake_w, b"x")
        if thread.is_alive():
            thread.join(1.0)  # it wakes at once: it never blocks on anything else
        for conn in connections:
            conn.close()
        if not thread.is_alive():  # (else it may still select on them: left to the exit)
            self._close_pipe()
        if self._interval is not None:
            sys.setswitchinterval(self._interval)
            self._interval = None

    def _close_pipe(self) -> None:
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1

    # --- the thread -------------------------------------------------------------------------

    def _watch(self) -> None:
        try:
            self.outcome = self._run()
        except Exception as exc:  # an optimisation never crashes anything: the engine connects
            self.outcome = f"failed: {type(exc).__name__}"
        finally:
            for sock, _ in self._peekers:
                sock.close()
            if self._ns is not None:
                self._ns[0].close()

    def _run(self) -> str:
        # The engine's own rules, imported here while the replies travel (not before the first
        # packet), so they cost nothing once the replies are in.
        from cf502.cloudfront_errors import is_cloudfront_domain
        from cf502.errors import TargetNotAllowed
        from cf502.safety import connect_to

        answers = self._answers()
        if answers is None:
            return "no clean replies"
        zone = next((a.zone for a in answers if a.zone), None)  # A's first, as the engine's
        if self.plan.survey and zone is not None:
            self._ask_ns(zone)  # the survey's first question, a round trip early
        addresses = [a for answer in answers for a in answer.addresses]
        chain = next((a.chain for a in answers if a.chain), ())
        if not addresses:
            return "no addresses"
        plan = self.plan
        if not plan.site_given and any(is_cloudfront_domain(n) for n in (plan.host, *chain)):
            return "a CloudFront name"  # the engine judges the edge, not an origin
        try:
            targets, _ = connect_to(
                plan.host,
                addresses,
                allow_private=plan.allow_private,
                ip_address_type=plan.ip_address_type,
            )
        except TargetNotAllowed:
            return "not allowed"
        with self._lock:
            if self._asked:
                return "too late"
            pending = [EarlyConnection(a, plan.port) for a in targets]
            self._connections = {(c.address, c.port): c for c in pending}
        self._connect(pending)
        with self._lock:  # nothing said yet: `speak` starts the listening when it comes
            self._idle = self._speaker is None and plan.listen_timeout > 0 and not self._closed
            listen = self._speaker is not None and plan.listen_timeout > 0
        if listen:
            self._listen(pending, time.monotonic() + plan.listen_timeout)
        return "connected"

    def _answers(self) -> list[Answer] | None:
        """Both replies, peeked at as they come (the resolution reads them later), or None."""
        answers: dict[int, Answer] = {}
        deadline = time.monotonic() + self.plan.reply_timeout
        while len(answers) < len(self._peekers):
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            waiting = [s.fileno() for i, (s, _) in enumerate(self._peekers) if i not in answers]
            ready, _, _ = select.select([*waiting, self._wake_r], [], [], left)
            if self._wake_r in ready:
                return None
            for i, (sock, query) in enumerate(self._peekers):
                if sock.fileno() in ready:
                    answer = _peek_answer(sock, query)
                    if answer is None:  # not a clean reply: nothing early
                        return None
                    answers[i] = answer
        return [answers[i] for i in range(len(self._peekers))]

    def _connect(self, pending: Sequence[EarlyConnection]) -> None:
        """Connect to every address at once; each attempt ends at the connection timeout, or
        when the diagnosis ends. Meanwhile the zone's NS reply, when asked, is read as it comes."""
        started = time.monotonic()
        waiting: dict[int, tuple[EarlyConnection, _socket.socket]] = {}
        for conn in pending:
            family = _socket.AF_INET6 if ":" in conn.address else _socket.AF_INET
            try:
                sock = _socket.socket(family, _socket.SOCK_STREAM)
            except OSError as exc:
                conn.finish(exc.errno or errno.EIO, 0.0, None)
                continue
            sock.setblocking(False)
            code = sock.connect_ex((conn.address, conn.port))
            if code in (0, errno.EINPROGRESS):
                waiting[sock.fileno()] = (conn, sock)
            else:
                sock.close()
                conn.finish(code, _ms_since(started), None)
        deadline = started + self.plan.connect_timeout
        ns = self._ns
        while waiting or ns is not None:
            now = time.monotonic()
            if ns is not None and now >= ns[2]:
                ns = None  # no reply in time: the survey asks on its own
                continue
            if waiting and now >= deadline:
                break
            ends = [deadline] if waiting else []
            ends += [ns[2]] if ns is not None else []
            reads = [self._wake_r, *([ns[0].fileno()] if ns is not None else [])]
            woken, ready, _ = select.select(reads, list(waiting), [], min(ends) - now)
            if self._wake_r in woken:
                break
            if ns is not None and ns[0].fileno() in woken:
                self._ask_ns_addresses(ns[0], ns[1])
                ns = None
            for fd in ready:
                conn, sock = waiting.pop(fd)
                code = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
                if code:
                    sock.close()
                    conn.finish(code, _ms_since(started), None)
                else:
                    conn.finish(None, _ms_since(started), sock)
                    self._speak_on(conn)
        for conn, sock in waiting.values():  # timed out, or the diagnosis ended
            sock.close()
            conn.finish(TIMED_OUT, _ms_since(started), None)

    def _listen_after(self, connections: Sequence[EarlyConnection], deadline: float) -> None:
        try:
            self._listen(connections, deadline)
        except Exception:  # noqa: S110 (an optimisation: the engine reads what is left)
            pass

    def _listen(self, connections: Sequence[EarlyConnection], deadline: float) -> None:
        """Feed each open connection's first words the server's answer as it comes (they may be
        said later, from the main thread: the server answers once they are), until nothing is
        left to listen to, the deadline, or `close`."""
        listening: dict[int, EarlyConnection] = {}
        for conn in connections:
            fd = conn.fileno()
            if fd >= 0:
                listening[fd] = conn
        while listening:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                ready, _, _ = select.select([self._wake_r, *listening], [], [], left)
            except OSError:  # a taker closed its socket: forget the ones taken
                listening = {fd: c for fd, c in listening.items() if not c.taken}
                continue
            if self._wake_r in ready:
                return
            for fd in ready:
                if not listening[fd].listen():
                    del listening[fd]

    def _ask_ns(self, zone: str) -> None:
        query: EarlyQuery | None = self.queries.ask(zone, _NS)
        if query is None:
            return
        try:
            copy = query.duplicate()  # (the survey may take the query: the copy stays valid)
        except (OSError, ValueError):
            return
        self._ns = (copy, query.wire, time.monotonic() + self.plan.reply_timeout)

    def _ask_ns_addresses(self, sock: _socket.socket, wire: bytes) -> None:
        """The survey's second question, from the NS reply: each name server's A and AAAA, for
        the names the survey asks (sorted, at most SURVEYED_NS)."""
        try:
            reply = sock.recv(_PEEK_NS, _socket.MSG_PEEK)
        except OSError:
            return
        names = read_names(reply, wire)
        for name in sorted(set(names or ()))[:SURVEYED_NS]:
            for rdtype in (_A, _AAAA):
                self.queries.ask(name, rdtype)

    def _speak_on(self, conn: EarlyConnection) -> None:
        # After `finish`: a speaker set from now on finds the connection open and speaks itself.
        with self._lock:
            speaker = self._speaker
        if speaker is not None:
            conn.speak(speaker)


def _ms_since(started: float) -> float:
    return (time.monotonic() - started) * 1000


def _peek_answer(sock: _socket.socket, query: bytes) -> Answer | None:
    try:
        reply = sock.recv(_PEEK, _socket.MSG_PEEK)
    except OSError:  # e.g. ICMP port unreachable: the resolution finds out on its own
        return None
    return read_answer(reply, query)
