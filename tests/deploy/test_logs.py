"""cf502/ops/logs.py: one JSON object per line with job/check/target on every line, readable text in a
terminal, and no Slack token or secret in any line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from cf502 import logcontext
from cf502.ops import logs

BOT_TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
APP_TOKEN = "xapp-1-A0123456789-1234567890123-abcdef0123456789abcdef0123456789"
USER_TOKEN = "xoxp-1111-2222-3333-deadbeefdeadbeef"
REFRESH_TOKEN = "xoxe.xoxp-1-Mi0yLTEyMzQ1Njc4"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def capture() -> Iterator[io.StringIO]:
    """Route logging to a buffer through cf502's handler, and undo it afterwards."""
    buffer = io.StringIO()
    root = logging.getLogger()
    level = root.level
    logs.setup_logging("DEBUG", fmt="json", stream=buffer, secrets=[SIGNING_SECRET])
    try:
        yield buffer
    finally:
        handler = logs.setup_logging(fmt="json", stream=io.StringIO())  # forgets the secrets
        root.removeHandler(handler)
        root.setLevel(level)


def _lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    return [line for line in lines if line["logger"] != "asyncio"]  # the event loop's own chatter


def test_every_line_is_one_json_object_with_the_context_fields(capture: io.StringIO) -> None:
    log = logging.getLogger("cf502.worker")
    # Given a line outside any job, then lines inside a job and inside one of its checks
    log.info("worker started")
    with logcontext.log_context(job_id="job-1", target="origin.example.com"):
        log.info("job started")
        with logcontext.log_context(check_id="tls.handshake"):
            log.warning("check failed\nsecond line of detail")
        log.info("job done", extra={"duration_ms": 1234})
    # When the output is read back
    lines = _lines(capture)
    # Then each event is exactly one JSON line, even the multi-line message
    assert [line["event"] for line in lines] == [
        "worker started",
        "job started",
        "check failed\nsecond line of detail",
        "job done",
    ]
    # And job_id, check_id and target are on every line (null when not known)
    for line in lines:
        assert {"ts", "level", "logger", "event", "job_id", "check_id", "target"} <= set(line)
    assert (lines[0]["job_id"], lines[0]["check_id"], lines[0]["target"]) == (None, None, None)
    assert lines[2]["job_id"] == "job-1"
    assert lines[2]["check_id"] == "tls.handshake"
    assert lines[2]["target"] == "origin.example.com"
    assert lines[2]["level"] == "warning"
    # And the check id does not leak out of its block; extra fields become fields
    assert lines[3]["check_id"] is None
    assert lines[3]["duration_ms"] == 1234


async def test_context_follows_tasks_started_inside_a_job(capture: io.StringIO) -> None:
    log = logging.getLogger("cf502.engine")

    async def check(check_id: str) -> None:
        with logcontext.log_context(check_id=check_id):
            await asyncio.sleep(0)  # let the other task interleave its lines
            log.info("check finished")

    # Given two jobs whose checks run concurrently
    async def job(job_id: str) -> None:
        with logcontext.log_context(job_id=job_id, target=f"{job_id}.example.com"):
            await asyncio.gather(check("dns.resolve"), check("tcp.https"))

    # When both run at once
    await asyncio.gather(job("a"), job("b"))
    # Then every line names its own job, target and check, never the other job's
    lines = _lines(capture)
    assert len(lines) == 4
    for line in lines:
        assert line["target"] == f"{line['job_id']}.example.com"
    assert sorted((line["job_id"], line["check_id"]) for line in lines) == [
        ("a", "dns.resolve"),
        ("a", "tcp.https"),
        ("b", "dns.resolve"),
        ("b", "tcp.https"),
    ]


