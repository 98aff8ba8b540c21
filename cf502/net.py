"""Connecting to a vetted address under a deadline, with failures told apart. No name resolution."""

from __future__ import annotations

import asyncio
import errno
import os
import time
from dataclasses import dataclass

__all__ = [
    "READ_LIMIT",
    "ConnectOutcome",
    "close_quietly",
    "connect",
    "failed",
    "os_error_words",
    "tcp_connect",
    "timed_out",
]

READ_LIMIT = 64 * 1024  # the streams' buffer limit: what one read may hold


@dataclass(frozen=True)
class ConnectOutcome:
    """How one TCP connection attempt ended.

    Attributes:
        address / port: where it went.
        status: "open", "refused", "timeout", "unreachable" or "error".
        detail: the OS's words for a failure.
        elapsed_ms: time to connect or to fail.
    """

    address: str
    port: int
    status: str
    detail: str = ""
    elapsed_ms: float = 0.0


def os_error_words(exc: OSError) -> str:
    """The OS's plain words for a socket error and its errno name, e.g. "connection refused
    (ECONNREFUSED)". Never the exception's own text: asyncio's ("Connect call failed ('192.0.2.1',
    443)") repeats the address and reads like a crash."""
    code = exc.errno
    if code is None:
        return "connection failed"
    words = os.strerror(code)
    words = words[:1].lower() + words[1:]
    name = errno.errorcode.get(code)
    return f"{words} ({name})" if name else words


def _classify(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED:
        return "refused"
    if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL):
        return "unreachable"
    if exc.errno == errno.ETIMEDOUT:
        return "timeout"
    return "error"


async def tcp_connect(
    address: str, port: int, timeout: float
) -> tuple[ConnectOutcome, tuple[asyncio.StreamReader, asyncio.StreamWriter] | None]:
    """Open a TCP connection to `address` (an IP, never a name) within `timeout` seconds."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(address, port, limit=READ_LIMIT)
    except TimeoutError:
        return timed_out(address, port, timeout, (time.perf_counter() - started) * 1000), None
    except OSError as exc:
        return failed(address, port, exc, (time.perf_counter() - started) * 1000), None
    elapsed = (time.perf_counter() - started) * 1000
    return ConnectOutcome(address, port, "open", "", elapsed), (reader, writer)


def timed_out(address: str, port: int, timeout: float, elapsed_ms: float) -> ConnectOutcome:
    """A connection attempt that got no answer within `timeout` seconds."""
    return ConnectOutcome(address, port, "timeout", f"no answer in {timeout:g} s", elapsed_ms)


def failed(address: str, port: int, exc: OSError, elapsed_ms: float) -> ConnectOutcome:
    """A connection attempt the network or the origin refused with `exc`."""
    return ConnectOutcome(address, port, _classify(exc), os_error_words(exc), elapsed_ms)


async def close_quietly(writer: asyncio.StreamWriter) -> None:
    """Close a connection, waiting at most a second for the peer (a hostile one may never ack)."""
    writer.close()
    try:
        async with asyncio.timeout(1):
            await writer.wait_closed()
    except (TimeoutError, OSError):
        pass


async def connect(address: str, port: int, timeout: float) -> ConnectOutcome:
    """Check that a TCP connection opens, then close it."""
    outcome, streams = await tcp_connect(address, port, timeout)
    if streams is not None:
        await close_quietly(streams[1])
    return outcome
