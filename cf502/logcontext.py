"""What every log line carries, and what none may carry: the context fields and redaction.

Every line carries `job_id`, `check_id` and `target` (null when not known), taken from a context
variable that any layer binds with `log_context`. Slack tokens, URL passwords and the operator's
registered secrets are replaced by [redacted] (`redact`). How lines are written (JSON or text, one
handler on the root logger) is `cf502.ops.logs`; this module is apart so the pool layer can bind a
job's context without depending on the process's logging setup.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Final

__all__ = [
    "CONTEXT_FIELDS",
    "REDACTED",
    "bind",
    "current_context",
    "log_context",
    "redact",
    "register_secrets",
]

CONTEXT_FIELDS: Final = ("job_id", "check_id", "target")

# Bot, user, app-config and refresh tokens (xoxb-, xoxp-, xoxa-, xoxr-, xoxs-, xoxe.xoxp-, xoxe-)
# and app-level tokens (xapp-). Matched anywhere, even glued to other text, since tokens end up
# inside URLs, headers and reprs.
_TOKEN_RE: Final = re.compile(r"(?:xox[abeprs](?:\.xox[abeprs])?|xapp)-[A-Za-z0-9\-]+")
# user:password@ in URLs (redis://:secret@host, https://u:p@host): keep the user, drop the password.
_URL_PASSWORD_RE: Final = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@]*:)[^@\s/]+@")
REDACTED: Final = "[redacted]"

_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "cf502_log_context", default=MappingProxyType({})
)

# Exact secret values (signing secret, Redis password, ...) registered by `setup_logging`; tokens
# need no registration because their prefixes are recognised.
_secrets: tuple[str, ...] = ()


def register_secrets(secrets: Iterable[str]) -> None:
    """Redact these exact values from now on (replacing earlier ones); short values are ignored so
    redaction cannot shred ordinary words."""
    global _secrets
    _secrets = tuple(sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True))


def redact(text: str) -> str:
    """`text` with Slack tokens, URL passwords and registered secrets replaced by [redacted]."""
    text = _TOKEN_RE.sub(REDACTED, text)
    text = _URL_PASSWORD_RE.sub(rf"\g<head>{REDACTED}@", text)
    for secret in _secrets:
        text = text.replace(secret, REDACTED)
    return text


def current_context() -> dict[str, str]:
    return dict(_context.get())


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Add fields (job_id, check_id, target, ...) to every line logged inside the block, including
    from tasks created inside it (asyncio copies the context into new tasks)."""
    token = bind(**fields)
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: str | None) -> contextvars.Token[Mapping[str, str]]:
    """Add fields to the current context until `_context.reset(token)`; prefer `log_context`."""
    merged = dict(_context.get())
    merged.update({k: str(v) for k, v in fields.items() if v is not None})
    return _context.set(merged)
