"""`cf502.checks.preload`: the checks' code imported in a thread, CloudFront's handshake first.

What it does to a process (a thread, the interpreter's switch interval, `sys.modules`) is seen in
a fresh interpreter, where nothing is loaded yet; `Stage` itself is tried here.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from cf502.checks.preload import Stage

ROOT = Path(__file__).resolve().parents[2]
HANDSHAKE = "cf502.checks.tls._observe"
REGISTRY = "cf502.checks.registry"
INTERVAL = 0.004  # the fresh interpreter's switch interval before the preload (not the default)

# A fresh interpreter: a finder that only looks notes the switch interval and the thread when
# each stage's module is imported; Thread.start is counted; the stages are awaited from asyncio.
_PRELUDE = f"""
import asyncio, json, sys, threading
sys.setswitchinterval({INTERVAL})
seen = {{}}
FAIL = set(sys.argv[1:])

class Look:
    def find_spec(self, name, path=None, target=None):
        if name in ({HANDSHAKE!r}, {REGISTRY!r}):
            seen.setdefault(name, (sys.getswitchinterval(), threading.current_thread().name))
        if name in FAIL:
            raise ImportError(name)
        return None

sys.meta_path.insert(0, Look())
started = []
_start = threading.Thread.start
def start(self):
    started.append(self.name)
    _start(self)
threading.Thread.start = start
from cf502.checks import preload
"""

_LOAD = """
fresh = {REGISTRY!r} not in sys.modules and {HANDSHAKE!r} not in sys.modules
preload.start()
first = preload._thread
preload.start()
second = preload._thread

async def stages():
    async with asyncio.timeout(60):
        await preload.handshake.wait()
        handshake = {HANDSHAKE!r} in sys.modules
        await preload.registry.wait()
        await preload.registry.wait()  # done: at once
        return handshake

handshake_loaded = asyncio.run(stages())
first.join(10)
print(json.dumps(dict(
    fresh=fresh,
    same_thread=first is second,
    started=started,
    handshake_loaded=handshake_loaded,
    registry_loaded={REGISTRY!r} in sys.modules,
    done=[preload.handshake.is_set(), preload.registry.is_set()],
    alive=first.is_alive(),
    interval=sys.getswitchinterval(),
    seen=seen,
)))
""".replace("{REGISTRY!r}", repr(REGISTRY)).replace("{HANDSHAKE!r}", repr(HANDSHAKE))

_LOADED = f"""
import {REGISTRY}
preload.start()
preload.start()

async def stages():
    async with asyncio.timeout(5):
        await preload.handshake.wait()
        await preload.registry.wait()

asyncio.run(stages())
print(json.dumps(dict(
    thread=preload._thread is not None,
    started=started,
    done=[preload.handshake.is_set(), preload.registry.is_set()],
    interval=sys.getswitchinterval(),
)))
"""


def _fresh(script: str, *failing: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _PRELUDE + script, *failing],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_start_loads_the_handshake_then_the_registry_in_one_thread() -> None:
    # Given a fresh interpreter, When the preload is started twice and its stages awaited
    got = _fresh(_LOAD)
    assert got["fresh"]
    # Then one thread was started, the same both times, and it has ended
    assert got["started"] == ["cf502-preload"]
    assert got["same_thread"] and not got["alive"]
    # And both stages are done, the handshake's code loaded when its stage was
    assert got["done"] == [True, True]
    assert got["handshake_loaded"] and got["registry_loaded"]
    # And both were imported in that thread with the short switch interval
    for name in (HANDSHAKE, REGISTRY):
        assert got["seen"][name] == [0.0005, "cf502-preload"], got["seen"]
    # And the interpreter's own interval is back
    assert got["interval"] == INTERVAL


def test_an_import_that_fails_only_ends_its_stage() -> None:
    # Given the handshake's module (and so the registry, which needs it) failing to import
    got = _fresh(_LOAD, HANDSHAKE)
    # Then both stages end all the same (the engine's own import raises it), and the interval is
    # restored
    assert got["done"] == [True, True]
    assert not got["handshake_loaded"] and not got["registry_loaded"]
    assert got["started"] == ["cf502-preload"] and not got["alive"]
    assert got["interval"] == INTERVAL


def test_a_registry_already_imported_marks_both_stages_done_without_a_thread() -> None:
    got = _fresh(_LOADED)
    assert got == {
        "thread": False,
        "started": [],
        "done": [True, True],
        "interval": INTERVAL,
    }


# --- Stage --------------------------------------------------------------------------------------


async def test_wait_ends_when_another_thread_finishes_the_stage() -> None:
    stage = Stage()
    waiter = asyncio.ensure_future(stage.wait())
    finished, _ = await asyncio.wait({waiter}, timeout=0.05)
    assert finished == set() and not stage.is_set()
    threading.Thread(target=stage.set).start()
    await asyncio.wait_for(waiter, 5)
    assert stage.is_set()


async def test_wait_on_a_done_stage_returns_at_once() -> None:
    stage = Stage()
    stage.set()
    await asyncio.wait_for(stage.wait(), 0.5)
    stage.set()  # again: nothing
    assert stage.is_set()


def test_finishing_after_a_waiters_loop_closed_does_not_raise() -> None:
    # Given a waiter that gave up, and whose event loop is gone
    stage = Stage()

    async def give_up() -> None:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await stage.wait()

    asyncio.run(give_up())
    # When the stage finishes, Then nothing is raised to the loading thread
    stage.set()
    assert stage.is_set()
