"""A fake Slack Web API on loopback (aiohttp, port 0) that records every call.

Point the app at it with `SLACK_API_URL=fake.url` (the client joins method names onto it). It
answers what cf502 uses (auth.test, chat.postMessage, chat.update, chat.postEphemeral,
chat.getPermalink, views.open, views.publish, apps.connections.open) with Slack's documented shapes,
keeps the modals opened (`views`: each view, with the trigger_id it was opened for), each user's
App Home (`homes`) and the latest content of each message,
serves response URLs (`fake.response_url(name)`), and can be told to fail the next calls of a
method: a Slack error (`not_in_channel`, `msg_too_long`, ...), HTTP 429 with Retry-After, or no
answer at all (`hang`).

Waiting is by condition with a deadline (`await fake.wait_for(...)`), never by sleeping.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest_asyncio
from aiohttp import web

__all__ = [
    "BOT_TOKEN",
    "BOT_USER",
    "Call",
    "FakeSlack",
    "Message",
    "SharedFile",
    "fake_slack_fixture",
    "text_of",
]

BOT_TOKEN = "xoxb-1111-2222-testtoken"
APP_TOKEN = "xapp-1-A0001-3333-testtoken"
BOT_USER = "UBOT0001"
TEAM = "T0001"


@dataclass(frozen=True, slots=True)
class Call:
    """One request the fake received: `method` is the API method or "response_url"."""

    method: str
    args: dict[str, Any]
    token: str | None
    at: float
    status: int  # the HTTP status the fake answered
    error: str | None  # the Slack error it answered, if any
    path: str = ""


@dataclass
class Message:
    """The latest content of a message the app posted."""

    channel: str
    ts: str
    thread_ts: str | None
    text: str
    blocks: list[dict[str, Any]]
    updates: int = 0
    broadcast: bool = False  # a thread reply also shown in the channel (reply_broadcast)


@dataclass(frozen=True, slots=True)
class SharedFile:
    """A file the app uploaded and shared (files.completeUploadExternal)."""

    id: str
    name: str
    title: str
    content: bytes
    channel: str | None
    thread_ts: str | None


_MESSAGES = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})
_TEXT_LIMITS = {"section": 3000, "context": 2000}


def _block_ok(block: Any) -> bool:
    """Slack's per-block limits (invalid_blocks beyond them)."""
    if not isinstance(block, dict):
        return False
    kind = block.get("type")
    if kind == "section":
        text = (block.get("text") or {}).get("text", "")
        return len(text) <= _TEXT_LIMITS["section"] and _element_ok(block.get("accessory"))
    if kind == "context":
        elements = block.get("elements") or []
        return len(elements) <= 10 and all(
            len(e.get("text", "")) <= _TEXT_LIMITS["context"] for e in elements
        )
    if kind == "actions":
        elements = block.get("elements") or []
        return len(elements) <= 25 and all(_element_ok(e) for e in elements)
    return True


def _element_ok(element: Any) -> bool:
    if not isinstance(element, dict):
        return element is None
    if len((element.get("text") or {}).get("text", "")) > 75:
        return False
    options = element.get("options") or []
    return all(len((o.get("text") or {}).get("text", "")) <= 75 for o in options)


@dataclass
class _Fault:
    error: str | None = None  # Slack error code (HTTP 200, ok=false)
    retry_after: int | None = None  # HTTP 429 with this Retry-After
    hang: bool = False  # never answer (until the fake closes)


