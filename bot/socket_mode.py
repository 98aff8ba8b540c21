"""Socket Mode with a connection policy: a refused app token stops the bot, the rest retries.

slack_sdk's client retries `apps.connections.open` every 10 s forever whatever Slack answers,
logging a traceback each time, so a wrong `xapp-` token looked like a bot that was merely slow.
Here Slack's answer is classified: an error that a retry cannot fix (invalid_auth, missing_scope,
not_allowed_token_type, ...) becomes one `ConfigError` naming what to change, and the client
stops; an outage (network errors, HTTP 5xx, internal_error, ratelimited) retries with capped
exponential backoff and one log line per attempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import ClientError
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.web.async_client import AsyncWebClient

from cf502.errors import ConfigError

__all__ = ["BACKOFF_CAP", "TRANSIENT", "SocketClient", "SocketHandler", "refused_message"]

log = logging.getLogger(__name__)

# apps.connections.open errors that a later attempt may not get (Slack's documented list).
TRANSIENT = frozenset(
    {"ratelimited", "request_timeout", "service_unavailable", "fatal_error", "internal_error"}
)
FIRST_DELAY = 1.0
BACKOFF_CAP = 30.0


def refused_message(code: str) -> str:
    return (
        f"SLACK_APP_TOKEN was refused by Slack ({code}): set it to the app-level token (xapp-...)"
        " from Basic Information > App-Level Tokens, with the connections:write scope, and turn"
        " on Socket Mode in the app's settings (or run the bot with --http)."
    )


class _OneLine(logging.Filter):
    """slack_sdk logs each failed (re)connection with a traceback: keep the one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(exc).__name__})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


_sdk_log = logging.getLogger("bot.socket_mode.sdk")
_sdk_log.addFilter(_OneLine())
# Its INFO lines narrate every session change; the bot logs connected/stopped itself.
_sdk_log.setLevel(logging.WARNING)


class SocketClient(SocketModeClient):
    """slack_sdk's aiohttp Socket Mode client with the connection policy of the module docstring.

    `refused` holds the ConfigError once Slack refused the token; `on_refused` is called with it
    (the bot stops), and the client is closed so its own reconnect loops end."""

    def __init__(
        self,
        app_token: str,
        web_client: AsyncWebClient,
        on_refused: Callable[[ConfigError], None],
        *,
        first_delay: float = FIRST_DELAY,
        backoff_cap: float = BACKOFF_CAP,
    ) -> None:
        super().__init__(app_token=app_token, logger=_sdk_log, web_client=web_client)
        self.refused: ConfigError | None = None
        self._on_refused = on_refused
        self._first_delay = first_delay
        self._backoff_cap = backoff_cap

    async def issue_new_wss_url(self) -> str:
        attempt = 0
        while True:
            try:
                response = await self.web_client.apps_connections_open(app_token=self.app_token)
                return str(response["url"])
            except SlackApiError as exc:
                code = str(exc.response.get("error") or "error")
                if code not in TRANSIENT and exc.response.status_code < 500:
                    self.refused = ConfigError(refused_message(code))
                    self.closed = True  # ends the library's connect and reconnect loops
                    self._on_refused(self.refused)
                    raise self.refused from None
                reason = f"Slack answered {code}"
            except (SlackClientError, ClientError, OSError, TimeoutError) as exc:
                reason = type(exc).__name__
            delay = min(self._backoff_cap, self._first_delay * 2**attempt)
            attempt += 1
            log.warning(
                "cannot open the Socket Mode connection (%s); retrying in %g s", reason, delay
            )
            await asyncio.sleep(delay)


class SocketHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler, on a `SocketClient`."""

    client: SocketClient

    def __init__(
        self,
        app: AsyncApp,
        app_token: str,
        web_client: AsyncWebClient,
        on_refused: Callable[[ConfigError], None],
    ) -> None:
        # Not super().__init__: it would build (and leave open) a plain client of its own.
        self.app = app
        self.app_token = app_token
        self.client = SocketClient(app_token, web_client, on_refused)
        self.client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]
