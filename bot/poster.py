"""The only place that writes messages to Slack: chat.postMessage, chat.update, chat.postEphemeral,
views.open, views.publish (App Home), chat.getPermalink and response URLs.

Slack's faults become `PostError(code)` with Slack's own error code, so callers can tell "the bot
is not in this channel" (tell the user how to invite it) from "the message is too long" (retry with
the compact layout). 429 + Retry-After is honoured by the client's retry handlers (`make_client`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.budget import COMPACT_JSON, Block, fit, fit_text, size
from cf502.ops.metrics import record_slack_call

__all__ = [
    "NOT_POSTABLE",
    "SLACK_RESPONSE_BASE",
    "TOO_LONG",
    "PostError",
    "Poster",
    "Upload",
    "is_response_url",
    "make_client",
]

log = logging.getLogger(__name__)

# The bot can't write in this conversation: tell the requester how to fix it.
NOT_POSTABLE = frozenset(
    {"not_in_channel", "channel_not_found", "is_archived", "restricted_action", "ekm_access_denied"}
)
# The message is over one of Slack's size limits: retry with the compact layout.
TOO_LONG = frozenset({"msg_too_long", "msg_blocks_too_long", "invalid_blocks", "too_many_blocks"})
COMPACT_NOTE = "✂ Shortened: Slack found the full message too long."
RETRIES = 3  # smaller and smaller compact layouts after a too-long answer
TIMEOUT = 10  # seconds per Web API call (retries come on top)
# Where Slack's response URLs live; anything else in a payload's `response_url` is not Slack's.
SLACK_RESPONSE_BASE = "https://hooks.slack.com/"


@dataclass(frozen=True, slots=True)
class Upload:
    """A text file to attach to a thread."""

    filename: str
    content: str
    title: str


def _bodies(
    blocks: Sequence[Block] | None, compact: Sequence[Block] | None
) -> list[list[Block] | None]:
    """The blocks to send, then the ones to retry with when Slack finds them too long: the
    caller's compact layout (else the same blocks) held to tighter and tighter budgets. Every
    body is held to the budget first (`budget.fit`), whatever built it."""
    if blocks is None:
        return [None]
    first = fit(blocks)
    bodies: list[list[Block] | None] = [first]
    # Slack's real limit is not published: each retry is well under what was refused.
    limit = min(COMPACT_JSON, size(first) * 2 // 3)
    for _ in range(RETRIES):
        bodies.append(fit(compact or first, limit=limit, note=COMPACT_NOTE))
        limit = limit * 2 // 3
    return bodies


class PostError(Exception):
    """A Slack Web API call failed; `code` is Slack's error code (or "http_error")."""

    def __init__(self, code: str, method: str) -> None:
        super().__init__(f"{method} failed: {code}")
        self.code = code
        self.method = method


