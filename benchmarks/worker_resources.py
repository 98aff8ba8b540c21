"""Measure one `cf502 worker` process's memory and CPU under a diagnosis loop: the figures behind
the resource requests in deploy/kubernetes/ and the limits in deploy/systemd and compose.

    .venv/bin/python -m benchmarks.worker_resources [--jobs 1000] [--concurrency 16]

Everything is local: a real redis-server (temporary directory, free port), the loopback DNS world
of the tests (resolver + name servers), a healthy TLS origin on 127.0.0.10 (test PKI: root, intermediate, RSA leaf),
and the worker as a separate process (`python -m cf502 worker`) whose /proc entries are read:
resident memory when idle and at peak, CPU seconds per diagnosis, diagnoses per second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from cf502.checks import ALL_CHECKS
from cf502.pool.jobs import EventKind, Job, JobKind
from cf502.pool.queue.client import QueueClient
from cf502.settings import OriginSettings
from cf502.target import parse_target
from tests.certs import issue_leaf, key_pem, pki, write_pem
from tests.servers.dns import ORIGIN_ADDRESS, DnsWorld
from tests.servers.redis import RedisServer

HOST = "www.example.test"
_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class Origin:
    """A healthy HTTPS origin in its own thread and event loop (so its CPU is not the worker's)."""

    def __init__(self, ctx: ssl.SSLContext) -> None:
        self.ctx = ctx
        self.port = _free_port(ORIGIN_ADDRESS)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    break
                body = b"ok\n"
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (
            asyncio.IncompleteReadError,
            ConnectionError,
            ssl.SSLError,
            asyncio.LimitOverrunError,
        ):
            pass
        finally:
            writer.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._serve, ORIGIN_ADDRESS, self.port, ssl=self.ctx)
        self._ready.set()
        async with server:
            await self._stop.wait()

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._main())
        self._loop.close()

    def __enter__(self) -> Origin:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the origin did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


class Sampler:
    """Reads a process's resident memory and CPU time from /proc, tracking the peak RSS."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def rss(self) -> int:
        with open(f"/proc/{self.pid}/statm") as f:
            return int(f.read().split()[1]) * _PAGE

    def cpu(self) -> float:
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime

    def _loop(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_rss = max(self.peak_rss, self.rss())

    def __enter__(self) -> Sampler:
        self.peak_rss = self.rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def _wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float) -> None:
    found = threading.Event()
    assert proc.stderr is not None
    stream = proc.stderr

    def read() -> None:
        for line in stream:
            if needle in line:
                found.set()
        found.set()

    threading.Thread(target=read, daemon=True).start()
    if not found.wait(timeout) or proc.poll() is not None:
        raise RuntimeError(f"the worker did not log {needle!r}")


async def _submit_and_wait(url: str, jobs: list[Job]) -> tuple[float, int, Counter[str]]:
    pool = QueueClient(url)
    verdicts: Counter[str] = Counter()
    try:
        started = time.perf_counter()
        ids = [await pool.submit(job) for job in jobs]
        done = 0
        for job_id in ids:
            event = await pool.result(job_id, timeout=120)
            if event is not None and event.kind is EventKind.DONE and event.report is not None:
                done += 1
                verdicts[event.report.verdict.status.value] += 1
        return time.perf_counter() - started, done, verdicts
    finally:
        await pool.close()


def _jobs(count: int, port: int) -> list[Job]:
    target = parse_target(HOST).to_dict()
    # A distinct path per job, so identical requests are not coalesced into one.
    return [
        Job(
            JobKind.DIAGNOSE,
            target,
            OriginSettings(https_port=port, path=f"/bench/{i}", connect_timeout=2).to_dict(),
        )
        for i in range(count)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    # A real chain (root -> intermediate -> RSA-2048 leaf), so every certificate check passes.
    certs = pki()
    leaf = issue_leaf([HOST], certs.intermediate)
    with tempfile.TemporaryDirectory() as tmp, RedisServer(Path(tmp) / "redis") as redis:
        chain = write_pem(Path(tmp) / "chain.pem", leaf, certs.intermediate.cert)
        key = Path(tmp) / "key.pem"
        key.write_bytes(key_pem(certs.leaf_key))
        ca_file = write_pem(Path(tmp) / "ca.pem", certs.root.cert)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(chain, key)
        with DnsWorld() as world, Origin(ctx) as origin:
            cmd = [
                sys.executable, "-m", "cf502", "worker",
                "--redis-url", redis.url,
                "--allow-private",
                "--resolver", f"127.0.0.1:{world.port}",
                "--dns-port", str(world.port),
                "--dns-timeout", "1",
                "--ca-file", str(ca_file),
                "--concurrency", str(args.concurrency),
                "--log-format", "json",
            ]  # fmt: skip
            env = {**os.environ, "CF502_LOG_LEVEL": "INFO"}
            proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
            try:
                _wait_for_line(proc, "worker ready", 30)
                sampler = Sampler(proc.pid)
                idle_rss = sampler.rss()
                cpu_before = sampler.cpu()
                with sampler:
                    elapsed, done, verdicts = asyncio.run(
                        _submit_and_wait(redis.url, _jobs(args.jobs, origin.port))
                    )
                cpu = sampler.cpu() - cpu_before
                after_rss = sampler.rss()
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
    mib = 1024 * 1024
    print(f"jobs: {args.jobs} (done: {done}), worker concurrency {args.concurrency}")
    print(f"checks per diagnosis: {len(ALL_CHECKS)}; verdicts: {dict(verdicts)}")
    print(f"throughput: {done / elapsed:.1f} diagnoses/s over {elapsed:.1f} s")
    print(f"worker CPU: {cpu:.2f} s = {1000 * cpu / max(done, 1):.2f} ms per diagnosis, "
          f"{100 * cpu / elapsed:.0f}% of one core while busy")  # fmt: skip
    print(f"worker RSS: idle {idle_rss / mib:.1f} MiB, peak {sampler.peak_rss / mib:.1f} MiB, "
          f"after {after_rss / mib:.1f} MiB")  # fmt: skip
    return 0 if done == args.jobs else 1


if __name__ == "__main__":
    raise SystemExit(main())
