"""Time one full `diagnose()` against the equivalent commands run one after another.

    .venv/bin/python benchmarks/bench_diagnosis.py [--runs 21]
    .venv/bin/python benchmarks/bench_diagnosis.py --rtt 0,20,50 [--runs 15]

Everything is on loopback: the tests' DNS world (a resolver on 127.0.0.1 and three name servers
on 127.0.0.2-4, one port) and a healthy HTTPS origin on 127.0.0.10 with the tests' throwaway PKI
(tests/certs.py: root -> intermediate -> leaf), served from its own thread so its CPU is not counted as cf502's. Two comparisons:

* DNS + TCP: cf502 with only the dns.* and tcp.* checks, against `dig` (A, AAAA, NS, then each
  name server without recursion) and `nc -vz` on the origin port.
* Full: every check in ALL_CHECKS, against the same commands plus `openssl s_client` and `curl`
  (the commands the TLS and HTTP checks print), when those tools are installed.

Each figure is the median of N runs. Needs dig and nc (Debian: dnsutils, netcat-openbsd).

With `--rtt`, the comparison is what an engineer waits for, at each round-trip time: a cold
`cf502 check` process (`python -m cf502 check --json`, the real command line, start-up included)
against the runbook by hand (the same `dig`s and `nc`, then `openssl s_client` with CloudFront's
offer and `curl`), alternating A/B in one run, each pair giving a ratio. Above 0 ms, DNS and the
origin are reached through `benchmarks/delay.py`, which holds every datagram and segment RTT/2
each way (see there for the TCP handshake). The command runs as an installed package does: with
byte-code caching on (after one warm-up run), and from a plain venv that sees this checkout and the
development venv's libraries through a `.pth` path, without the development venv's start-up hooks
(the editable install's import finder and setuptools' distutils shim cost ~14 ms of every start
that `pip install cf502` does not). Per-check durations come from the JSON reports.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

# Run as a script from anywhere: the tests' servers live in the repository, not in the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.delay import DelayProxy
from cf502.checks import ALL_CHECKS
from cf502.checks.tls._offer import (
    CLOUDFRONT_GROUPS,
    CLOUDFRONT_SIGALGS,
    cipher_string,
    openssl_version_flags,
)
from cf502.engine import diagnose
from cf502.model import Report
from cf502.settings import EngineSettings, OriginSettings
from cf502.target import parse_target
from tests.certs import issue_leaf, key_pem, pem, pki
from tests.servers.dns import NS_ADDRESSES, ORIGIN_ADDRESS, RESOLVER_ADDRESS, DnsWorld
from tests.servers.http import HttpServer

ROOT = Path(__file__).resolve().parents[1]

HOST = "www.example.test"
ZONE = "example.test"
DNS_TCP = ("dns.resolve", "dns.authoritative", "tcp.https", "tcp.http")


class Origin:
    """A healthy HTTPS origin (tests.servers.http, path "/") in its own thread and event loop."""

    def __init__(self, ctx: ssl.SSLContext) -> None:
        self.ctx = ctx
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="origin", daemon=True)

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with HttpServer(ORIGIN_ADDRESS, tls=self.ctx) as server:
            self.port = server.port
            self._ready.set()
            await self._stop.wait()

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._ready.set()
            self._loop.close()

    def __enter__(self) -> Origin:
        self._thread.start()
        if not self._ready.wait(10) or not self.port:
            raise RuntimeError("the origin did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def dns_tcp_commands(port: int, dns_port: int) -> list[list[str]]:
    """What an engineer types for the DNS and TCP checks, in order."""
    at = ["@127.0.0.1", "-p", str(dns_port)]
    cmds = [
        ["dig", *at, "+short", HOST, "A"],
        ["dig", *at, "+short", HOST, "AAAA"],
        ["dig", *at, "NS", ZONE, "+short"],
    ]
    for ns in NS_ADDRESSES.values():
        cmds.append(["dig", f"@{ns}", "-p", str(dns_port), HOST, "A", "+norec"])
    cmds.append(["nc", "-vz", "-w", "1", ORIGIN_ADDRESS, str(port)])
    return cmds


def tls_http_commands(port: int, ca_file: str, *, offer: bool = False) -> list[list[str]]:
    """The TLS and HTTP look-ups, where openssl and curl exist (`offer`: s_client makes
    CloudFront's offer, as the command tls.handshake prints does)."""
    cmds: list[list[str]] = []
    if shutil.which("openssl"):
        connect = f"{ORIGIN_ADDRESS}:{port}"
        argv = ["openssl", "s_client", "-connect", connect, "-servername", HOST, "-CAfile", ca_file]
        if offer:
            argv += openssl_version_flags(OriginSettings().ssl_protocols)
            argv += ["-cipher", cipher_string(), "-groups", ":".join(CLOUDFRONT_GROUPS)]
            argv += ["-sigalgs", ":".join(CLOUDFRONT_SIGALGS)]
        cmds.append(argv)
    if shutil.which("curl"):
        cmds.append(
            [
                "curl", "-s", "-o", "/dev/null", "--max-time", "5", "--cacert", ca_file,
                "--resolve", f"{HOST}:{port}:{ORIGIN_ADDRESS}", f"https://{HOST}:{port}/",
            ]
        )  # fmt: skip
    return cmds


def time_commands(cmds: Sequence[Sequence[str]]) -> float:
    """Seconds to run `cmds` one after another (each must succeed)."""
    started = time.perf_counter()
    for cmd in cmds:
        done = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.decode()[-300:]}")
    return time.perf_counter() - started


