"""`cf502 decode` end to end, as a user runs it: a real process, its exit code, stdout and stderr."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from cf502.decode import MAX_INPUT
from tests.decode.logs import HEADER, SITE, json_line, w3c

COLUMNS = 80


def cf502(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "cf502", "decode", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode()
    )


def test_a_log_line_is_explained_within_80_columns() -> None:
    run = cf502(w3c("OriginDnsError", 502))
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("OriginDnsError · 502 Bad Gateway\n")
    assert "could not resolve the origin's domain name" in run.stdout
    assert "dns.resolve" in run.stdout
    assert f"  cf502 check {SITE} --path /api/orders\n" in run.stdout
    assert "--origin NAME" in run.stdout
    assert max(len(line) for line in run.stdout.splitlines()) <= COLUMNS
    assert run.stderr == ""


def test_json_has_exactly_the_contract_keys() -> None:
    run = cf502("--json", w3c("OriginCommError", 504))
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert list(out) == [
        "input_kind",
        "result_type",
        "cloudfront_status",
        "cause",
        "checks",
        "command",
    ]
    assert out["input_kind"] == "w3c-log"
    assert out["result_type"] == "OriginCommError"
    assert out["cloudfront_status"] == 504
    assert "http.latency" in out["checks"]
    assert out["command"] == f"cf502 check {SITE} --path /api/orders"


def test_standard_input_with_the_header_and_several_lines() -> None:
    text = "\n".join([HEADER, w3c("Hit", 200), w3c("OriginReadError", 502), w3c("Hit", 200)])
    run = cf502("-", stdin=text.encode())
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("OriginReadError · 502 Bad Gateway\n")
    assert "3 log lines: 2 Hit, 1 OriginReadError" in run.stdout


def test_a_json_line_from_standard_input_as_json() -> None:
    run = cf502("--json", "-", stdin=json_line("LambdaExecutionError", 503).encode())
    out = json.loads(run.stdout)
    assert (out["input_kind"], out["result_type"], out["checks"]) == (
        "json-log",
        "LambdaExecutionError",
        ["cloudfront.edge"],
    )


def test_unquoted_words_are_joined() -> None:
    # `cf502 decode Error from cloudfront`, and a log line pasted into the shell without quotes
    run = cf502("--json", "Error", "from", "cloudfront")
    assert json.loads(run.stdout)["input_kind"] == "x-cache"
    run = cf502("--json", *w3c("OriginConnectError", 502).split("\t"))
    assert json.loads(run.stdout)["result_type"] == "OriginConnectError"


def test_unrecognised_input_exits_2_with_one_line_on_stderr() -> None:
    run = cf502("--json", "hello")
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1
    assert run.stderr.startswith("cf502: error: 'hello' is not something cf502 decode reads")
    assert "Traceback" not in run.stderr


def test_no_text_is_a_usage_error() -> None:
    run = cf502()
    assert run.returncode == 2
    assert "Traceback" not in run.stderr


def test_undecodable_bytes_and_huge_input_on_standard_input() -> None:
    # Given a valid line with a stray byte, followed by far more than the input limit
    line = w3c("OriginConnectError", 502).encode().replace(b"Firefox", b"Fire\xfffox")
    data = b"\n".join([line] * (3 * MAX_INPUT // len(line)))
    started = time.perf_counter()
    run = cf502("-", stdin=data)
    # Then the line is still read, the cut is said, and it takes no time to speak of
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("OriginConnectError · 502 Bad Gateway\n")
    assert "Only the first 1024 KiB of the input were read." in " ".join(run.stdout.split())
    assert time.perf_counter() - started < 30


def test_binary_junk_on_standard_input_exits_2() -> None:
    run = cf502("-", stdin=bytes(range(256)) * 5000)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1
    assert "Traceback" not in run.stderr
