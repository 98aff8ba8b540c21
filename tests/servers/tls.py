"""Origins on loopback that speak TLS well, badly or not at all, for the TLS checks' tests.

Every server binds 127.0.0.x with port 0 (or a given port, to put two nodes behind one name),
serves each connection in its own thread, and is ready when `__enter__` returns (the accept loop
sets a `threading.Event`). `__exit__` wakes the loop through a socket pair, never by polling.

    with TlsServer(chain, key, ciphers="ECDHE-RSA-CHACHA20-POLY1305") as origin:
        origin.port

The TLS servers use the stdlib `ssl` module (the system OpenSSL), a different build from the one
pyOpenSSL brings, as a real origin would be. Behaviour-named subclasses cover the hostile cases.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import selectors
import socket
import ssl
import struct
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from cf502.checks.probe import Probe
from cf502.settings import EngineSettings, OriginSettings
from cf502.target import parse_target
from tests.certs import PrivateKey, key_pem, pem, pki

__all__ = [
    "ClientCertServer",
    "GarbageServer",
    "LegacyOnlyServer",
    "LoopbackServer",
    "PlainHttpServer",
    "ResetServer",
    "SilentServer",
    "StallServer",
    "TlsServer",
    "make_probe",
    "root_ca_file_fixture",
    "same_port",
]


# RFC 7919 ffdhe2048 (`openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048`), so
# DHE-* suites work on the test servers without generating parameters.
FFDHE2048 = b"""-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
"""


class LoopbackServer:
    """Accept loop on loopback; subclasses override `handle(conn)`."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.connections = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._sock = socket.create_server((self.host, self.port), family=family)
        self.port = self._sock.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("test server did not start")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._wake_w.send(b"x")
        self._thread.join(5)
        for worker in list(self._workers):
            worker.join(5)
        for s in (self._sock, self._wake_r, self._wake_w):
            s.close()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self._sock, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            self._ready.set()
            while True:
                for key, _ in sel.select():
                    if key.fileobj is self._wake_r:
                        return
                    conn, peer = self._sock.accept()
                    worker = threading.Thread(target=self._worker(conn, peer), daemon=True)
                    self._workers.append(worker)
                    worker.start()

    def _worker(self, conn: socket.socket, peer: tuple[str, int]) -> Callable[[], None]:
        """What serves a connection just accepted, in a thread of its own (called in accept
        order, on the accept loop's thread)."""
        return functools.partial(self._handle, conn)

    def _handle(self, conn: socket.socket) -> None:
        with self._lock:
            self.connections += 1
        with conn:
            conn.settimeout(10)
            try:
                self.handle(conn)
            except (OSError, ssl.SSLError, ValueError) as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def wait_for_stop(self) -> None:
        """Hold a connection open until the server stops (at most 30 s)."""
        self._stop.wait(30)


