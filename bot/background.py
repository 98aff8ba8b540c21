"""Slack work after the ack: background tasks that let a burst of acks go first, and whose
unexpected failures are logged and apologised for (users never see a traceback)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterator
from typing import Any

from bot.messenger import Messenger, Requester

__all__ = ["ACK_PRIORITY", "Background"]

log = logging.getLogger(__name__)

ACK_PRIORITY = 1.0  # longest a background task waits for a burst of acks to be answered first


class Background:
    """Runs the slow part of each request (posting, following, rerunning, watching)."""

    def __init__(self, messenger: Messenger) -> None:
        self.messenger = messenger
        self._tasks: set[asyncio.Task[None]] = set()
        self._acking = 0  # requests being acknowledged right now
        self._acks_done = asyncio.Event()
        self._acks_done.set()

    def spawn(
        self, coro: Coroutine[Any, Any, None], who: Requester | None = None
    ) -> asyncio.Task[None]:
        """Run `coro` after the ack; an unexpected error is logged and apologised for to `who`."""

        async def guarded() -> None:
            try:
                await self._after_acks()
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background Slack work failed")
                if who is not None:
                    await self.messenger.apologise(who)

        task = asyncio.create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # Cancelled before it started (a watch stopped at once): `coro` never ran; close it.
        task.add_done_callback(lambda t: coro.close() if t.cancelled() else None)
        return task

    @contextlib.contextmanager
    def acknowledging(self) -> Iterator[None]:
        """Mark a request as being acknowledged: background work waits until no request is (at
        most `ACK_PRIORITY` s), so a burst of commands is acked before their reports start."""
        self._acking += 1
        self._acks_done.clear()
        try:
            yield
        finally:
            self._acking -= 1
            if not self._acking:
                self._acks_done.set()

    async def _after_acks(self) -> None:
        if self._acking:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(ACK_PRIORITY):
                    await self._acks_done.wait()

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait for the background work started so far (tests, shutdown)."""
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    async def close(self) -> None:
        """Give running work a few seconds to finish, then cancel what is left."""
        await self.drain(timeout=5.0)
        for task in [t for t in self._tasks if not t.done()]:
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
