"""Errors cf502 raises on purpose. Each message is one sentence a user can act on.

* Cf502Error
  + InvalidTarget       the typed target is not a usable CloudFront origin name
  + InvalidSetting      an origin setting or option is out of CloudFront's range
  + TargetNotAllowed    the target resolves to a blocked (private, loopback, ...) address
  + ConfigError         the operator's configuration (environment, .env) is missing or malformed
  + QueueError          the job queue (Redis) cannot take or deliver the job
"""

from __future__ import annotations

__all__ = [
    "Cf502Error",
    "ConfigError",
    "InvalidSetting",
    "InvalidTarget",
    "QueueError",
    "TargetNotAllowed",
    "error_line",
]


class Cf502Error(Exception):
    """Base class: every error whose message is safe and meant to be shown to the user."""


class InvalidTarget(Cf502Error):
    """Raised when the typed target cannot be a CloudFront custom origin."""


class InvalidSetting(Cf502Error):
    """Raised when an origin setting is outside what CloudFront accepts."""


class TargetNotAllowed(Cf502Error):
    """Raised when the target resolves to an address the safety policy blocks."""


class ConfigError(Cf502Error):
    """Raised when the operator's configuration is missing or malformed."""


class QueueError(Cf502Error):
    """Raised when the job queue cannot accept or deliver a job."""


def error_line(message: str) -> str:
    """The line every cf502 command prints for an error it explains: `cf502: error: Sentence.`"""
    text = " ".join(str(message).split())
    if text[:1].islower():
        text = text[0].upper() + text[1:]
    if text and text[-1] not in ".!?":
        text += "."
    return f"cf502: error: {text}\n"
