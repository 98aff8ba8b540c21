"""Parse `/cf502 …` and `@cf502 check …` text into a request. Pure: no I/O, no Slack client.

The options are the CLI's CloudFront origin options (`cf502.options.add_origin_options`), so the
terminal and Slack accept the same things; every operator-only setting's flag (`cf502.settings`)
is refused by name.
"""

from __future__ import annotations

import functools
import shlex
from dataclasses import dataclass
from enum import StrEnum

from bot.mrkdwn import entities
from bot.slacktext import plain_text
from cf502.checks import BY_ID
from cf502.decode import Decoding, NotRecognised, decode
from cf502.engine import selection
from cf502.errors import Cf502Error
from cf502.options import OptionParser, UsageError, add_origin_options, diagnosis_of
from cf502.settings import OPERATOR_ONLY, OriginSettings
from cf502.target import Target

__all__ = [
    "USAGE",
    "CommandError",
    "Kind",
    "Request",
    "help_text",
    "parse_command",
    "parse_mention",
]

USAGE = "/cf502 <origin> [--host-header NAME] [--protocol-policy …] [--path /p] [options]"
MAX_TEXT = 4000
MAX_PASTE = 40_000  # a Slack message's limit: a pasted block of log lines may be that long
# Never from a chat message: whoever runs the cf502 service sets these.
_OPERATOR_FLAGS = frozenset(s.flag for s in OPERATOR_ONLY if s.flag is not None)


class CommandError(Cf502Error):
    """Raised when command text cannot be turned into a diagnosis request (one line, user-safe)."""


class Kind(StrEnum):
    CHECK = "check"
    HELP = "help"
    DECODE = "decode"


@dataclass(frozen=True, slots=True)
class Request:
    """A parsed request.

    Attributes:
        kind: check, help or decode.
        target / origin / only: what to diagnose (None for help).
        check_ids / titles: the checks that will be reported, in registry order.
        decoding: what a pasted log line, header value or error page means (decode only).
    """

    kind: Kind
    target: Target | None = None
    origin: OriginSettings | None = None
    only: tuple[str, ...] = ()
    check_ids: tuple[str, ...] = ()
    titles: tuple[tuple[str, str], ...] = ()
    decoding: Decoding | None = None


@functools.cache
def _parser() -> OptionParser:
    # Built once: parse_args keeps no state in the parser, and building one costs more than a
    # whole parse (it is on the path to the 3-second ack).
    parser = OptionParser(prog="/cf502", add_help=False, allow_abbrev=False)
    parser.add_argument("target")
    add_origin_options(parser)
    return parser


