"""The checks' code, imported in a thread ahead of its first use, once per process.

A cold `cf502 check` spends most of its CPU importing: asyncio, dnspython and the engine on the
main thread, the checks (pyOpenSSL, cryptography, h11 ...) here. The engine starts this when its
own imports are done (two threads importing at once only slow the main one: the interpreter runs
one at a time), so it runs while the network answers; CloudFront's handshake code comes first
(`handshake`), then the origin request's (`exchange`), so the handshakes and then the requests
can start before the rest of the registry (`registry`) has loaded. A worker's later diagnoses
find all three done.

An import that fails here only ends its stage: the engine's own import then raises it.
"""

from __future__ import annotations

import sys
import threading

from cf502.ended import Ended

__all__ = ["Stage", "exchange", "handshake", "registry", "start"]

_REGISTRY = "cf502.checks.registry"


# One stage of the preload: set once its imports have ended (well or not).
Stage = Ended


handshake = Stage()
exchange = Stage()
registry = Stage()
_started = threading.Lock()
_thread: threading.Thread | None = None


def start() -> None:
    """Start the preload unless it has started or the registry is loaded already."""
    global _thread
    with _started:
        if _thread is not None:
            return
        if _REGISTRY in sys.modules and not registry.is_set():  # loaded some other way
            handshake.set()
            exchange.set()
            registry.set()
        if registry.is_set():
            return
        _thread = threading.Thread(target=_load, name="cf502-preload", daemon=True)
        _thread.start()


# While the imports run here, the main thread must still answer the network at once (a TLS
# handshake's next flight waits on it): the interpreter hands it over after 0.5 ms instead of 5.
_SWITCH_INTERVAL = 0.0005


def _load() -> None:
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, _SWITCH_INTERVAL))
    try:
        _import()
    finally:
        sys.setswitchinterval(interval)


def _import() -> None:
    try:
        import cf502.checks.tls._observe  # CloudFront's handshake first
    except Exception:  # noqa: S110 (the engine's own import raises it)
        pass
    finally:
        handshake.set()
    try:
        import cf502.checks.http._exchange  # then the origin request's
    except Exception:  # noqa: S110
        pass
    finally:
        exchange.set()
    try:
        import cf502.checks.registry  # noqa: F401
    except Exception:  # noqa: S110
        pass
    finally:
        registry.set()