class TlsServer(LoopbackServer):
    """A real TLS origin serving `chain` (first = leaf, sent in this exact order) with `key`.

    Args:
        ciphers: OpenSSL cipher string for TLS <= 1.2 (``@SECLEVEL=0`` is appended).
        minimum / maximum: protocol range (default TLS 1.2 up to 1.3).
        client_ca: require a client certificate issued by this CA (the handshake fails without
            one; `ClientCertServer` asks without requiring).
        response: bytes sent after a successful handshake and one read.
    """

    def __init__(
        self,
        chain: Sequence[x509.Certificate],
        key: PrivateKey,
        *,
        ciphers: str | None = None,
        minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
        maximum: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED,
        client_ca: x509.Certificate | None = None,
        response: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.handshakes = 0
        self.response = response
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated: old origins still run them
            warnings.simplefilter("ignore", DeprecationWarning)
            self.ctx.minimum_version = minimum
            self.ctx.maximum_version = maximum
        if ciphers:
            self.ctx.set_ciphers(ciphers + ":@SECLEVEL=0")
        with tempfile.TemporaryDirectory() as tmp:
            certfile, keyfile = Path(tmp, "chain.pem"), Path(tmp, "key.pem")
            certfile.write_bytes(pem(*chain))
            keyfile.write_bytes(key_pem(key))
            self.ctx.load_cert_chain(certfile, keyfile)
            dhfile = Path(tmp, "dh.pem")
            dhfile.write_bytes(FFDHE2048)
            self.ctx.load_dh_params(str(dhfile))
        if client_ca is not None:
            self.ctx.verify_mode = ssl.CERT_REQUIRED
            self.ctx.load_verify_locations(cadata=pem(client_ca).decode())

    def handle(self, conn: socket.socket) -> None:
        with self.ctx.wrap_socket(conn, server_side=True) as tls:
            with self._lock:
                self.handshakes += 1
            if tls.recv(65536):
                tls.sendall(self.response)


class ClientCertServer(TlsServer):
    """A TLS origin that asks for a client certificate but lets the handshake finish without one.

    `enforce`: then answers every request without one with nginx's 400 ("No required SSL
    certificate was sent"), as nginx does with `ssl_verify_client on` (the handshake completes
    and the HTTP layer refuses); without `enforce` it serves anyone.
    """

    def __init__(
        self, chain: Sequence[x509.Certificate], key: PrivateKey, *, enforce: bool, **kw: Any
    ) -> None:
        super().__init__(chain, key, **kw)
        self.enforce = enforce
        self.ctx.verify_mode = ssl.CERT_OPTIONAL
        self.ctx.load_verify_locations(cadata=pem(pki().root.cert).decode())

    def handle(self, conn: socket.socket) -> None:
        with self.ctx.wrap_socket(conn, server_side=True) as tls:
            with self._lock:
                self.handshakes += 1
            if not tls.recv(65536):
                return
            if self.enforce and tls.getpeercert() is None:
                body = (
                    b"<html><head><title>400 No required SSL certificate was sent</title></head>"
                    b"<body><center><h1>400 Bad Request</h1></center></body></html>"
                )
                tls.sendall(
                    b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\n"
                    + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                    + body
                )
                return
            tls.sendall(self.response)


class PlainHttpServer(LoopbackServer):
    """Plain HTTP on the HTTPS port: answers the ClientHello with a 400 page."""

    def handle(self, conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(
            b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n"
            b"Connection: close\r\n\r\nBad Request"
        )


class GarbageServer(LoopbackServer):
    """Answers the ClientHello with bytes that are not TLS."""

    def handle(self, conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"\x00\xffGARBAGE" + os.urandom(4096))


class SilentServer(LoopbackServer):
    """Accepts, reads the ClientHello, never answers."""

    def handle(self, conn: socket.socket) -> None:
        conn.recv(65536)
        self.wait_for_stop()


class StallServer(LoopbackServer):
    """Starts a TLS handshake record announcing 16 KB, sends 10 bytes of it, then stalls."""

    def handle(self, conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"\x16\x03\x03\x40\x00" + b"\x02\x00\x3f\xfc\x03\x03" + b"\x00" * 4)
        self.wait_for_stop()


class ResetServer(LoopbackServer):
    """Reads the ClientHello, then resets the connection (RST, not FIN)."""

    def handle(self, conn: socket.socket) -> None:
        conn.recv(65536)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _client_suites(hello: bytes) -> set[int]:
    """Cipher suite codes of a ClientHello record (enough parsing for these tests)."""
    body = hello[5 + 4 :]
    at = 2 + 32
    at += 1 + body[at]
    length = int.from_bytes(body[at : at + 2], "big")
    raw = body[at + 2 : at + 2 + length]
    return {int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)}


def _record(ctype: int, payload: bytes) -> bytes:
    return struct.pack("!BHH", ctype, 0x0303, len(payload)) + payload


def _handshake(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + len(body).to_bytes(3, "big") + body


class LegacyOnlyServer(LoopbackServer):
    """An origin whose only suite is DES-CBC3-SHA (0x000A), which no OpenSSL here implements.

    Speaks real TLS 1.2 up to ServerHelloDone: picks 3DES when offered, else sends a fatal
    handshake_failure alert, like an old origin configured with `ssl_ciphers DES-CBC3-SHA`.
    """

    def __init__(
        self, chain: Sequence[x509.Certificate], *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        super().__init__(host=host, port=port)
        self.chain = chain

    def handle(self, conn: socket.socket) -> None:
        hello = conn.recv(65536)
        if not hello:  # a plain TCP probe: connected, sent nothing, left
            return
        if 0x000A not in _client_suites(hello):
            conn.sendall(_record(21, b"\x02\x28"))  # fatal handshake_failure
            return
        server_hello = b"\x03\x03" + os.urandom(32) + b"\x00" + b"\x00\x0a" + b"\x00"
        ders = [c.public_bytes(serialization.Encoding.DER) for c in self.chain]
        certs = b"".join(len(d).to_bytes(3, "big") + d for d in ders)
        flight = (
            _handshake(2, server_hello)
            + _handshake(11, len(certs).to_bytes(3, "big") + certs)
            + _handshake(14, b"")
        )
        conn.sendall(_record(22, flight))
        self.wait_for_stop()


ServerFactory = Callable[[str, int], LoopbackServer]


@contextlib.contextmanager
def same_port(
    factories: Sequence[tuple[str, ServerFactory]], attempts: int = 20
) -> Iterator[list[LoopbackServer]]:
    """Start one server per (host, factory) on one shared port: several nodes behind one name.

    The first server takes a free port; the others bind the same port on their own 127.0.0.x
    (retrying with a new port if another process holds it there).
    """
    for _ in range(attempts):
        with contextlib.ExitStack() as stack:
            (host, make), *rest = factories
            first = stack.enter_context(make(host, 0))
            servers = [first]
            try:
                for other_host, other in rest:
                    servers.append(stack.enter_context(other(other_host, first.port)))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                continue
            yield servers
            return
    raise RuntimeError("no port free on every test address")


@pytest.fixture(name="root_ca_file", scope="session")
def root_ca_file_fixture(tmp_path_factory: pytest.TempPathFactory) -> str:
    """`root_ca_file`: the test root CA as a PEM file, for `EngineSettings(ca_file=...)`."""
    path = tmp_path_factory.mktemp("pki") / "root.pem"
    path.write_bytes(pem(pki().root.cert))
    return str(path)


def make_probe(
    port: int,
    ca_file: str | None,
    *,
    host: str = "origin.example.test",
    addresses: tuple[str, ...] = ("127.0.0.1",),
    **origin: Any,
) -> Probe:
    """A probe whose vetted addresses are given (no DNS), with short CloudFront timeouts."""
    settings: dict[str, Any] = {"https_port": port, "connect_timeout": 1, "read_timeout": 1}
    settings.update(origin)
    probe = Probe(
        parse_target(host),
        OriginSettings(**settings),
        EngineSettings(allow_private=True, ca_file=ca_file),
    )
    probe.addresses = addresses
    return probe