def text_of(blocks: list[dict[str, Any]] | None) -> str:
    """All the text in blocks (sections, contexts, buttons, options), for assertions."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            text = node.get("text")
            if isinstance(text, str):
                out.append(text)
            for key, value in node.items():
                if key != "text" or not isinstance(value, str):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks or [])
    return "\n".join(out)


@dataclass
class FakeSlack:
    """See the module docstring."""

    bot_token: str = BOT_TOKEN
    app_token: str = APP_TOKEN
    ws_url: str | None = None  # what apps.connections.open answers (the fake Socket Mode server)
    calls: list[Call] = field(default_factory=list)
    messages: dict[str, Message] = field(default_factory=dict)
    views: list[dict[str, Any]] = field(default_factory=list)
    homes: dict[str, dict[str, Any]] = field(default_factory=dict)  # user -> App Home view
    files: list[SharedFile] = field(default_factory=list)  # files shared (files.uploadV2)
    # Slack refuses a message whose blocks' JSON is over about 12-13k characters
    # (msg_blocks_too_long); tests lower it to see the app's compact retry.
    max_blocks_json: int = 12_000
    _uploads: dict[str, dict[str, Any]] = field(default_factory=dict)  # file id -> upload
    port: int = 0
    _faults: dict[str, deque[_Fault]] = field(default_factory=dict)
    _cond: asyncio.Condition = field(default_factory=asyncio.Condition)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    # -- set-up -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def response_base(self) -> str:
        """The base of the fake's response URLs (the app's SLACK_RESPONSE_URL_BASE)."""
        return f"http://127.0.0.1:{self.port}/respond/"

    def response_url(self, name: str = "r") -> str:
        return f"{self.response_base}{name}"

    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_post("/respond/{name}", self._respond)
        app.router.add_post("/upload/{file_id}", self._upload)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def close(self) -> None:
        self._closing.set()  # releases the calls told to hang
        if self._runner is not None:
            await self._runner.cleanup()

    def fail(self, method: str, error: str, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with Slack error `error`."""
        self._faults.setdefault(method, deque()).extend(_Fault(error=error) for _ in range(times))

    def hang(self, method: str, times: int = 1) -> None:
        """Never answer the next `times` calls of `method` (recorded with status 0)."""
        self._faults.setdefault(method, deque()).extend(_Fault(hang=True) for _ in range(times))

    def rate_limit(self, method: str, retry_after: int = 0, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with HTTP 429 and Retry-After."""
        q = self._faults.setdefault(method, deque())
        q.extend(_Fault(retry_after=retry_after) for _ in range(times))

    # -- queries ----------------------------------------------------------------------------

    def calls_to(self, method: str, *, ok_only: bool = False) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == method and (not ok_only or (c.status == 200 and c.error is None))
        ]

    def web_api_calls(self) -> list[Call]:
        """Calls that count against Slack's rate limits (not auth.test, not response URLs)."""
        return [c for c in self.calls if c.method.startswith("chat.")]

    def thread(self, ts: str) -> list[Message]:
        """Replies in the thread of `ts`, in posting order."""
        return [m for m in self.messages.values() if m.thread_ts == ts and m.ts != ts]

    def roots(self, channel: str | None = None) -> list[Message]:
        """cf502 reports' root messages (the verdict card)."""
        return [
            m
            for m in self.messages.values()
            if any(b.get("block_id") == "verdict" for b in m.blocks)
            and (channel is None or m.channel == channel)
        ]

    async def wait_for(
        self, predicate: Callable[[FakeSlack], Any], timeout: float = 10.0, what: str = ""
    ) -> Any:
        """Wait until `predicate(self)` is truthy (returns its value) or fail after `timeout`."""
        try:
            async with asyncio.timeout(timeout):
                async with self._cond:
                    while True:
                        value = predicate(self)
                        if value:
                            return value
                        await self._cond.wait()
        except TimeoutError:
            methods = [c.method for c in self.calls]
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what or predicate}; calls: {methods}"
            ) from None

    # -- the server -------------------------------------------------------------------------

    async def _record(self, call: Call) -> None:
        async with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    async def _changed(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    @staticmethod
    async def _args(request: web.Request) -> dict[str, Any]:
        raw = await request.text()
        if request.content_type == "application/json":
            body = json.loads(raw or "{}")
            return dict(body) if isinstance(body, dict) else {}
        args: dict[str, Any] = {**dict(request.query), **dict(parse_qsl(raw))}
        for key in ("blocks", "attachments", "files"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        return args

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else args.get("token")
        fault = None
        q = self._faults.get(method)
        if q:
            fault = q.popleft()
        if fault is not None and fault.hang:
            await self._record(Call(method, args, token, time.monotonic(), 0, None))
            await self._closing.wait()
            return web.json_response({"ok": False, "error": "fake_closing"}, status=503)
        if fault is not None and fault.retry_after is not None:
            await self._record(Call(method, args, token, time.monotonic(), 429, "ratelimited"))
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(fault.retry_after)},
            )
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        error = fault.error if fault is not None else None
        if error is None and method in _MESSAGES:
            error = self.refusal(args)
        if token != expected:
            error = "invalid_auth"
        await self._record(Call(method, args, token, time.monotonic(), 200, error))
        if error is not None:
            return web.json_response({"ok": False, "error": error})
        if method.startswith("files."):  # files.uploadV2's two methods
            body = await self._files(method, args)
        else:
            body = await self._answer(method, args)
        return web.json_response(body)

    async def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://test.slack.com/",
                "team": "Test",
                "user": "cf502",
                "team_id": TEAM,
                "user_id": BOT_USER,
                "bot_id": "B0001",
                "is_enterprise_install": False,
            }
        if method == "apps.connections.open":
            return {"ok": True, "url": self.ws_url}
        if method == "chat.postMessage":
            ts = self._next_ts()
            channel = str(args.get("channel"))
            self.messages[ts] = Message(
                channel,
                ts,
                args.get("thread_ts"),
                str(args.get("text", "")),
                args.get("blocks") or [],
                broadcast=bool(args.get("thread_ts") and args.get("reply_broadcast")),
            )
            await self._changed()
            return {
                "ok": True,
                "channel": channel,
                "ts": ts,
                "message": {"ts": ts, "type": "message"},
            }
        if method == "chat.update":
            ts = str(args.get("ts"))
            msg = self.messages.get(ts)
            if msg is None or msg.channel != args.get("channel"):
                return {"ok": False, "error": "message_not_found"}
            msg.text, msg.blocks = str(args.get("text", "")), args.get("blocks") or []
            msg.updates += 1
            await self._changed()
            return {"ok": True, "channel": msg.channel, "ts": ts, "text": msg.text}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "chat.getPermalink":
            ts, channel = str(args.get("message_ts")), str(args.get("channel"))
            msg = self.messages.get(ts)
            if msg is None or msg.channel != channel:
                return {"ok": False, "error": "message_not_found"}
            link = f"https://test.slack.com/archives/{channel}/p{ts.replace('.', '')}"
            if msg.thread_ts and msg.thread_ts != ts:
                link += f"?thread_ts={msg.thread_ts}&cid={channel}"
            return {"ok": True, "channel": channel, "permalink": link}
        if method == "views.publish":
            view = args.get("view")
            if not args.get("user_id") or not isinstance(view, dict):
                return {"ok": False, "error": "invalid_arguments"}
            self.homes[str(args["user_id"])] = view
            await self._changed()
            return {"ok": True, "view": {**view, "id": f"VH{len(self.homes):07d}"}}
        if method == "views.open":
            view = args.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            if not args.get("trigger_id") or not isinstance(view, dict):
                return {"ok": False, "error": "invalid_arguments"}
            view_id = f"V{len(self.views) + 1:08d}"
            self.views.append({**view, "id": view_id, "trigger_id": args["trigger_id"]})
            await self._changed()
            return {"ok": True, "view": {**view, "id": view_id}}
        return {"ok": False, "error": "unknown_method"}

    async def _respond(self, request: web.Request) -> web.Response:
        args = await self._args(request)
        name = request.match_info["name"]
        error = self.refusal(args)
        status = 400 if error else 200
        await self._record(
            Call("response_url", args, None, time.monotonic(), status, error, path=name)
        )
        return web.Response(text=error or "ok", status=status)

    def refusal(self, args: dict[str, Any]) -> str | None:
        """The error Slack answers for a message over its limits, or None."""
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if len(str(args.get("text") or "")) > 40_000:
            return "msg_too_long"
        if not blocks:
            return None
        if len(blocks) > 50 or any(not _block_ok(b) for b in blocks):
            return "invalid_blocks"
        if len(json.dumps(blocks)) > self.max_blocks_json:
            return "msg_blocks_too_long"
        return None

    async def _upload(self, request: web.Request) -> web.Response:
        """The upload URL files.getUploadURLExternal gave: keeps the bytes for the file id."""
        file_id = request.match_info["file_id"]
        body = await request.read()
        pending = self._uploads.get(file_id)
        if pending is None:
            return web.Response(status=404, text="unknown upload")
        pending["content"] = body
        await self._record(Call("upload", {"file_id": file_id}, None, time.monotonic(), 200, None))
        return web.Response(text=f"OK - {len(body)}")

    def _upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("filename") or not str(args.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{len(self._uploads) + 1:08d}"
        self._uploads[file_id] = {"filename": str(args["filename"]), "content": None}
        return {
            "ok": True,
            "upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}",
            "file_id": file_id,
        }

    async def _files(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "files.getUploadURLExternal":
            return self._upload_url(args)
        if method == "files.completeUploadExternal":
            return await self._complete_upload(args)
        return {"ok": False, "error": "unknown_method"}

    async def _complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        entries = args.get("files")
        if not isinstance(entries, list) or not entries:
            return {"ok": False, "error": "invalid_arguments"}
        shared: list[SharedFile] = []
        for entry in entries:
            pending = self._uploads.get(str(entry.get("id")))
            if pending is None or pending["content"] is None:
                return {"ok": False, "error": "file_not_found"}
            shared.append(
                SharedFile(
                    str(entry["id"]),
                    pending["filename"],
                    str(entry.get("title") or pending["filename"]),
                    bytes(pending["content"]),
                    args.get("channel_id"),
                    args.get("thread_ts"),
                )
            )
        self.files.extend(shared)
        await self._changed()
        return {
            "ok": True,
            "files": [{"id": f.id, "name": f.name, "title": f.title} for f in shared],
        }


@pytest_asyncio.fixture(name="fake_slack")
async def fake_slack_fixture() -> AsyncIterator[FakeSlack]:
    """`fake_slack`: a fresh fake Slack Web API for one test."""
    fake = await FakeSlack().start()
    try:
        yield fake
    finally:
        await fake.close()
