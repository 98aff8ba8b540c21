"""Ack latency of `/cf502` under 50 concurrent requests, and Slack Web API calls per diagnosis.

Two processes, as in production: the app is started exactly as an operator starts it
(`python -m bot --http`, settings from the environment) and this process plays Slack: it sends
signed `/cf502` requests to the app's real `POST /slack/events` (50 at a time), serves the fake Web
API the app posts to (`tests/servers/slack_api.py`), and runs the loopback DNS world
(`tests/servers/dns.py`, in a third process) the diagnoses resolve through. Each request comes from its own user and
channel and asks for its own path, so nothing is coalesced or rate-limited: every request is a full
diagnosis of a real local origin whose HTTPS port refuses connections.

    .venv/bin/python -m benchmarks.bench_ack [--concurrency 50] [--rounds 4] [--pool local|redis]

`--pool local` (default): no REDIS_URL, the diagnoses run inside the app's process and event loop.
`--pool redis`: a redis-server and one `cf502 worker` process run the diagnoses.

Targets (issue 6): p99 ack <= 100 ms; <= 6 Web API calls per complete report. Exit 1 if missed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from tests.handlers.harness import SECRET, command_payload
from tests.servers.dns import ORIGIN_ADDRESS, DnsWorld
from tests.servers.redis import RedisServer
from tests.servers.slack_api import BOT_TOKEN, FakeSlack
from tests.servers.tcp import closed_port

P99_TARGET_MS = 100.0
CALLS_TARGET = 6
ROOT = Path(__file__).resolve().parents[1]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start(
    argv: list[str], env: dict[str, str], ready_line: str | None
) -> asyncio.subprocess.Process:
    """Start a child process; wait for `ready_line` on its stderr (its log), then keep draining."""
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stderr is not None
    stderr = proc.stderr
    seen: list[str] = []
    if ready_line is not None:
        async with asyncio.timeout(30):
            while True:
                line = (await stderr.readline()).decode(errors="replace")
                if not line:
                    raise RuntimeError(f"{argv[2:]} exited: " + "".join(seen[-20:]))
                seen.append(line)
                if ready_line in line:
                    break

    async def drain() -> None:
        while await stderr.readline():
            pass

    asyncio.get_running_loop().create_task(drain())
    return proc


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        try:
            async with asyncio.timeout(15):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def send(
    session: aiohttp.ClientSession, url: str, slack: FakeSlack, text: str, user: str, channel: str
) -> tuple[int, float]:
    body = urlencode(command_payload(slack, text, user=user, channel=channel))
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
        or "",
    }
    started = time.perf_counter()
    async with session.post(url, data=body.encode(), headers=headers) as resp:
        await resp.read()
        return resp.status, (time.perf_counter() - started) * 1000


def _serve_dns(conn: Connection) -> None:
    """The DNS world in a process of its own, so its CPU does not slow this process's client."""
    with DnsWorld() as world:
        conn.send(world.port)
        conn.recv()  # until told to stop


