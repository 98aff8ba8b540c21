"""A real `redis-server` for tests: a free loopback port, a temporary directory, no persistence
unless a test asks for it, and stop/restart on the SAME port to test reconnects.

Readiness is the server's own "Ready to accept connections" line (a reader thread sets an Event),
never a sleep. `restart(save=True)` is `SHUTDOWN SAVE` then a start on the same port and directory,
so the data survives like on a Redis with persistence; `kill()` is a crash that loses everything.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cf502.pool.jobs import Job, JobKind
from cf502.settings import OriginSettings
from cf502.target import parse_target

__all__ = ["RedisServer", "origin_job", "redis_server_fixture"]

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """One redis-server process on 127.0.0.1 (see the module docstring)."""

    def __init__(self, directory: Path, port: int = 0) -> None:
        self.dir = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.proc: subprocess.Popen[str] | None = None
        self.output: deque[str] = deque(maxlen=50)
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("redis-server is already running")
        fixed = self.port != 0
        for _ in range(20):
            port = self.port if fixed else _free_port()
            if self._launch(port, timeout):
                self.port = port
                return self
            if fixed and not any("in use" in line for line in self.output):
                break
        raise RuntimeError("redis-server did not start:\n" + "\n".join(self.output))

    def _launch(self, port: int, timeout: float) -> bool:
        self._ready.clear()
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--dir", str(self.dir),
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--protected-mode", "no",
                "--loglevel", "notice",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        proc = self.proc
        assert proc.stdout is not None
        out = proc.stdout

        def read() -> None:
            for line in out:
                self.output.append(line.rstrip())
                if "Ready to accept connections" in line:
                    self._ready.set()
            self._ready.set()  # exited: wake the waiter, which then sees the exit

        self._reader = threading.Thread(target=read, name=f"redis-{port}", daemon=True)
        self._reader.start()
        self._ready.wait(timeout)
        if proc.poll() is None and self._ready.is_set():
            return True
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
        return False

    def _command(self, *args: str) -> None:
        """Send one command without waiting for a reply (SHUTDOWN closes the connection)."""
        wire = f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(wire.encode())
            try:
                s.recv(1024)
            except OSError:
                pass

    def stop(self, *, save: bool = False, timeout: float = 10.0) -> None:
        """Shut down gracefully; `save` writes the data to disk for the next `start()`."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self._command("SHUTDOWN", "SAVE" if save else "NOSAVE")
        self.proc.wait(timeout)
        if self._reader is not None:
            self._reader.join(timeout)

    def kill(self) -> None:
        """Crash: SIGKILL, nothing saved."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def restart(self, *, save: bool = True) -> RedisServer:
        """Stop (saving the data unless `save=False`) and start again on the same port."""
        self.stop(save=save)
        return self.start()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture(name="redis_server")
def redis_server_fixture(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh, empty redis-server for one test (never the machine's own Redis on 6379)."""
    with RedisServer(tmp_path / "redis") as server:
        yield server


# -- helpers for the worker-pool tests ------------------------------------------------------------


def origin_job(
    port: int,
    *,
    host: str = "www.example.test",
    only: tuple[str, ...] = ("tcp.https",),
    connect_timeout: float = 1.0,
    allow_private: bool | None = None,
    requested_by: dict[str, str] | None = None,
    **origin: Any,
) -> Job:
    """A diagnosis job for `host` (which the test DNS world resolves to 127.0.0.10) on `port`."""
    target = parse_target(host)
    settings = OriginSettings.for_target(
        target, https_port=port, connect_timeout=connect_timeout, connection_attempts=1, **origin
    )
    return Job(
        JobKind.DIAGNOSE,
        target=target.to_dict(),
        origin=settings.to_dict(),
        only=only,
        allow_private=allow_private,
        requested_by=requested_by or {},
    )
