"""Structured logs: one JSON object per line in production, readable lines in a terminal.

Every line carries `job_id`, `check_id` and `target` (null when not known), taken from the context
`cf502.logcontext.log_context` binds, so a diagnosis can be followed across the bot and the workers
with one filter. Slack tokens, URL passwords and the operator's registered secrets are redacted from
every line, whatever logger or library wrote it.

    setup_logging()                       # once, at process start
    with log_context(job_id=job.job_id, target=host):
        log.info("job started")           # {"ts": ..., "event": "job started", "job_id": ..., ...}
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterable
from typing import Any, Final, TextIO

from cf502.logcontext import CONTEXT_FIELDS, current_context, redact, register_secrets

__all__ = [
    "ContextFilter",
    "HumanFormatter",
    "JsonFormatter",
    "RedactingFilter",
    "setup_logging",
]

# LogRecord's own attributes: anything else on a record came from `extra=` and becomes a field.
_BLANK_RECORD: Final = logging.LogRecord("", 0, "", 0, "", None, None)
_RECORD_ATTRS: Final = frozenset(
    {*_BLANK_RECORD.__dict__, "message", "asctime", "taskName", *CONTEXT_FIELDS}
)


class ContextFilter(logging.Filter):
    """Copies the context fields onto each record (an explicit `extra=` value wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = current_context()
        for name in CONTEXT_FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, ctx.get(name))
        for name, value in ctx.items():
            if name not in CONTEXT_FIELDS and not hasattr(record, name):
                setattr(record, name, value)
        return True


class RedactingFilter(logging.Filter):
    """Renders the message with its arguments, redacted, so no handler sees a token.

    The formatters redact their whole output again (tracebacks, extra fields), so a record that
    bypasses this filter is still safe once formatted by cf502.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad %-format must not lose the line
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        return True


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRS}


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, event, job_id, check_id, target, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _iso_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            entry[name] = getattr(record, name, None)
        for key, value in _extra_fields(record).items():
            entry.setdefault(key, _json_safe(value))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        # json.dumps escapes newlines, so a multi-line message or traceback stays one line.
        return redact(json.dumps(entry, ensure_ascii=False, default=str))


class HumanFormatter(logging.Formatter):
    """`12:00:01 INFO  cf502.worker  job started  job_id=ab12 target=origin.example.com`."""

    def format(self, record: logging.LogRecord) -> str:
        clock = time.strftime("%H:%M:%S", time.localtime(record.created))
        fields = {name: getattr(record, name, None) for name in CONTEXT_FIELDS}
        fields.update(_extra_fields(record))
        tail = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        line = f"{clock} {record.levelname:<7} {record.name}  {record.getMessage()}"
        if tail:
            line = f"{line}  {tail}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return redact(line)


def _iso_time(created: float) -> str:
    millis = int((created % 1) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{millis:03d}Z"


def setup_logging(
    level: str | int | None = None,
    *,
    fmt: str | None = None,
    stream: TextIO | None = None,
    secrets: Iterable[str] = (),
) -> logging.Handler:
    """Route every logger through one handler on the root logger, replacing earlier cf502 setup.

    level: a level name or number; default $CF502_LOG_LEVEL or INFO.
    fmt: "json", "text" or "auto" (text when the stream is a terminal); default $CF502_LOG_FORMAT
        or auto.
    secrets: exact values to redact (signing secret, passwords); short values are ignored so
        redaction cannot shred ordinary words.
    """
    out = stream if stream is not None else sys.stderr
    chosen = (fmt or os.environ.get("CF502_LOG_FORMAT") or "auto").lower()
    if chosen not in ("json", "text", "auto"):
        chosen = "auto"
    as_json = chosen == "json" or (chosen == "auto" and not _isatty(out))
    resolved = level if level is not None else os.environ.get("CF502_LOG_LEVEL", "INFO")
    if isinstance(resolved, str):
        resolved = logging.getLevelName(resolved.upper())
        if not isinstance(resolved, int):
            resolved = logging.INFO
    register_secrets(secrets)

    handler = logging.StreamHandler(out)
    handler.set_name("cf502")
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if as_json else HumanFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        # Replace an earlier setup and plain console handlers (logging.basicConfig's), which
        # would print every line a second time, unredacted.
        console = type(old) is logging.StreamHandler and old.stream in (sys.stderr, sys.stdout)
        if old.get_name() == "cf502" or console:
            root.removeHandler(old)
        elif not any(isinstance(f, RedactingFilter) for f in old.filters):
            old.addFilter(RedactingFilter())  # other handlers (files, test capture) redact too
    root.addHandler(handler)
    root.setLevel(resolved)
    return handler


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
