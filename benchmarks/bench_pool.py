"""Diagnoses per second through the Redis worker pool, and enqueue-to-result latency.

    .venv/bin/python benchmarks/bench_pool.py [--jobs 600] [--runs 200] [--concurrency 16]

Everything runs on this machine, on loopback: a fresh redis-server (tests/servers/redis.py), and in
a separate process the tests' DNS world (a resolver and three name servers) plus a healthy HTTPS
origin on 127.0.0.10 with the tests' throwaway PKI, so their CPU is not counted as the workers'.
Each job is a FULL diagnosis (every check in the registry; 12 pass, 2 skip) of that origin, run by
`python -m cf502 worker` processes with the operator settings a deployment would use for it
(--allow-private, --resolver, --ca-file).

Figures:

* direct: the same job run in this process by `cf502.runjob.run_job`, one after another (median);
* latency: one job at a time through the pool with one worker, submit -> DONE event seen by the
  client (median, p99); the queue overhead is its median minus the direct median;
* throughput: `--jobs` jobs submitted at once, diagnoses/s from the first submit to the last
  result seen, with 1 and then 2 worker processes; and each worker's CPU per diagnosis;
* through the command line: `--cli` runs of `python -m cf502 check --redis-url` (each a new
  process, `--cli-parallel` at a time), diagnoses/s and the median wall time of one, with 1 and
  then 2 workers: what a script that shells out to cf502 gets.

Targets (issue 5): >= 50 diagnoses/s per worker process, 2 workers >= 1.7x one, overhead <= 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# Run as a script from anywhere: the tests' servers live in the repository, not in the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric import ec

from cf502.cli.worker import loop_factory
from cf502.pool.jobs import EventKind, Job, JobKind
from cf502.pool.limits import Limits
from cf502.pool.queue.client import QueueClient
from cf502.pool.queue.config import QueueConfig
from cf502.pool.queue.consumer import QueueConsumer
from cf502.pool.runjob import run_job
from cf502.settings import EngineSettings, OriginSettings
from cf502.target import parse_target
from tests.certs import PrivateKey, issue_leaf, key_pem, pem, pki
from tests.servers.dns import ORIGIN_ADDRESS, DnsWorld
from tests.servers.http import HttpServer
from tests.servers.redis import RedisServer

HOST = "www.example.test"
ROOT = str(Path(__file__).resolve().parents[1])


# -- the origin and DNS, in their own process ---------------------------------------------------


def _origin_context(tmp: Path, key_type: str) -> tuple[ssl.SSLContext, str]:
    p = pki()
    leaf_key: PrivateKey = (
        p.leaf_key if key_type == "rsa" else ec.generate_private_key(ec.SECP256R1())
    )
    leaf = issue_leaf([HOST], p.intermediate, key=leaf_key)
    chain, key, root = tmp / "chain.pem", tmp / "key.pem", tmp / "root.pem"
    chain.write_bytes(pem(leaf, p.intermediate.cert))
    key.write_bytes(key_pem(leaf_key))
    root.write_bytes(pem(p.root.cert))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain, key)
    return ctx, str(root)


def _cached(wire: Callable[[bytes, str], bytes | None]) -> Callable[[bytes, str], bytes | None]:
    """Answer a repeated query from a cache of the server's own answer (only the ID differs), as
    a real name server would, so the test server's Python parsing is not what is measured."""
    cache: dict[tuple[bytes, str], bytes] = {}

    def answer(data: bytes, transport: str) -> bytes | None:
        key = (data[2:], transport)
        hit = cache.get(key)
        if hit is None:
            reply = wire(data, transport)
            if reply is None:
                return None
            cache[key] = hit = reply[2:]
        return data[:2] + hit

    return answer


def serve(tmp: Path, key_type: str) -> int:
    """`--serve DIR`: run DNS + origin, print their ports as one JSON line, stop on stdin EOF."""
    # The servers stand in for the internet's origin and DNS: make them as cheap as we can so the
    # CPU they share with the workers on this machine goes to the workers.
    policy = loop_factory()
    if policy is not None:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    ctx, ca_file = _origin_context(tmp, key_type)
    ready = threading.Event()
    port: list[int] = []
    stop: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def origin() -> None:
        done = asyncio.Event()
        stop.append((asyncio.get_running_loop(), done))
        async with HttpServer(ORIGIN_ADDRESS, tls=ctx) as server:
            port.append(server.port)
            ready.set()
            await done.wait()

    thread = threading.Thread(target=lambda: asyncio.run(origin()), daemon=True)
    thread.start()
    with DnsWorld() as world:
        for server in world.servers:
            setattr(server, "wire", _cached(server.wire))  # noqa: B010  (instance override)
        if not ready.wait(10):
            raise RuntimeError("the origin did not start")
        print(json.dumps({"https_port": port[0], "dns_port": world.port, "ca_file": ca_file}))
        sys.stdout.flush()
        sys.stdin.read()  # until the benchmark closes our stdin
        loop, done = stop[0]
        loop.call_soon_threadsafe(done.set)
        thread.join(10)
    return 0


