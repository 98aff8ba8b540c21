"""The form `/cf502` opens when it is given no text: the target and its CloudFront origin settings
as fields, and their answers back into the words of a `/cf502 …` command. Pure.

The answers go through the same parser as a typed command (`bot.request.parse_command`), so the
form accepts and refuses exactly what `/cf502` does, with the same one-line reasons, each shown
under the field it is about. The conversation the form was opened in travels in the view's
`private_metadata` (a view submission names no channel), and is read back strictly.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.blocks import Block
from bot.inputs import plain, policy_select, text_input, values_of
from bot.request import CommandError, Kind, Request, parse_command
from cf502.settings import OriginSettings

__all__ = [
    "CHECK_MODAL",
    "FIELDS",
    "TARGET",
    "InvalidPlace",
    "Place",
    "check_modal",
    "command_text",
    "field_of",
    "request_of",
]

CHECK_MODAL = "cf502-check-modal"  # the view's callback_id

# block ids, in the order they are shown (each input's action id is "value"), and their flags
TARGET, POLICY, HOST_HEADER, PATH, CF_DOMAIN, ORIGIN = (
    "target",
    "protocol_policy",
    "host_header",
    "path",
    "cloudfront_domain",
    "origin",
)
HTTPS_PORT, CONNECT, ATTEMPTS, READ = (
    "https_port",
    "connect_timeout",
    "connection_attempts",
    "read_timeout",
)
_FLAGS = {
    POLICY: "--protocol-policy",
    HOST_HEADER: "--host-header",
    PATH: "--path",
    CF_DOMAIN: "--cloudfront-domain",
    ORIGIN: "--origin",
    HTTPS_PORT: "--https-port",
    CONNECT: "--connect-timeout",
    ATTEMPTS: "--connection-attempts",
    READ: "--read-timeout",
}
FIELDS = (TARGET, *_FLAGS)
_CHANNEL = re.compile(r"^[CDG][A-Z0-9]{2,30}$")
_TS = re.compile(r"^\d{1,12}\.\d{1,9}$")
_MAX_ERROR = 150
_MAX_URL = 500


class InvalidPlace(ValueError):
    """The view's private metadata is not a conversation this app put there."""


@dataclass(frozen=True, slots=True)
class Place:
    """Where the form's report goes: the conversation (and thread) it was opened from, and the
    command's response URL (the private way to answer where the bot can't post)."""

    channel: str
    thread_ts: str | None = None
    in_dm: bool = False
    response_url: str | None = None

    def dumps(self) -> str:
        d: dict[str, Any] = {"c": self.channel}
        if self.thread_ts:
            d["t"] = self.thread_ts
        if self.in_dm:
            d["d"] = 1
        if self.response_url and len(self.response_url) <= _MAX_URL:
            d["r"] = self.response_url
        return json.dumps(d, separators=(",", ":"))

    @classmethod
    def loads(cls, text: object) -> Place:
        """Raises InvalidPlace unless `text` is what `dumps` wrote. (The response URL is only
        ever used if it is Slack's: `bot.poster` checks.)"""
        if not isinstance(text, str) or len(text) > _MAX_URL + 200:
            raise InvalidPlace("no conversation")
        try:
            d = json.loads(text)
        except ValueError:
            raise InvalidPlace("not cf502's") from None
        if not isinstance(d, dict) or set(d) - {"c", "t", "d", "r"}:
            raise InvalidPlace("not cf502's")
        channel, thread, dm, url = d.get("c"), d.get("t"), d.get("d", 0), d.get("r")
        if not isinstance(channel, str) or not _CHANNEL.match(channel):
            raise InvalidPlace("not a conversation")
        if thread is not None and (not isinstance(thread, str) or not _TS.match(thread)):
            raise InvalidPlace("not a thread")
        if dm not in (0, 1) or not isinstance(url, str | None):
            raise InvalidPlace("not cf502's")
        return cls(channel, thread, bool(dm), url)


