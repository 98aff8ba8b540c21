"""`cf502 demo` as a new user runs it: a real process, no network but loopback, its own DNS, CA and
broken origins; every origin's diagnosis names the fault planted there, within a few seconds, and
nothing is left behind, even when the demo is interrupted."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cf502.demo.lab import demo_lab
from cf502.demo.scenarios import SCENARIOS, by_name

# What the real engine must find at each demo origin: (likely cause, predicted CloudFront status).
EXPECTED: dict[str, tuple[str | None, int | None]] = {
    "healthy": (None, None),
    "expired-cert": ("tls.cert.expiry", 502),
    "wrong-name": ("tls.cert.hostname", 502),
    "missing-intermediate": ("tls.cert.chain", 502),
    "closed-port": ("tcp.https", 502),
    "slow": ("http.latency", 504),
    "big-headers": ("http.headers", 502),
    "cloudfront-site": ("cloudfront.edge", 502),
}
BUDGET = 15.0  # seconds the whole demo may take


def demo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cf502", "demo", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "80", **(env or {})},
    )


def test_every_demo_origin_is_diagnosed_with_its_planted_fault_in_bounded_time() -> None:
    # Given the demo's origins, When `cf502 demo --json` runs them all
    started = time.monotonic()
    done = demo("--json")
    took = time.monotonic() - started
    # Then it succeeds, quickly
    assert done.returncode == 0, done.stderr
    assert took < BUDGET, f"the demo took {took:.1f} s"
    assert done.stderr == ""
    # And every origin's likely cause and predicted CloudFront status are its fault's
    origins = json.loads(done.stdout)["origins"]
    found = {
        o["name"]: (
            o["report"]["verdict"]["likely_cause"],
            o["report"]["verdict"]["cloudfront_status"],
        )
        for o in origins
    }
    assert found == EXPECTED
    assert all(o["found"] for o in origins)
    # And the healthy one passes every check that ran
    healthy = next(o["report"] for o in origins if o["name"] == "healthy")
    assert {c["status"] for c in healthy["checks"]} <= {"pass", "skip"}


def test_the_summary_has_one_line_per_origin_within_80_columns() -> None:
    # When the demo prints its summary to an 80-column terminal
    done = demo()
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # Then no line is wider, and each origin has its line: name, verdict, cause, status
    assert max(len(line) for line in lines) <= 80
    for name, (cause, status) in EXPECTED.items():
        row = next(line for line in lines if line.split()[:1] == [name])
        assert row.split()[1:4] == (
            ["PASS", "-", "-"] if cause is None else ["FAIL", cause, str(status)]
        )
    assert "cf502 demo --show" in done.stdout


def test_show_prints_one_full_report_and_its_json() -> None:
    # When one origin's report is asked for, as text and as JSON
    text = demo("--show", "expired-cert")
    as_json = demo("--show", "expired-cert", "--json")
    # Then the text is the check command's report of that origin, the fix included
    assert text.returncode == 0, text.stderr
    assert "expired.demo.example" in text.stdout and "Likely cause: tls.cert.expiry" in text.stdout
    assert "fix:" in text.stdout
    # And the JSON is the contract's report
    report = json.loads(as_json.stdout)
    assert report["target"]["host"] == "expired.demo.example"
    assert report["verdict"]["likely_cause"] == "tls.cert.expiry"


def test_an_unknown_demo_origin_is_one_line_naming_the_choices() -> None:
    done = demo("--show", "nope")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("cf502: error: There is no demo origin 'nope'; choose from")
    assert "expired-cert" in done.stderr


class Interrupt(Exception):
    pass


def test_the_lab_closes_every_socket_and_removes_its_files_when_interrupted() -> None:
    # Given the demo's world up and serving
    seen: dict[str, Any] = {}

    async def interrupted() -> None:
        async with demo_lab(SCENARIOS) as lab:
            seen["ports"] = dict(lab.ports)
            seen["dns"] = lab.dns_port
            seen["ca"] = Path(lab.ca_file)
            assert Path(lab.ca_file).is_file()
            with socket.create_connection(("127.0.0.1", lab.ports["healthy"]), timeout=2):
                pass
            # When something interrupts the demo
            raise Interrupt

    with pytest.raises(Interrupt):
        asyncio.run(interrupted())
    # Then its files are gone and nothing listens on its ports any more
    assert not seen["ca"].parent.exists()
    for port in seen["ports"].values():
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    # And the DNS port is free for UDP again
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", seen["dns"]))


def test_ctrl_c_stops_the_demo_at_once_and_leaves_nothing_behind(tmp_path: Path) -> None:
    # Given a demo running (its slow origin keeps it busy for seconds)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cf502", "demo", "--show", "slow"],
        env={**os.environ, "TMPDIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # When its files exist (its world is being built) and Ctrl-C comes
        deadline = time.monotonic() + 30
        while not list(tmp_path.glob("cf502-demo-*/*.key")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the demo never started its origins"
            time.sleep(0.01)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # Then it stops promptly with one line, and its temporary files are gone
    assert proc.returncode == 130, err
    assert err == "cf502: interrupted\n"
    assert took < 2.0
    assert list(tmp_path.iterdir()) == []


def test_every_scenario_is_known_by_its_name() -> None:
    assert [s.name for s in SCENARIOS] == list(EXPECTED)
    assert all(by_name(s.name) is s for s in SCENARIOS)
    assert by_name("nope") is None