class Servers:
    def __init__(self, tmp: Path, key_type: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(tmp), "--origin-key", key_type],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        info = json.loads(self.proc.stdout.readline())
        self.https_port: int = info["https_port"]
        self.dns_port: int = info["dns_port"]
        self.ca_file: str = info["ca_file"]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- workers --------------------------------------------------------------------------------------


class WorkerProc:
    """`python -m cf502 worker`, ready once it logs "worker ready"."""

    def __init__(self, url: str, servers: Servers, concurrency: int) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "cf502", "worker",
                "--redis-url", url,
                "--concurrency", str(concurrency),
                "--allow-private",
                "--resolver", f"127.0.0.1:{servers.dns_port}",
                "--dns-port", str(servers.dns_port),
                "--dns-timeout", "2",
                "--ca-file", servers.ca_file,
                "--log-format", "json",
                "--grace", "5",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert self.proc.stderr is not None
        self._ready = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()
        if not self._ready.wait(20) or self.proc.poll() is not None:
            self.proc.kill()
            self.proc.wait(10)
            raise RuntimeError("the worker did not start")

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if "worker ready" in line or "Traceback" in line:
                self._ready.set()
        self._ready.set()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


# -- measurements ---------------------------------------------------------------------------------


def full_job(https_port: int) -> Job:
    target = parse_target(HOST)
    origin = OriginSettings(
        https_port=https_port, connect_timeout=2, connection_attempts=1, read_timeout=5
    )
    return Job(JobKind.DIAGNOSE, target.to_dict(), origin.to_dict())


def fresh(job: Job) -> Job:
    return Job.from_dict({**job.to_dict(), "job_id": os.urandom(16).hex()})


async def wait_done(pool: QueueClient, job_id: str, timeout: float = 60) -> tuple[float, str]:
    """(perf_counter() when the job's DONE event is seen, the event's JSON); raises if it failed."""
    stored: Any = await pool.redis.get(pool.keys.result(job_id))  # str: responses are decoded
    blob: str | None = stored
    if blob is None:
        key, last = pool.keys.events(job_id), "0-0"
        async with asyncio.timeout(timeout):
            while blob is None:
                resp: Any = await pool.redis.xread({key: last}, count=64, block=1000)
                for _, entries in resp or ():
                    for entry_id, fields in entries:
                        last = entry_id
                        if '"kind":"check"' not in fields["e"]:
                            blob = fields["e"]
    seen = time.perf_counter()
    if json.loads(blob)["kind"] != EventKind.DONE.value:
        raise RuntimeError(f"job {job_id} failed: {blob[:300]}")
    return seen, blob


async def direct_once(job: Job, engine: EngineSettings) -> float:
    started = time.perf_counter()
    end = await run_job(fresh(job), engine)
    elapsed = time.perf_counter() - started
    if end.report is None or end.report.failed:
        raise RuntimeError(f"the origin is not healthy: {end}")
    return elapsed


async def pooled_once(pool: QueueClient, job: Job) -> tuple[float, float]:
    """(submit -> DONE seen, that minus the diagnosis's own duration in the worker), seconds."""
    started = time.perf_counter()
    job_id = await pool.submit(fresh(job))
    seen, blob = await wait_done(pool, job_id)
    total = seen - started
    return total, total - json.loads(blob)["report"]["duration_ms"] / 1000


async def paired(
    pool: QueueClient, job: Job, engine: EngineSettings, runs: int
) -> tuple[list[float], list[float], list[float]]:
    """Direct and pooled runs alternated, so both see the same machine load: (direct, pooled,
    pooled minus the worker's own diagnosis time), seconds each."""
    direct, pooled, queue_only = [], [], []
    for _ in range(runs):
        direct.append(await direct_once(job, engine))
        total, rest = await pooled_once(pool, job)
        pooled.append(total)
        queue_only.append(rest)
    return direct, pooled, queue_only


