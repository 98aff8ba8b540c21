"""Shared observations of one origin, computed once per diagnosis.

The checks of a family share expensive I/O (one DNS answer, one handshake per address, one HTTP
response): the first check to ask starts the observation as a task, the others await that same task.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
from collections.abc import Awaitable, Callable, Hashable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from cf502.deadlines import Deadlines
from cf502.firstconnect import TIMED_OUT, EarlyConnection, FirstWords
from cf502.net import READ_LIMIT, ConnectOutcome, failed, tcp_connect, timed_out
from cf502.settings import EngineSettings, OriginSettings
from cf502.target import Target

if TYPE_CHECKING:
    from cf502.firstquery import FirstQueries

Opened = tuple[ConnectOutcome, tuple[asyncio.StreamReader, asyncio.StreamWriter] | None]

__all__ = ["Probe"]

T = TypeVar("T")


class Probe:
    """Everything a check needs: the target, both settings, the vetted addresses, shared I/O.

    Attributes:
        target: the parsed target.
        origin: the CloudFront origin settings being reproduced.
        engine: the operator's settings (safety, resolver, CA file).
        deadlines: every time limit of this diagnosis, derived once from both settings; checks
            take their deadlines from here, never from the settings.
        addresses: the vetted addresses; every connection goes to one of these, never to the name,
            so a DNS rebind between checks cannot swap the address.
        address_count: how many vetted addresses the name has; more than `addresses` when the
            engine's cap left some untested.
        running: the ids of the checks this diagnosis runs (set by the engine; empty outside
            it), so an observation knows whether another check will use what it opens.
        first_queries: the origin name's A/AAAA queries already sent before the engine loaded
            (`cf502 check`), whose replies the resolution takes instead of asking again.
    """

    def __init__(
        self,
        target: Target,
        origin: OriginSettings,
        engine: EngineSettings,
        *,
        now: Callable[[], datetime] | None = None,
        first_queries: FirstQueries | None = None,
    ) -> None:
        self.target = target
        self.origin = origin
        self.engine = engine
        self.deadlines = Deadlines.of(origin, engine)
        self.addresses: tuple[str, ...] = ()
        self.address_count = 0
        self.running: frozenset[str] = frozenset()
        self.first_queries = first_queries
        self._now = now or (lambda: datetime.now(UTC))
        self._memo: dict[Hashable, asyncio.Task[Any]] = {}
        self._closers: list[Callable[[], None]] = []
        self._taken: set[tuple[str, int]] = set()
        self._words: dict[tuple[str, int], FirstWords] = {}

    @property
    def host(self) -> str:
        """The origin domain name (A-label form)."""
        return self.target.host

    @property
    def host_header(self) -> str:
        """The Host header CloudFront sends: the forwarded Host, else the origin domain."""
        return self.origin.host_header or self.target.host

    @property
    def sni(self) -> str:
        """The TLS server name CloudFront sends (same rule as the Host header)."""
        return self.host_header

    @property
    def untested(self) -> int:
        """Vetted addresses left out by the engine's cap."""
        return max(0, self.address_count - len(self.addresses))

    def now(self) -> datetime:
        return self._now()

    async def once(self, key: Hashable, factory: Callable[[], Awaitable[T]]) -> T:
        """Run `factory` once per key for this probe; later callers share its result or exception."""
        task = self.begin(key, factory)
        # shield: one check timing out must not cancel an observation other checks await
        result: T = await asyncio.shield(task)
        return result

    def begin(self, key: Hashable, factory: Callable[[], Awaitable[T]]) -> asyncio.Task[T]:
        """Start the observation `key` now if it has not started (`once` then shares it)."""
        task = self._memo.get(key)
        if task is None:

            async def run() -> T:
                return await factory()

            task = asyncio.ensure_future(run())
            self._memo[key] = task
        return task

    def preconnect(self, port: int) -> None:
        """Open TCP to every vetted address on `port` now, before the checks that use the
        connections are loaded: the TCP handshake's round trip passes while they load, as
        CloudFront's connection is open before it speaks TLS on it. A connection `cf502 check`
        already opened to a vetted address (`cf502.firstconnect`) is taken instead of a new
        one. `opened` shares each connection's outcome (tcp.*), `take` hands the connection to
        one user (CloudFront's TLS handshake); one nobody took is dropped with the diagnosis."""
        early = self.first_queries.connections if self.first_queries is not None else None
        for address in self.addresses:
            made = early.connection(address, port) if early is not None else None
            if made is not None:
                opener = functools.partial(self._adopt, made)
            else:
                opener = functools.partial(self._open, address, port)
            self.begin(("tcp.open", address, port), opener)

    async def _open(self, address: str, port: int) -> Opened:
        outcome, streams = await tcp_connect(address, port, self.deadlines.connect)
        if streams is not None:
            self.on_close(streams[1].transport.abort)  # a no-op once its taker has closed it
        return outcome, streams

    async def _adopt(self, made: EarlyConnection) -> Opened:
        await made.ended.wait()  # within the connection timeout: the attempt ends by then
        address, port, elapsed = made.address, made.port, made.elapsed_ms
        sock = made.take()
        if made.words is not None:
            self._words[(address, port)] = made.words
        if sock is None:
            if made.error is None or made.error == TIMED_OUT:
                return timed_out(address, port, self.deadlines.connect, elapsed), None
            failure = OSError(made.error, os.strerror(made.error))
            return failed(address, port, failure, elapsed), None
        # asyncio wants the socket module's socket, not the bare one made before it loaded.
        streams = await asyncio.open_connection(
            sock=socket.socket(fileno=sock.detach()), limit=READ_LIMIT
        )
        self.on_close(streams[1].transport.abort)  # a no-op once its taker has closed it
        return ConnectOutcome(address, port, "open", "", elapsed), streams

    def opened(self, address: str, port: int) -> asyncio.Task[Opened] | None:
        """The connection `preconnect` opened to (address, port), if it did."""
        return self._memo.get(("tcp.open", address, port))

    def take(self, address: str, port: int) -> asyncio.Task[Opened] | None:
        """`opened`, for the one user that speaks on the connection (None after the first)."""
        task = self.opened(address, port)
        if task is None or (address, port) in self._taken:
            return None
        self._taken.add((address, port))
        return task

    def first_words(self, address: str, port: int) -> FirstWords | None:
        """What the connection to (address, port) said before the engine took it (`cf502 check`
        has it say CloudFront's ClientHello), for its one user; once it has opened."""
        return self._words.pop((address, port), None)

    def on_close(self, close: Callable[[], None]) -> None:
        """Call `close` when the diagnosis ends (e.g. a connection kept for a check that did not
        come to take it)."""
        self._closers.append(close)

    def peek(self, key: Hashable) -> Any:
        """The result of an observation that has already finished, else None (never starts one,
        never waits: what a report can add without another packet)."""
        task = self._memo.get(key)
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        return task.result()

    async def close(self) -> None:
        """Cancel observations nobody awaited to the end (e.g. after a diagnosis deadline)."""
        pending = [t for t in self._memo.values() if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if self.first_queries is not None:
            self.first_queries.close()  # replies nobody took: their sockets
        closers, self._closers = self._closers, []
        for close in closers:
            close()
        for task in self._memo.values():
            if task.done() and not task.cancelled():
                task.exception()  # mark retrieved so asyncio does not log it
