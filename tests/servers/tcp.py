"""Plain TCP endpoints on loopback: listening, closed (refused) and black-holed (SYN dropped)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["black_hole_port", "closed_port", "listening_port"]


@contextmanager
def listening_port(host: str = "127.0.0.1", port: int = 0) -> Iterator[int]:
    """A socket that accepts connections (the kernel completes the handshake) on `host`."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(128)
        yield s.getsockname()[1]


def closed_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on: connections are refused (RST)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def black_hole_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A port whose SYNs are silently dropped, like a firewall that drops instead of rejecting.

    Linux drops new SYNs while a listener's accept queue is full, so a never-accepting listener
    with a backlog of 0, filled by a couple of connections, times out every further connect.
    """
    with socket.socket() as lst:
        lst.bind((host, 0))
        lst.listen(0)
        port = lst.getsockname()[1]
        fillers = []
        try:
            for _ in range(2):
                c = socket.socket()
                c.setblocking(False)
                c.connect_ex((host, port))
                fillers.append(c)
            yield port
        finally:
            for c in fillers:
                c.close()