async def time_diagnoses(
    runs: int, origin: OriginSettings, engine: EngineSettings, only: Sequence[str] | None
) -> tuple[list[float], Report]:
    times: list[float] = []
    report: Report | None = None
    for _ in range(runs):
        started = time.perf_counter()
        report = await diagnose(parse_target(HOST), origin, engine, only=only)
        times.append(time.perf_counter() - started)
    assert report is not None
    return times, report


def statuses(report: Report) -> str:
    counts = Counter(c.status.value for c in report.checks)
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


def compare(
    label: str, cf502_times: list[float], report: Report, cmds: Sequence[Sequence[str]], runs: int
) -> None:
    seq = [time_commands(cmds) for _ in range(runs)]
    ours, theirs = statistics.median(cf502_times), statistics.median(seq)
    print(f"{label}:")
    print(
        f"  cf502 diagnose(), {len(report.checks)} checks ({statuses(report)}): "
        f"median {1000 * ours:.1f} ms"
    )
    print(f"  {len(cmds)} equivalent commands one after another: median {1000 * theirs:.1f} ms")
    print(f"  ratio cf502/sequential: {ours / theirs:.2f}")


def origin_tls(tmp: Path) -> tuple[ssl.SSLContext, str]:
    """The origin's TLS context (leaf + intermediate) and the root CA file cf502 trusts."""
    p = pki()
    leaf = issue_leaf([HOST], p.intermediate)
    chain, key, root = tmp / "chain.pem", tmp / "key.pem", tmp / "root.pem"
    chain.write_bytes(pem(leaf, p.intermediate.cert))
    key.write_bytes(key_pem(p.leaf_key))
    root.write_bytes(pem(p.root.cert))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain, key)
    return ctx, str(root)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="runs per figure (median)")
    parser.add_argument(
        "--rtt",
        metavar="MS,...",
        help="cold `cf502 check` vs the runbook at these round-trip times (e.g. 0,20,50)",
    )
    args = parser.parse_args()
    rtts = [float(ms) / 1000 for ms in args.rtt.split(",")] if args.rtt else None
    missing = [tool for tool in ("dig", "nc") if shutil.which(tool) is None]
    if missing:
        print(
            f"error: {', '.join(missing)} not installed (apt-get install dnsutils netcat-openbsd)"
        )
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        ctx, ca_file = origin_tls(Path(tmp))
        with DnsWorld() as world, Origin(ctx) as origin:
            if rtts is None:
                run(args.runs, world, origin, ca_file)
            else:
                python = plain_python(Path(tmp, "venv"))
                for rtt in rtts:
                    run_cold(python, args.runs, rtt, world, origin, ca_file)
    return 0


def run(runs: int, world: DnsWorld, origin: Origin, ca_file: str) -> None:
    engine = world.engine(ca_file=ca_file)
    settings = OriginSettings(https_port=origin.port, connect_timeout=2, read_timeout=5)
    print(
        f"{runs} runs each; origin https://{HOST}:{origin.port}/ at {ORIGIN_ADDRESS}, "
        f"DNS on port {world.port}"
    )
    dns_tcp_cmds = dns_tcp_commands(origin.port, world.port)
    times, report = asyncio.run(time_diagnoses(runs, settings, engine, DNS_TCP))
    compare("DNS + TCP", times, report, dns_tcp_cmds, runs)
    times, report = asyncio.run(time_diagnoses(runs, settings, engine, None))
    full_cmds = dns_tcp_cmds + tls_http_commands(origin.port, ca_file)
    compare(f"Full ({len(ALL_CHECKS)} checks)", times, report, full_cmds, runs)
    for c in report.checks:
        if c.status.value in ("fail", "error"):
            print(f"  note: {c.id} {c.status.value}: {c.summary}")


# --- a cold `cf502 check` process vs the runbook, at a round-trip time ----------------------------


