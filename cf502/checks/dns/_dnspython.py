"""dnspython, loaded without `importlib.metadata` (imported by this package before any `dns.*`).

When `dns.name` is imported, dnspython decides its optional features (IDNA 2008 through the
`idna` package; DNS over HTTPS) by reading installed versions with `importlib.metadata`, which
brings `email`, `zipfile`, `csv`, `pathlib` and `tempfile` with it: about a sixth of a cold
`cf502 check`'s CPU before its first handshake. cf502 answers those two questions itself, through
dnspython's own `dns._features.force`: IDNA 2008 when `idna` is installed (as dnspython would),
DNS over HTTPS never (cf502 does not use it). The features dnspython asks about only on use
(DNSSEC, DoQ, trio) read as absent unless `importlib.metadata` is loaded by then; cf502 uses none.
"""

from __future__ import annotations

import sys
import types
from importlib.util import find_spec

__all__ = ["load_features"]


def load_features() -> None:
    """Decide dnspython's import-time features, unless dnspython (or the metadata) is loaded."""
    if "dns._features" in sys.modules or "importlib.metadata" in sys.modules:
        return  # nothing to save, or too late to decide: dnspython's own answers stand
    # `dns._features` only imports the module at its top; it reads it in `have()`, which the
    # forced features below never reach. The placeholder is gone before anyone else can see it.
    placeholder = types.ModuleType("importlib.metadata")
    sys.modules["importlib.metadata"] = placeholder
    try:
        import dns._features
    finally:
        if sys.modules.get("importlib.metadata") is placeholder:
            del sys.modules["importlib.metadata"]
    dns._features.force("idna", find_spec("idna") is not None)
    dns._features.force("doh", False)
