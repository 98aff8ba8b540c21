"""`cf502 check` as users and scripts call it: exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cf502.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cf502", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["check", ""], "empty"),
        (["check", "203.0.113.9"], "CloudFront origins are DNS names"),
        (["check", "bad_name.example"], "invalid label"),
        (["check", "origin.example.com:22"], "Port 22 is not allowed"),
        (["check", "origin.example.com", "--https-port", "8"], "HTTPS port 8"),
        (["check", "origin.example.com", "--connect-timeout", "30"], "Connection timeout 30"),
        (["check", "origin.example.com", "--protocol-policy", "sometimes"], "invalid choice"),
        (["check", "origin.example.com", "--only", "tls.nope"], "Unknown check id"),
        (["check", "origin.example.com", "--origin-ssl-protocols", "TLSv1.3"], "TLSv1.3"),
        (["check", "origin.example.com", "--resolver", "dns.example"], "must be an IP"),
        (["check", "origin.example.com", "--ca-file", "/nonexistent/ca.pem"], "does not exist"),
        (["check", "origin.example.com", "--bogus"], "Unknown option --bogus (see `cf502 check"),
        (["check", "origin.example.com", "extra"], "Unexpected argument 'extra'"),
        (["check", "-x"], "Unknown option -x (see `cf502 check --help`)."),
        (["check"], "Missing target"),
        (["nope"], "Unknown command 'nope'; choose from check,"),
        ([], "Give a command"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    args: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given bad input, When cf502 runs, Then it exits 2 with exactly one line on stderr
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("cf502: error: ")
    assert fragment in err
    assert "Traceback" not in err


def test_subprocess_bad_input_has_no_traceback() -> None:
    proc = run_cli("check", "10.0.0.1")
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("cf502: error:") and "Traceback" not in proc.stderr


def test_help_and_version() -> None:
    proc = run_cli("check", "--help")
    assert proc.returncode == 0 and "--protocol-policy" in proc.stdout
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("cf502 ")
