"""`Ended`: something a thread finishes and an event loop waits for, without polling.

The start-up threads of a cold `cf502 check` (its early connections, the checks' preload) end
their work while the main thread runs an event loop; the loop waits for them here. Standard
library only (asyncio is imported by the waiter, which runs one): used before the first packet.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["Ended"]


class Ended:
    """Set once, from any thread; `wait()` from an event loop, `is_set()` from anywhere."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._set = False
        self._callbacks: list[Callable[[], None]] = []

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        with self._lock:
            if self._set:
                return
            self._set = True
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback()
            except RuntimeError:  # the waiter's event loop has closed: nobody waits any more
                pass

    async def wait(self) -> None:
        """Until `set`, without blocking the event loop."""
        if self._set:
            return
        import asyncio  # the caller's event loop has loaded it

        loop = asyncio.get_running_loop()
        ended: asyncio.Future[None] = loop.create_future()

        def end() -> None:
            if not ended.done():
                ended.set_result(None)

        def wake() -> None:  # from the thread that sets it
            loop.call_soon_threadsafe(end)

        with self._lock:
            waiting = not self._set  # (it may have been set meanwhile)
            if waiting:
                self._callbacks.append(wake)
        if waiting:
            await ended