def check_modal(place: Place) -> Block:
    """The form: target first, then the settings most often wrong, then the timeouts."""
    d = OriginSettings()
    return {
        "type": "modal",
        "callback_id": CHECK_MODAL,
        "private_metadata": place.dumps(),
        "title": plain("Diagnose with cf502"),
        "submit": plain("Diagnose"),
        "close": plain("Cancel"),
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "cf502 connects to the origin the way CloudFront does and says why "
                    "CloudFront would answer 502 or 504. Leave a setting empty for CloudFront's "
                    "default. The report is posted in the conversation you opened this from.",
                },
            },
            text_input(
                TARGET,
                "Origin (or site)",
                placeholder="origin.example.com, host:port or https://origin.example.com/health",
                max_length=2048,
            ),
            policy_select(POLICY, d.protocol_policy),
            text_input(
                HOST_HEADER,
                "Host header forwarded",
                hint="Only when the cache behaviour forwards the viewer's Host header.",
                optional=True,
            ),
            text_input(PATH, "Path", placeholder="/", optional=True, max_length=2048),
            text_input(
                CF_DOMAIN,
                "CloudFront domain",
                placeholder="d111111abcdef8.cloudfront.net",
                hint="Also request the site through this distribution and compare.",
                optional=True,
            ),
            text_input(
                ORIGIN,
                "Origin of the site",
                hint="When the name above is the CloudFront site: the origin it uses.",
                optional=True,
            ),
            {"type": "divider"},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "*Advanced*"}]},
            text_input(
                HTTPS_PORT, "HTTPS port", placeholder=str(d.https_port), optional=True, max_length=5
            ),
            text_input(
                CONNECT,
                "Connection timeout (s, 1-10)",
                placeholder=f"{d.connect_timeout:g}",
                optional=True,
                max_length=8,
            ),
            text_input(
                ATTEMPTS,
                "Connection attempts (1-3)",
                placeholder=str(d.connection_attempts),
                optional=True,
                max_length=2,
            ),
            text_input(
                READ,
                "Response timeout (s)",
                placeholder=f"{d.read_timeout:g}",
                optional=True,
                max_length=8,
            ),
        ],
    }


def command_text(values: Mapping[str, str]) -> str:
    """The `/cf502` text the form's answers mean (shell-quoted, so an answer stays one word)."""
    words = [values.get(TARGET, "")]
    for field, flag in _FLAGS.items():
        if field in values:
            words += [flag, values[field]]
    return shlex.join(words)


_FIELD_WORDS = (
    (("host-header", "host header"), HOST_HEADER),
    (("cloudfront-domain", "cloudfront domain"), CF_DOMAIN),
    (("connection attempts", "connection-attempts"), ATTEMPTS),
    (("connection timeout", "connect-timeout", "connect timeout"), CONNECT),
    (("response timeout", "read-timeout"), READ),
    (("https-port", "https port", "port "), HTTPS_PORT),
    (("--origin",), ORIGIN),
    (("path",), PATH),
    (("protocol",), POLICY),
)


def field_of(reason: str) -> str:
    """The field a one-line refusal is about (the target when no other one is named)."""
    low = re.sub(r"'[^']*'", "", reason.lower())  # not what was typed, only the words about it
    for words, field in _FIELD_WORDS:
        if any(w in low for w in words):
            return field
    return TARGET


def request_of(view: Mapping[str, Any]) -> Request | dict[str, str]:
    """The diagnosis a submitted form asks for, or the errors to show under its fields."""
    values = values_of(view, FIELDS)
    if TARGET not in values:
        return {TARGET: "Give the origin's name, host:port or URL."}
    try:
        req = parse_command(command_text(values))
    except CommandError as exc:
        return {field_of(str(exc)): " ".join(str(exc).split())[:_MAX_ERROR]}
    if req.kind is not Kind.CHECK:  # help or a decoding: not what the form is for
        return {TARGET: "Give the origin's name, host:port or URL."}
    return req
