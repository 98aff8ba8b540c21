"""The checks, grouped by the family of their contract id; their registry is `registry.py`.

The path of a check's module is its id: `dns.resolve` is in `dns/resolve.py`, `tcp.https` in
`tcp.py`, every `tls.cert.*` check in `tls/cert.py`, `cloudfront.edge` in `cloudfront.py`. A family
that outgrows one file is a package with its private (`_`-prefixed) helpers beside its checks.
`base.py` is what every check is, `probe.py` the observations they share.

`ALL_CHECKS`, `BY_ID` and `CHECK_IDS` are importable from here, but loaded on first use: the TLS and
HTTP checks pull in pyOpenSSL, cryptography and h11, and importing `cf502.checks.dns.resolve` (the
first thing a diagnosis needs, before its first packet) must not wait for them. The engine loads
the registry in a thread while the name resolves (`cf502.engine`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cf502.checks.registry import ALL_CHECKS, BY_ID, CHECK_IDS

__all__ = ["ALL_CHECKS", "BY_ID", "CHECK_IDS"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from cf502.checks import registry

        return getattr(registry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