def _tokens(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise CommandError(f"Could not read the options: {exc}.") from None


def _unfenced(text: str) -> str:
    """Pasted text without the code fences or backticks it was wrapped in."""
    out = text.replace("```", "\n").strip()
    if len(out) > 1 and out[0] == out[-1] == "`":
        out = out[1:-1]
    return out


def _decode_request(text: str) -> Request:
    """`decode TEXT`: what TEXT means; CommandError (one line) when decode does not read it."""
    try:
        return Request(Kind.DECODE, decoding=decode(_unfenced(text)))
    except NotRecognised as exc:
        raise CommandError(str(exc)) from None


def _pasted(text: str) -> Request | None:
    """A decode request when `text` (without a verb) is something decode reads, else None."""
    try:
        return _decode_request(text)
    except CommandError:
        return None


def _too_long(text: str) -> None:
    if len(text) > MAX_PASTE:
        raise CommandError(f"The text is {len(text)} characters long; {MAX_PASTE} at most.")


def parse_command(text: str) -> Request:
    """Slash-command text (`origin.example.com --path /health`, `decode …`, or a pasted log
    line, header value or error page) into a Request.

    Raises CommandError with a one-line reason; the caller adds the usage line.
    """
    _too_long(text)
    plain = plain_text(text)
    words = plain.split(None, 1)
    if words and words[0].lower() == "decode":
        return _decode_request(words[1] if len(words) > 1 else "")
    try:
        return _check_request(text)
    except CommandError:
        # Not a check: a log line or an X-Cache value pasted without `decode` still gets read.
        pasted = _pasted(plain)
        if pasted is None:
            raise
        return pasted


def _check_request(text: str) -> Request:
    if len(text) > MAX_TEXT:
        raise CommandError(f"The command is {len(text)} characters long; {MAX_TEXT} at most.")
    words = _tokens(plain_text(text))
    if not words or words[0].lower() in ("help", "-h", "--help", "?"):
        return Request(Kind.HELP)
    for word in words:
        name = word.split("=", 1)[0]
        if name in _OPERATOR_FLAGS:
            raise CommandError(
                f"{name} is an operator setting of the cf502 service and can't be set from Slack."
            )
    if words[0].startswith("-"):
        raise CommandError("Give the origin first, e.g. `/cf502 origin.example.com --path /`.")
    try:
        args = _parser().parse_args(words)
        target, origin = diagnosis_of(args.target, args)
        only = tuple(dict.fromkeys(args.only or ()))
        _, reported = selection(only, origin)
    except UsageError as exc:
        raise CommandError(str(exc)) from None
    except Cf502Error as exc:  # InvalidTarget, InvalidSetting: already one user-facing line
        raise CommandError(str(exc)) from None
    ids = tuple(c for c in BY_ID if c in reported)
    return Request(
        Kind.CHECK,
        target=target,
        origin=origin,
        only=only,
        check_ids=ids,
        titles=tuple((c, BY_ID[c].title) for c in ids),
    )


def parse_mention(text: str) -> Request:
    """Mention text with the bot's own mention already removed: `check <origin> [options]`,
    `decode …`, or a pasted log line, header value or error page."""
    stripped = text.strip()
    words = stripped.split(None, 1)
    if not words or plain_text(words[0]).lower() in ("help", "?", "hi", "hello"):
        return Request(Kind.HELP)
    verb = plain_text(words[0]).lower()
    if verb == "decode":
        _too_long(text)
        return _decode_request(plain_text(words[1] if len(words) > 1 else ""))
    if verb not in ("check", "diagnose", "test"):
        _too_long(text)
        pasted = _pasted(plain_text(stripped))
        if pasted is not None:
            return pasted
        raise CommandError(
            f"I don't know {words[0][:40]!r}; say `@cf502 check origin.example.com [options]`."
        )
    rest = words[1] if len(words) > 1 else ""
    if not rest.strip():
        raise CommandError("Which origin? Say `@cf502 check origin.example.com`.")
    return parse_command(rest)


def help_text(prefix: str = "/cf502") -> str:
    """Usage and options (mrkdwn). The same for the slash command and for mentions; its
    `<origin>`-style placeholders are entities, or Slack would read them as link markup."""
    return entities(_help(prefix))


def _help(prefix: str) -> str:
    checks = ", ".join(f"`{c}`" for c in BY_ID)
    return (
        "*cf502* tells you why CloudFront answers 502/504 for your origin, by connecting to it "
        "the way CloudFront does.\n"
        f"*Usage:* `{prefix} <origin> [options]` (origin: `host`, `host:port` or a URL), "
        "or mention me: `@cf502 check <origin> [options]` — in a thread, the report goes there.\n"
        "*Options* (the CloudFront origin settings; defaults are CloudFront's):\n"
        "• `--protocol-policy https-only|http-only|match-viewer` · "
        "`--https-port N` · `--http-port N`\n"
        "• `--host-header NAME` (when the Host header is forwarded) · `--path /p` · "
        "`--cloudfront-domain dxxxx.cloudfront.net`\n"
        f"• `{prefix} www.example.com --origin NAME`: the site is CloudFront's; diagnose NAME as "
        "its origin (with the options above) and compare\n"
        "• `--connect-timeout S` · `--connection-attempts N` · `--read-timeout S` · "
        "`--origin-ssl-protocols TLSv1.2,TLSv1.1` · `--origin-mtls` · `--expiry-warn-days N`\n"
        f"• `--only CHECK_ID` (repeatable). Checks: {checks}\n"
        "• `/cf502 decode <log line | X-Cache value | result type | error page>` explains what "
        "CloudFront logged or answered, and which check confirms it (or paste it in a mention)\n"
        "Example: `/cf502 origin.example.com --host-header www.example.com --path /health`"
    )
