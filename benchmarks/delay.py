"""A delay proxy on loopback: every DNS datagram and every TCP segment of data waits RTT/2 each way.

`DelayProxy` runs in its own thread and event loop. It listens on the DNS world's four addresses
(UDP and TCP, one port free on all of them) and on the origin's address, and forwards to the real
servers on the same addresses, holding what passes RTT/2 in each direction, in order.

What a user-space proxy cannot delay is the TCP handshake itself: the kernel answers SYN on
loopback before the proxy sees the connection. So the client's data is held as a real network
would hold it: nothing can leave the client before its SYN-ACK would have come back (one RTT after
the connection was accepted, which on loopback is when connect() was called), and then it takes
RTT/2 to arrive. Data sent at once after connect() reaches the server 1.5 RTT after connect(), as
before; a client that connects early and sends later (while it loads its TLS library, say) gets
the RTT of its TCP handshake overlapped, as it would on a real network. A connection that never
sends anything (`nc -z`, the tcp.* checks' connect) costs no RTT here, on both sides of a
comparison.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import cast

from tests.servers.dns import _bind_same_port

__all__ = ["DelayProxy"]

_READ = 64 * 1024
_UDP_IDLE = 10.0  # seconds an upstream UDP socket is kept for a client's retries


class _Line:
    """One direction of one connection: data leaves `delay` seconds after it came, in order."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue()
        self._task = asyncio.ensure_future(self._pump())

    def put(self, due: float, data: bytes | None) -> None:
        self._queue.put_nowait((due, data))

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                due, data = await self._queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    if self._writer.can_write_eof():
                        self._writer.write_eof()
                    return
                self._writer.write(data)
                await self._writer.drain()
        except (ConnectionError, OSError):
            return

    async def done(self) -> None:
        await self._task


class _Udp(asyncio.DatagramProtocol):
    """The UDP side of one listening address: one upstream socket per client address."""

    def __init__(self, upstream: tuple[str, int], half: float) -> None:
        self.upstream = upstream
        self.half = half
        self.transport: asyncio.DatagramTransport | None = None
        self._clients: dict[tuple[str, int], asyncio.Future[asyncio.DatagramTransport]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        up = self._clients.get(addr)
        if up is None:
            up = asyncio.ensure_future(self._open(addr))
            self._clients[addr] = up
        loop.call_later(self.half, self._send_up, up, data)

    async def _open(self, client: tuple[str, int]) -> asyncio.DatagramTransport:
        loop = asyncio.get_running_loop()
        half, down = self.half, self.transport

        class Back(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                if down is not None:
                    loop.call_later(half, down.sendto, data, client)

        transport, _ = await loop.create_datagram_endpoint(Back, remote_addr=self.upstream)
        loop.call_later(_UDP_IDLE, self._close, client)
        return transport

    def _close(self, client: tuple[str, int]) -> None:
        up = self._clients.pop(client, None)
        if up is not None and up.done() and not up.cancelled():
            up.result().close()

    @staticmethod
    def _send_up(up: asyncio.Future[asyncio.DatagramTransport], data: bytes) -> None:
        if up.done():
            up.result().sendto(data)
        else:
            up.add_done_callback(lambda f: f.result().sendto(data))


class DelayProxy:
    """Delay proxies for `dns_addresses` (UDP + TCP, on one port) and for TCP `origin` ports.

    Attributes (once started):
        dns_port: the port the proxies listen on at every DNS address.
        ports: the proxy port for each origin (address, port).
    """

    def __init__(
        self,
        rtt: float,
        *,
        dns_addresses: Sequence[str],
        dns_port: int,
        origins: Sequence[tuple[str, int]],
    ) -> None:
        self.half = rtt / 2
        self.rtt = rtt
        self._dns_addresses = tuple(dns_addresses)
        self._dns_upstream_port = dns_port
        self._origins = tuple(origins)
        self.dns_port = 0
        self.ports: dict[tuple[str, int], int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="delay-proxy", daemon=True)

    async def _pipe(self, reader: asyncio.StreamReader, line: _Line, *, not_before: float) -> None:
        """Forward what `reader` gets, each piece RTT/2 later, none before `not_before` + RTT/2."""
        loop = asyncio.get_running_loop()
        try:
            while data := await reader.read(_READ):
                line.put(max(loop.time(), not_before) + self.half, data)
        except (ConnectionError, OSError):
            pass
        line.put(loop.time() + self.half, None)

    def _tcp_handler(
        self, upstream: tuple[str, int]
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            # The client's SYN-ACK would come back one RTT after its connect(): accepted now.
            established = asyncio.get_running_loop().time() + self.rtt
            try:
                up_reader, up_writer = await asyncio.open_connection(*upstream)
            except OSError:
                writer.transport.abort()
                return
            to_server, to_client = _Line(up_writer), _Line(writer)
            try:
                await asyncio.gather(
                    self._pipe(reader, to_server, not_before=established),
                    self._pipe(up_reader, to_client, not_before=0.0),
                    to_server.done(),
                    to_client.done(),
                )
            except asyncio.CancelledError:
                pass  # the proxy is stopping: this connection ends here, quietly
            finally:
                writer.transport.abort()
                up_writer.transport.abort()

        return handle

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        servers: list[asyncio.Server] = []
        transports: list[asyncio.BaseTransport] = []
        try:
            port, pairs = _bind_same_port(self._dns_addresses)
            self.dns_port = port
            for address, (udp, tcp) in zip(self._dns_addresses, pairs, strict=True):
                upstream = (address, self._dns_upstream_port)
                transport, _ = await loop.create_datagram_endpoint(
                    lambda up=upstream: _Udp(up, self.half),  # type: ignore[misc]
                    sock=udp,
                )
                transports.append(transport)
                servers.append(await asyncio.start_server(self._tcp_handler(upstream), sock=tcp))
            for address, origin_port in self._origins:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.bind((address, 0))
                sock.listen(128)
                self.ports[(address, origin_port)] = sock.getsockname()[1]
                servers.append(
                    await asyncio.start_server(self._tcp_handler((address, origin_port)), sock=sock)
                )
        except BaseException as exc:
            self._failure = exc
            raise
        finally:
            self._ready.set()
        try:
            await self._stop.wait()
        finally:
            for server in servers:
                server.close()
            for open_transport in transports:
                open_transport.close()
            # Connections a client left open (e.g. its last one): closed here, not by the GC.
            while others := [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                for task in others:
                    task.cancel()
                await asyncio.gather(*others, return_exceptions=True)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        with contextlib.suppress(BaseException):
            self._loop.run_until_complete(self._main())
        self._loop.close()

    def __enter__(self) -> DelayProxy:
        self._thread.start()
        if not self._ready.wait(10) or self._failure is not None or not self.dns_port:
            raise RuntimeError(f"the delay proxy did not start: {self._failure!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