def make_client(token: str, base_url: str) -> AsyncWebClient:
    """The Web API client: honours 429 Retry-After (3 retries) and retries connection errors."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        timeout=TIMEOUT,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


def is_response_url(url: object, bases: Iterable[str] = (SLACK_RESPONSE_BASE,)) -> bool:
    """True when `url` is under one of `bases` (same scheme and host, path below the base's)."""
    if not isinstance(url, str) or not url.isascii() or not url.isprintable() or "\\" in url:
        return False
    try:
        parts = urlsplit(url)
        for base in bases:
            want = urlsplit(base)
            if (
                parts.scheme == want.scheme
                and parts.netloc.lower() == want.netloc.lower()
                and parts.path.startswith(want.path)
                and "/../" not in parts.path
            ):
                return True
    except ValueError:
        return False
    return False


def _code(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        try:
            return str(exc.response.get("error") or f"http_{exc.response.status_code}")
        except Exception:  # a malformed error response still needs a code
            return "http_error"
    return "http_error"


class Poster:
    """Writes to Slack on behalf of the reports; counts its Web API calls (for the budget)."""

    def __init__(self, client: AsyncWebClient, response_bases: Iterable[str] = ()) -> None:
        self.client = client
        self.calls = 0
        self.response_bases = (SLACK_RESPONSE_BASE, *response_bases)

    async def post(
        self,
        channel: str,
        blocks: Sequence[Block],
        text: str,
        *,
        thread_ts: str | None = None,
        compact: Sequence[Block] | None = None,
        broadcast: bool = False,
    ) -> str:
        """Post a message (in a thread when `thread_ts`; also shown in the channel with
        `broadcast`); returns its ts. Raises PostError."""
        kwargs: dict[str, Any] = {"channel": channel, "text": text, "unfurl_links": False}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
            if broadcast:
                kwargs["reply_broadcast"] = True
        resp = await self._call("chat.postMessage", kwargs, blocks, compact)
        return str(resp["ts"])

    async def update(
        self,
        channel: str,
        ts: str,
        blocks: Sequence[Block],
        text: str,
        *,
        compact: Sequence[Block] | None = None,
    ) -> None:
        """Replace a message's content. Raises PostError."""
        await self._call(
            "chat.update", {"channel": channel, "ts": ts, "text": text}, blocks, compact
        )

    async def ephemeral(
        self, channel: str, user: str, text: str, *, thread_ts: str | None = None
    ) -> None:
        """A message only `user` sees. Failures are logged, never raised: it is only a hint."""
        kwargs: dict[str, Any] = {"channel": channel, "user": user, "text": fit_text(text)}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        try:
            await self._call("chat.postEphemeral", kwargs, None, None)
        except PostError as exc:
            log.warning("could not send an ephemeral message: %s", exc.code)

    async def respond(
        self,
        response_url: str,
        text: str,
        *,
        blocks: Sequence[Block] | None = None,
        in_channel: bool = False,
        replace_original: bool = False,
    ) -> bool:
        """Answer through an interaction's response URL (works where the bot can't post).

        Only Slack's own response URLs are used: the bot never sends to an address a payload
        names unless it is Slack's (False, nothing sent, for any other)."""
        if not is_response_url(response_url, self.response_bases):
            log.warning("ignored a response_url that is not Slack's")
            return False
        hook = AsyncWebhookClient(response_url, timeout=TIMEOUT)
        for body in _bodies(blocks, None):
            try:
                resp = await hook.send(
                    text=fit_text(text),
                    blocks=body,
                    response_type="in_channel" if in_channel else "ephemeral",
                    replace_original=replace_original,
                )
            except Exception as exc:  # network trouble: the answer is lost, the app goes on
                log.warning("response_url failed: %s", type(exc).__name__)
                return False
            if resp.status_code == 200:
                return True
            if body is None or resp.body.strip() not in TOO_LONG:
                break
            log.info("response_url: %s; retrying with the compact layout", resp.body.strip())
        log.warning("response_url answered HTTP %s", resp.status_code)
        return False

    async def upload(
        self, channel: str, thread_ts: str, files: Sequence[Upload], *, comment: str = ""
    ) -> None:
        """Attach `files` (text) to the thread of `thread_ts` in one message (files.uploadV2:
        files.getUploadURLExternal, the upload, files.completeUploadExternal). Raises PostError."""
        self.calls += 1
        try:
            await self.client.files_upload_v2(
                file_uploads=[
                    {"content": f.content, "filename": f.filename, "title": f.title} for f in files
                ],
                channel=channel,
                thread_ts=thread_ts,
                initial_comment=fit_text(comment) if comment else None,
            )
            record_slack_call("files.upload")
        except SlackApiError as exc:
            record_slack_call("files.upload", _code(exc))
            raise PostError(_code(exc), "files.upload") from None
        except (SlackClientError, OSError, TimeoutError) as exc:
            record_slack_call("files.upload", type(exc).__name__)
            raise PostError(f"http_error ({type(exc).__name__})", "files.upload") from None

    async def open_view(self, trigger_id: str, view: Block) -> None:
        """Open a modal for the click that gave `trigger_id` (valid 3 s). Raises PostError."""
        await self._plain("views.open", {"trigger_id": trigger_id, "view": view})

    async def publish_view(self, user: str, view: Block) -> None:
        """Show `view` as `user`'s App Home tab. Raises PostError."""
        await self._plain("views.publish", {"user_id": user, "view": view})

    async def permalink(self, channel: str, ts: str) -> str:
        """The link to message `ts` (threads included). Raises PostError."""
        resp = await self._plain("chat.getPermalink", {"channel": channel, "message_ts": ts})
        link = resp.get("permalink")
        if not isinstance(link, str) or not link.startswith("https://"):
            raise PostError("no_permalink", "chat.getPermalink")
        return link

    async def _plain(self, method: str, args: dict[str, Any]) -> Any:
        self.calls += 1
        try:
            resp = await self.client.api_call(method, json=args)
            record_slack_call(method)
            return resp
        except SlackApiError as exc:
            record_slack_call(method, _code(exc))
            raise PostError(_code(exc), method) from None
        except (SlackClientError, OSError, TimeoutError) as exc:
            record_slack_call(method, type(exc).__name__)
            raise PostError(f"http_error ({type(exc).__name__})", method) from None

    async def _call(
        self,
        method: str,
        kwargs: dict[str, Any],
        blocks: Sequence[Block] | None,
        compact: Sequence[Block] | None,
    ) -> Any:
        if "text" in kwargs:
            kwargs = {**kwargs, "text": fit_text(str(kwargs["text"]))}
        attempts = _bodies(blocks, compact)
        for i, body in enumerate(attempts):
            args = dict(kwargs)
            if body is not None:
                args["blocks"] = body
            self.calls += 1
            try:
                resp = await self.client.api_call(method, json=args)
                record_slack_call(method)
                return resp
            except SlackApiError as exc:
                code = _code(exc)
                record_slack_call(method, code)
                if code in TOO_LONG and i + 1 < len(attempts):
                    log.info("%s: %s; retrying with the compact layout", method, code)
                    continue
                raise PostError(code, method) from None
            except (SlackClientError, OSError, TimeoutError) as exc:
                record_slack_call(method, type(exc).__name__)
                raise PostError(f"http_error ({type(exc).__name__})", method) from None
        raise PostError("unreachable", method)  # pragma: no cover