def plain_python(folder: Path) -> str:
    """A venv in `folder` whose interpreter imports this checkout and the development venv's
    libraries as an installed cf502 would: plain paths, none of the development hooks."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=60
    )
    python = folder / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    Path(purelib, "cf502-bench.pth").write_text(f"{sysconfig.get_paths()['purelib']}\n{ROOT}\n")
    return str(python)


def cold_check_argv(python: str, dns_port: int, https_port: int, ca_file: str) -> list[str]:
    """`cf502 check` of the healthy origin, every default check, as an engineer would run it."""
    return [
        python, "-m", "cf502", "check", HOST, "--json",
        "--https-port", str(https_port), "--connect-timeout", "2", "--read-timeout", "5",
        "--resolver", f"{RESOLVER_ADDRESS}:{dns_port}", "--dns-port", str(dns_port),
        "--ca-file", ca_file, "--allow-private",
    ]  # fmt: skip


def _cold_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the plain venv's .pth names this checkout
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # byte-code cached, as in an installed package
    return env


def time_cold_check(argv: Sequence[str]) -> tuple[float, dict[str, object]]:
    """Wall seconds of one `cf502 check` process, and its JSON report."""
    started = time.perf_counter()
    done = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False,
        env=_cold_env(), cwd=ROOT,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"cf502 check exited {done.returncode}: {done.stderr.decode()[-300:]}")
    report: dict[str, object] = json.loads(done.stdout)
    return elapsed, report


def _quartiles(values: Sequence[float]) -> str:
    ordered = sorted(values)
    return f"median {statistics.median(ordered):.3f} (min {ordered[0]:.3f}, max {ordered[-1]:.3f})"


def run_cold(
    python: str, runs: int, rtt: float, world: DnsWorld, origin: Origin, ca_file: str
) -> None:
    """A/B pairs at `rtt` seconds: cold `cf502 check`, then the runbook; the ratio of each pair."""
    if rtt <= 0:
        compare_cold(python, runs, rtt, world.port, origin.port, ca_file)
        return
    dns_addresses = [RESOLVER_ADDRESS, *NS_ADDRESSES.values()]
    with DelayProxy(
        rtt,
        dns_addresses=dns_addresses,
        dns_port=world.port,
        origins=[(ORIGIN_ADDRESS, origin.port)],
    ) as proxy:
        port = proxy.ports[(ORIGIN_ADDRESS, origin.port)]
        compare_cold(python, runs, rtt, proxy.dns_port, port, ca_file)


def compare_cold(
    python: str, runs: int, rtt: float, dns_port: int, https_port: int, ca_file: str
) -> None:
    argv = cold_check_argv(python, dns_port, https_port, ca_file)
    cmds = dns_tcp_commands(https_port, dns_port) + tls_http_commands(
        https_port, ca_file, offer=True
    )
    time_cold_check(argv)  # warm-up: byte-code written, page cache filled
    time_commands(cmds)
    ours: list[float] = []
    theirs: list[float] = []
    inside: list[float] = []
    per_check: dict[str, list[float]] = {}
    report: dict[str, object] = {}
    for _ in range(runs):
        elapsed, report = time_cold_check(argv)
        ours.append(elapsed)
        theirs.append(time_commands(cmds))
        inside.append(float(report["duration_ms"]) / 1000)  # type: ignore[arg-type]
        for check in report["checks"]:  # type: ignore[attr-defined]
            per_check.setdefault(check["id"], []).append(check["duration_ms"] / 1000)
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    start_up = [a - b for a, b in zip(ours, inside, strict=True)]
    counts = Counter(c["status"] for c in report["checks"])  # type: ignore[attr-defined]
    print(f"RTT {1000 * rtt:.0f} ms ({runs} pairs, seconds):")
    print(
        f"  cold `cf502 check`, {sum(counts.values())} checks ({_counted(counts)}): {_quartiles(ours)}"
    )
    print(f"    of which the diagnosis: {_quartiles(inside)}")
    print(f"    start-up and exit: {_quartiles(start_up)}")
    print(f"  runbook, {len(cmds)} commands one after another: {_quartiles(theirs)}")
    print(f"  ratio cf502/runbook, pair by pair: {_quartiles(ratios)}")
    print("  per check (median s): " + ", ".join(
        f"{cid} {statistics.median(times):.3f}" for cid, times in per_check.items()
    ))  # fmt: skip
    for check in report["checks"]:  # type: ignore[attr-defined]
        if check["status"] in ("fail", "error"):
            print(f"  note: {check['id']} {check['status']}: {check['summary']}")


def _counted(counts: Counter[str]) -> str:
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


if __name__ == "__main__":
    raise SystemExit(main())