async def bench(concurrency: int, rounds: int, pool: str) -> int:
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    dns = multiprocessing.get_context("spawn").Process(target=_serve_dns, args=(theirs,))
    dns.start()
    if not ours.poll(30):
        raise RuntimeError("the DNS world did not start")
    dns_port = int(ours.recv())
    slack = await FakeSlack().start()
    origin_port = closed_port(ORIGIN_ADDRESS)
    app_port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.url,
        "CF502_RESOLVER": f"127.0.0.1:{dns_port}",
        "CF502_DNS_PORT": str(dns_port),
        "CF502_DNS_TIMEOUT": "1",
        "CF502_ALLOW_PRIVATE": "true",
        "CF502_USER_RATE": "10000",
        "CF502_CHANNEL_RATE": "10000",
        "CF502_CONCURRENCY": "32",
        "CF502_LOG_FORMAT": "text",
        "CF502_LOG_LEVEL": "INFO",
    }
    procs: list[asyncio.subprocess.Process] = []
    redis: RedisServer | None = None
    tmp = tempfile.TemporaryDirectory()
    acks_ms: list[float] = []
    statuses: Counter[int] = Counter()
    py = sys.executable
    try:
        if pool == "redis":
            redis = RedisServer(Path(tmp.name) / "redis").start()
            env["REDIS_URL"] = redis.url
            procs.append(
                await start([py, "-m", "cf502", "worker", "--concurrency", "64"], env, None)
            )
        procs.append(
            await start(
                [py, "-m", "bot", "--http", "--port", str(app_port), "--env-file", "/dev/null"],
                env,
                "cf502 bot listening",
            )
        )
        url = f"http://127.0.0.1:{app_port}/slack/events"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            await send(session, url, slack, "help", "UWARMUP01", "CWARMUP01")  # first auth.test
            started = time.perf_counter()
            for r in range(rounds):
                # This process plays Slack and keeps every message it got: a garbage collection
                # pass over those in the middle of a burst would be counted as the app's latency.
                gc.collect()
                gc.freeze()
                results = await asyncio.gather(
                    *(
                        send(
                            session,
                            url,
                            slack,
                            f"www.example.test:{origin_port} --path /r{r}/c{i}",
                            f"U{r:03d}{i:05d}",
                            f"C{r:03d}{i:05d}",
                        )
                        for i in range(concurrency)
                    )
                )
                for status, ms in results:
                    statuses[status] += 1
                    acks_ms.append(ms)
                round_ms = [ms for _, ms in results]
                print(
                    f"round {r + 1}: ack median {statistics.median(round_ms):.1f} ms, "
                    f"max {max(round_ms):.1f} ms",
                    flush=True,
                )
                target = (r + 1) * concurrency
                await slack.wait_for(
                    lambda f, n=target: (
                        len(  # type: ignore[misc]
                            [m for m in f.roots() if m.updates and "Likely cause" in str(m.blocks)]
                        )
                        >= n
                    ),
                    timeout=120,
                    what=f"{target} complete reports",
                )
            wall = time.perf_counter() - started
        await stop(procs.pop())  # the bot first: nothing more is posted after this
        per_channel = Counter(
            str(c.args.get("channel")) for c in slack.web_api_calls() if c.status == 200
        )
        roots = {m.channel for m in slack.roots()}
    finally:
        for proc in procs:
            await stop(proc)
        if redis is not None:
            redis.stop()
        await slack.close()
        ours.send("stop")
        dns.join(10)
        tmp.cleanup()

    diagnoses = concurrency * rounds
    calls = [per_channel[ch] for ch in roots]
    p50, p99 = statistics.median(acks_ms), percentile(acks_ms, 99)
    print(f"pool: {pool}; {diagnoses} requests ({rounds} rounds of {concurrency} concurrent)")
    print(f"HTTP statuses: {dict(statuses)}")
    print(f"ack latency: median {p50:.1f} ms, p99 {p99:.1f} ms, max {max(acks_ms):.1f} ms")
    print(f"complete reports: {len(roots)} in {wall:.1f} s")
    print(
        f"Web API calls per diagnosis: mean {statistics.mean(calls):.2f}, max {max(calls)}, "
        f"distribution {dict(sorted(Counter(calls).items()))}"
    )
    ok = (
        statuses == Counter({200: diagnoses})
        and p99 <= P99_TARGET_MS
        and len(roots) == diagnoses
        and max(calls) <= CALLS_TARGET
    )
    print(
        f"targets (p99 ack <= {P99_TARGET_MS:g} ms, <= {CALLS_TARGET} calls per report): "
        + ("met" if ok else "MISSED")
    )
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--pool", choices=("local", "redis"), default="local")
    args = parser.parse_args(argv)
    return asyncio.run(bench(args.concurrency, args.rounds, args.pool))


if __name__ == "__main__":
    sys.exit(main())