def test_tokens_and_secrets_never_reach_the_output(capture: io.StringIO) -> None:
    # Given tokens logged every way they could slip through: as an argument, in the message, in
    # an extra field, in an exception's traceback, from a third-party library's logger, in a URL
    log = logging.getLogger("cf502.bot")
    log.info("posting with token %s", BOT_TOKEN)
    log.info(f"socket mode with {APP_TOKEN} and user {USER_TOKEN} refresh {REFRESH_TOKEN}")
    log.info("headers", extra={"headers": {"Authorization": f"Bearer {BOT_TOKEN}"}})
    try:
        raise RuntimeError(f"auth failed for {BOT_TOKEN}")
    except RuntimeError:
        log.exception("call failed")
    logging.getLogger("slack_sdk.web.async_base_client").debug("Sending a request: %r", BOT_TOKEN)
    log.info("redis at %s", "redis://:s3cr3t-passw0rd@redis.internal:6379/0")
    log.info("signature check with %s", SIGNING_SECRET)
    # When the output is read
    out = capture.getvalue()
    # Then no token or secret is in it, and the lines still say what happened
    for secret in (
        BOT_TOKEN,
        APP_TOKEN,
        USER_TOKEN,
        REFRESH_TOKEN,
        "s3cr3t-passw0rd",
        SIGNING_SECRET,
    ):
        assert secret not in out
    for fragment in ("xoxb-", "xapp-", "xoxp-", "xoxe"):
        assert fragment not in out
    lines = _lines(capture)
    assert lines[0]["event"] == "posting with token [redacted]"
    assert "RuntimeError: auth failed for [redacted]" in lines[3]["exc"]
    assert lines[5]["event"] == "redis at redis://:[redacted]@redis.internal:6379/0"
    assert len(lines) == 7


def test_redact_leaves_ordinary_text_alone() -> None:
    # Given text that merely resembles tokens or URLs
    text = "checked https://origin.example.com:8443/x and xox-ray, mailbox: ops@example.com"
    # Then it is unchanged
    assert logcontext.redact(text) == text


def test_human_readable_lines_in_a_terminal() -> None:
    # Given stderr is a real terminal (a pseudo-terminal here)
    leader, follower = os.openpty()
    root = logging.getLogger()
    level = root.level
    with os.fdopen(follower, "w", buffering=1) as tty:
        handler = logs.setup_logging("INFO", stream=tty)
        try:
            # When a line is logged inside a job
            with logcontext.log_context(job_id="job-9", target="origin.example.com"):
                logging.getLogger("cf502.worker").info("job started with %s", BOT_TOKEN)
            tty.flush()
            shown = os.read(leader, 4096).decode()
        finally:
            root.removeHandler(handler)
            root.setLevel(level)
    os.close(leader)
    # Then it is a readable line, not JSON, with the fields at the end and the token redacted
    assert not shown.lstrip().startswith("{")
    assert "INFO" in shown
    assert "cf502.worker  job started with [redacted]" in shown
    assert "job_id=job-9 target=origin.example.com" in shown
    assert BOT_TOKEN not in shown


def test_format_and_level_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given CF502_LOG_FORMAT=text and CF502_LOG_LEVEL=WARNING on a non-terminal stream
    monkeypatch.setenv("CF502_LOG_FORMAT", "text")
    monkeypatch.setenv("CF502_LOG_LEVEL", "WARNING")
    buffer = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = logs.setup_logging(stream=buffer)
    try:
        # When an info and a warning line are logged
        logging.getLogger("cf502").info("hidden")
        logging.getLogger("cf502").warning("shown")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    # Then only the warning is written, as text
    out = buffer.getvalue()
    assert "hidden" not in out
    assert "WARNING" in out and "shown" in out
    assert not out.startswith("{")


def test_setup_replaces_console_handlers_and_redacts_the_others(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    level = root.level
    # Given a basicConfig-style console handler and some other handler already on the root logger
    console = logging.StreamHandler(sys.stderr)
    other_out = io.StringIO()
    other = logging.StreamHandler(other_out)
    root.addHandler(console)
    root.addHandler(other)
    buffer = io.StringIO()
    handler = logs.setup_logging("INFO", fmt="json", stream=buffer)
    try:
        # When a warning with a token is logged
        logging.getLogger("cf502").warning("token %s refused", BOT_TOKEN)
    finally:
        for h in (handler, console, other):
            root.removeHandler(h)
        root.setLevel(level)
    # Then it is written once, as JSON, and not a second time by the console handler
    assert len(_lines(buffer)) == 1
    assert "refused" not in capsys.readouterr().err
    # And the other handler got the redacted line
    assert "token [redacted] refused" in other_out.getvalue()
    assert BOT_TOKEN not in other_out.getvalue()