async def throughput(
    pool: QueueClient, job: Job, n: int, workers: Sequence[WorkerProc], others: dict[str, int]
) -> tuple[float, dict[str, float]]:
    """(diagnoses per second, CPU ms per diagnosis of the workers and of each other process)."""
    pids = {"workers": [w.proc.pid for w in workers]} | {k: [v] for k, v in others.items()}
    before = {k: sum(cpu_seconds(p) for p in v) for k, v in pids.items()}
    started = time.perf_counter()
    ids = await asyncio.gather(*(pool.submit(fresh(job)) for _ in range(n)))
    ends = [(await wait_done(pool, i, timeout=300))[0] for i in ids]
    elapsed = max(ends) - started
    cpu = {k: 1000 * (sum(cpu_seconds(p) for p in v) - before[k]) / n for k, v in pids.items()}
    return n / elapsed, cpu


def p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


PARTS = ("workers", "servers", "redis", "client")


async def cli_rate(
    url: str, https_port: int, n: int, parallel: int, workers: Sequence[WorkerProc]
) -> tuple[float, float, float]:
    """`n` cold `cf502 check --redis-url` processes, `parallel` at a time: (diagnoses/s, median
    seconds per process, the workers' CPU ms per diagnosis)."""
    argv = [
        sys.executable, "-m", "cf502", "check", HOST, "--json", "--redis-url", url,
        "--https-port", str(https_port), "--connect-timeout", "2", "--connection-attempts", "1",
        "--read-timeout", "5",
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # byte-code cached, as in an installed package
    slots = asyncio.Semaphore(parallel)
    walls: list[float] = []

    async def one(i: int) -> None:
        async with slots:
            started = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                # A path of its own: identical requests within 10 s would share one job.
                *argv, "--path", f"/cli-{os.getpid()}-{time.time_ns()}-{i}",
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
            )  # fmt: skip
            out, err = await proc.communicate()
            walls.append(time.perf_counter() - started)
            if proc.returncode != 0 or json.loads(out)["verdict"] is None:
                raise RuntimeError(f"cf502 check --redis-url failed: {err.decode()[-300:]}")

    pids = [w.proc.pid for w in workers]
    before = sum(cpu_seconds(p) for p in pids)
    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    elapsed = time.perf_counter() - started
    cpu = 1000 * (sum(cpu_seconds(p) for p in pids) - before) / n
    return n / elapsed, statistics.median(walls), cpu


async def bench(args: argparse.Namespace, servers: Servers, redis: RedisServer) -> dict[str, float]:
    job = full_job(servers.https_port)
    engine = EngineSettings(
        allow_private=True,
        resolver=f"127.0.0.1:{servers.dns_port}",
        dns_port=servers.dns_port,
        dns_timeout=2,
        ca_file=servers.ca_file,
    )
    out: dict[str, float] = {}
    pool = QueueClient(redis.url, QueueConfig(limits=Limits(coalesce=0), max_backlog=0))
    workers = [WorkerProc(redis.url, servers, args.concurrency)]
    assert redis.proc is not None
    others = {"servers": servers.proc.pid, "redis": redis.proc.pid, "client": os.getpid()}
    try:
        await paired(pool, job, engine, 5)  # warm-up
        direct, pooled, queue_only = await paired(pool, job, engine, args.runs)
        out["direct_median_ms"] = 1000 * statistics.median(direct)
        out["latency_median_ms"] = 1000 * statistics.median(pooled)
        out["latency_p99_ms"] = 1000 * p99(pooled)
        out["overhead_median_ms"] = out["latency_median_ms"] - out["direct_median_ms"]
        out["queue_only_median_ms"] = 1000 * statistics.median(queue_only)
        for n in (1, 2):
            if n == 2:
                workers.append(WorkerProc(redis.url, servers, args.concurrency))
            await throughput(pool, job, 50, workers, others)  # warm-up
            rate, cpu = await throughput(pool, job, args.jobs, workers, others)
            out[f"rate_{n}"] = rate
            out.update({f"cpu_ms_{k}_{n}": v for k, v in cpu.items()})
            total = sum(cpu.values())
            out[f"cpu_ms_total_{n}"] = total
            # What this machine could do if every CPU were busy with this work and nothing else.
            out[f"ceiling_{n}"] = (os.cpu_count() or 1) * 1000 / total
            if args.cli:
                await cli_rate(redis.url, servers.https_port, 2, 1, workers)  # warm-up
                rate, wall, cpu_per = await cli_rate(
                    redis.url, servers.https_port, args.cli, args.cli_parallel, workers
                )
                out[f"cli_rate_{n}"], out[f"cli_wall_ms_{n}"] = rate, 1000 * wall
                out[f"cli_worker_cpu_ms_{n}"] = cpu_per
        out["scaling"] = out["rate_2"] / out["rate_1"]
        depth = await QueueConsumer(pool.where, pool.config, client=pool.redis).depth()
        if depth != (0, 0):
            raise RuntimeError(f"jobs left in the queue: {depth}")
    finally:
        for w in workers:
            w.stop()
        await pool.close()
    return out


