"""Which checks a diagnosis runs: the ones selected (`--only`) and their prerequisites.

Light to import: the registry (the TLS and HTTP libraries) loads only when a selection needs it,
and not at all to learn that every check runs (their ids are `cf502.checks.catalog`'s), so
`cf502 check` can ask before its first packet whether CloudFront's connections will be opened.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from cf502.errors import InvalidSetting
from cf502.settings import OriginSettings

if TYPE_CHECKING:
    from cf502.checks.base import Check

__all__ = ["opens_connections", "running_ids", "selection"]


def _registry() -> tuple[tuple[Check, ...], Mapping[str, Check]]:
    from cf502.checks.registry import ALL_CHECKS, BY_ID

    return ALL_CHECKS, BY_ID


def selection(only: Collection[str] | None, origin: OriginSettings) -> tuple[list[Check], set[str]]:
    """The checks to run (the selected ones plus their prerequisites) and the ids to report."""
    all_checks, by_id = _registry()
    if not only:
        return list(all_checks), {c.id for c in all_checks}
    unknown = [c for c in only if c not in by_id]
    if unknown:
        raise InvalidSetting(f"unknown check id {unknown[0]!r}; known ids: {', '.join(by_id)}.")
    wanted: set[str] = set()
    stack = list(only)
    while stack:
        cid = stack.pop()
        if cid in wanted:
            continue
        wanted.add(cid)
        stack.extend(by_id[cid].prerequisites(origin))
    return [c for c in all_checks if c.id in wanted], set(only)


def running_ids(only: Collection[str] | None, origin: OriginSettings) -> frozenset[str]:
    """The ids of the checks `selection` runs; without loading the registry when all run."""
    if not only:
        from cf502.checks.catalog import CATALOG  # the registry's ids (tests/test_help.py)

        return frozenset(check_id for check_id, _ in CATALOG)
    return frozenset(c.id for c in selection(only, origin)[0])


def opens_connections(only: Collection[str] | None, origin: OriginSettings) -> bool:
    """Does CloudFront's TLS handshake run, so that its TCP connections are opened early?"""
    return origin.protocol_policy.uses_https and "tls.handshake" in running_ids(only, origin)
