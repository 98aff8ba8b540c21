"""One declaration per setting: `cf502 worker` and the bot read the operator's variables alike (same
parser, same one-line message, exit 2), and every list of options a request may not carry comes
from the declarations."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.request import CommandError, help_text, parse_command
from bot.settings import SETTINGS
from cf502.cli import build_parser
from cf502.cli.check import job_from_args
from cf502.options import UsageError
from cf502.settings import (
    ENGINE,
    OPERATOR_ONLY,
    ORIGIN,
    SAFETY,
    SERVICE,
    OriginSettings,
    Setting,
)
from cf502.target import parse_target
from tests.servers.tcp import closed_port

SLACK = {
    "SLACK_BOT_TOKEN": "xoxb-1-2-abcdefghijkl",
    "SLACK_APP_TOKEN": "xapp-1-A1-2-abcdefghijkl",
    "SLACK_SIGNING_SECRET": "0123456789abcdef0123",
}
# (variable, value, what the one-line message says)
MALFORMED = [
    ("CF502_ALLOW_PRIVATE", "maybe", "CF502_ALLOW_PRIVATE must be true or false."),
    ("CF502_CA_FILE", "/nonexistent/ca.pem", "CF502_CA_FILE '/nonexistent/ca.pem' is not a"),
    ("CF502_MAX_CONNECT_TIMEOUT", "0", "CF502_MAX_CONNECT_TIMEOUT must be between 1 and 10."),
    ("CF502_MAX_READ_TIMEOUT", "nan", "CF502_MAX_READ_TIMEOUT must be a number of seconds."),
    ("CF502_DNS_PORT", "+53", "CF502_DNS_PORT must be a port number (1-65535)."),
    ("CF502_DNS_TIMEOUT", "61", "CF502_DNS_TIMEOUT must be between 0.1 and 60."),
    ("CF502_RESOLVER", "dns.google", "CF502_RESOLVER resolver 'dns.google' must be an IP"),
    ("CF502_METRICS_PORT", "99999", "CF502_METRICS_PORT must be a port number (1-65535)."),
    ("CF502_LOG_LEVEL", "loud", "CF502_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR."),
    ("REDIS_URL", "http://127.0.0.1:1", "REDIS_URL must be a redis://, rediss:// or unix://"),
]


def cf502(command: str, environ: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # Only the given variables (no .env: cwd is empty), so nothing else decides the outcome.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd), **environ}
    return subprocess.run(
        [sys.executable, "-m", "cf502", command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,  # a worker that accepted the value would wait for Redis until killed
        check=False,
    )


@pytest.mark.parametrize(("name", "value", "message"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_the_worker_refuses_what_the_bot_refuses(
    name: str, value: str, message: str, tmp_path: Path
) -> None:
    # Given one malformed operator variable, and the queue on a loopback port nothing listens on
    environ = {**SLACK, "REDIS_URL": f"redis://127.0.0.1:{closed_port()}", name: value}
    # When the worker and the bot start with that same environment
    worker = cf502("worker", environ, tmp_path)
    bot = cf502("bot", environ, tmp_path)
    # Then both stop with exit 2 and the same one line naming the variable, and the worker
    # stopped before it tried Redis
    assert (worker.returncode, bot.returncode) == (2, 2), (worker.stderr, bot.stderr)
    for out in (worker, bot):
        assert out.stderr.startswith(f"cf502: error: {message}"), out.stderr
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert worker.stderr == bot.stderr
    assert worker.stdout == ""


def test_the_worker_and_the_bot_read_the_same_declarations() -> None:
    # Every variable the worker reads is one the bot reads, declared once in cf502.settings
    worker_reads = {s.name for s in ENGINE + SERVICE if s.name}
    bot_reads = {s.name for s in SETTINGS}
    assert worker_reads <= bot_reads
    shared = [s for s in SETTINGS if s.name in worker_reads]
    assert all(any(s is d for d in ENGINE + SERVICE) for s in shared)


@pytest.mark.parametrize("setting", [s for s in OPERATOR_ONLY if s.flag], ids=lambda s: str(s.flag))
def test_slack_refuses_every_operator_only_flag(setting: Setting) -> None:
    # Given an operator-only setting's flag in a /cf502 command, in both spellings
    for text in (f"origin.example.com {setting.flag} 1", f"origin.example.com {setting.flag}=1"):
        # Then it is refused by name
        with pytest.raises(CommandError, match=f"^{setting.flag} is an operator setting"):
            parse_command(text)


def _check_args(*extra: str) -> argparse.Namespace:
    return build_parser().parse_args(["check", "origin.example.com", *extra])


@pytest.mark.parametrize(
    "setting",
    [s for s in SAFETY if s.operator_only and not s.job_request],
    ids=lambda s: str(s.flag),
)
def test_a_remote_check_refuses_every_operator_only_option(setting: Setting) -> None:
    # Given `cf502 check --redis-url` with an operator-only option a job cannot carry
    args = _check_args("--redis-url", "redis://127.0.0.1:1")
    setattr(args, setting.attr, "given")
    # Then the job is refused, naming the option
    with pytest.raises(UsageError, match=f"^{setting.flag} is a worker setting"):
        job_from_args(args, parse_target("origin.example.com"), OriginSettings())


def test_a_remote_check_sends_allow_private_as_a_request() -> None:
    args = _check_args("--redis-url", "redis://127.0.0.1:1", "--allow-private")
    assert job_from_args(args, parse_target("origin.example.com"), OriginSettings()).allow_private


def _flags(command: str) -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {o for a in sub.choices[command]._actions for o in a.option_strings}


def test_the_options_are_the_declarations() -> None:
    # `cf502 check` offers the origin and safety options; `cf502 worker` every engine and
    # service option; each setting with a flag is offered somewhere
    assert {s.flag for s in ORIGIN + SAFETY} <= _flags("check")
    assert {s.flag for s in ENGINE + SERVICE if s.flag} <= _flags("worker")


def test_slack_help_names_every_origin_option() -> None:
    # The /cf502 help is written by hand (with examples), so hold it to the declarations
    assert [s.flag for s in ORIGIN if f"`{s.flag}" not in help_text()] == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dns-port", "+53"], "Argument --dns-port: must be a port number (1-65535)."),
        (["--dns-timeout", "0"], "Argument --dns-timeout: must be between 0.1 and 60."),
        (["--https-port", "²"], "Argument --https-port: must be a port number (1-65535)."),
    ],
)
def test_an_option_is_parsed_by_its_declaration(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as err:
        _check_args(*argv)
    assert str(err.value) == message