def report(out: dict[str, float], args: argparse.Namespace) -> None:
    def ok(cond: bool) -> str:
        return "met" if cond else "MISSED"

    rows = [
        f"full diagnoses (14 checks) of a healthy loopback origin; {os.cpu_count()} CPUs",
        f"direct run_job in-process:      median {out['direct_median_ms']:.1f} ms",
        f"through the pool (1 worker):    median {out['latency_median_ms']:.1f} ms, "
        f"p99 {out['latency_p99_ms']:.1f} ms ({args.runs} jobs one at a time, alternating with "
        "direct runs)",
        f"queue overhead (median):        {out['overhead_median_ms']:.1f} ms "
        f"[target <= 5 ms: {ok(out['overhead_median_ms'] <= 5)}]; per job, latency minus the "
        f"worker's own diagnosis time: {out['queue_only_median_ms']:.1f} ms",
        f"throughput, 1 worker process:   {out['rate_1']:.0f} diagnoses/s "
        f"[target >= 50: {ok(out['rate_1'] >= 50)}]",
        f"throughput, 2 worker processes: {out['rate_2']:.0f} diagnoses/s",
        f"scaling 2 vs 1:                 {out['scaling']:.2f}x "
        f"[target >= 1.7x: {ok(out['scaling'] >= 1.7)}]",
        f"({args.jobs} jobs per throughput run, concurrency {args.concurrency} per worker)",
        "",
        "CPU ms per diagnosis            1 worker   2 workers",
    ]
    for part in (*PARTS, "total"):
        rows.append(f"  {part:<28}{out[f'cpu_ms_{part}_1']:>8.1f}{out[f'cpu_ms_{part}_2']:>12.1f}")
    rows.append(
        f"  CPU-bound ceiling, all parts  {out['ceiling_1']:>6.0f}/s{out['ceiling_2']:>10.0f}/s"
    )
    if args.cli:
        rows += [
            "",
            f"through `cf502 check --redis-url` ({args.cli} processes, {args.cli_parallel} at a "
            "time)   1 worker   2 workers",
        ]
        for label, key, fmt in (
            ("diagnoses/s", "cli_rate", ".1f"),
            ("wall ms per process, median", "cli_wall_ms", ".0f"),
            ("workers' CPU ms per diagnosis", "cli_worker_cpu_ms", ".1f"),
        ):
            rows.append(f"  {label:<30}{out[f'{key}_1']:>{8}{fmt}}{out[f'{key}_2']:>{12}{fmt}}")
    print("\n".join(rows))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=600, help="jobs per throughput run (600)")
    parser.add_argument("--runs", type=int, default=200, help="jobs for the latency figures (200)")
    parser.add_argument("--concurrency", type=int, default=16, help="jobs at once per worker (16)")
    parser.add_argument(
        "--origin-key",
        choices=("ecdsa", "rsa"),
        default="ecdsa",
        help="the origin certificate's key (ecdsa: P-256; rsa: 2048 bits)",
    )
    parser.add_argument(
        "--cli", type=int, default=0, help="also time N `cf502 check --redis-url` processes"
    )
    parser.add_argument("--cli-parallel", type=int, default=4, help="those processes at once (4)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--serve", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(Path(args.serve), args.origin_key)
    with tempfile.TemporaryDirectory() as tmp:
        servers = Servers(Path(tmp), args.origin_key)
        try:
            with (
                RedisServer(Path(tmp) / "redis") as redis,
                asyncio.Runner(loop_factory=loop_factory()) as runner,
            ):
                out = runner.run(bench(args, servers, redis))
        finally:
            servers.close()
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        report(out, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
