"""Finding the distribution behind a name, and the policies that decide Host, with a short
per-process cache of configurations (a burst of diagnoses of one site reads it once)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, TypeVar

from cf502.aws.config import Behavior, Distribution, distribution_from_api
from cf502.aws.find import is_distribution_id, match_distribution
from cf502.aws.host import PolicyHeaders, cache_policy_headers, origin_request_policy_headers
from cf502.aws.session import Account, Accounts, AwsFailed, Denied, NotFound, call

__all__ = ["CACHE_SECONDS", "NotInAccount", "find_distribution", "forget_cache", "read_policies"]

CACHE_SECONDS = 60.0
MAX_PAGES = 50  # ListDistributions pages of 100: 5,000 distributions per account at most

T = TypeVar("T")
_cache: dict[tuple[str, ...], tuple[float, Any]] = {}
_cache_lock = threading.Lock()


class NotInAccount(Exception):
    """No distribution of the accounts tried serves the name (the message says which)."""


def _cached(key: tuple[str, ...], read: Callable[[], T]) -> T:
    now = time.monotonic()
    with _cache_lock:
        held = _cache.get(key)
        if held is not None and held[0] > now:
            return held[1]  # type: ignore[no-any-return]
    value = read()
    with _cache_lock:
        _cache[key] = (time.monotonic() + CACHE_SECONDS, value)
    return value


def forget_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _list(account: Account) -> tuple[Distribution, ...]:
    client = account.client("cloudfront")
    found: list[Distribution] = []
    marker: str | None = None
    for _ in range(MAX_PAGES):
        params: dict[str, Any] = {"MaxItems": "100"}
        if marker:
            params["Marker"] = marker
        page = call(client, "list_distributions", **params).get("DistributionList", {})
        found += [distribution_from_api(item) for item in page.get("Items", []) or []]
        marker = page.get("NextMarker")
        if not page.get("IsTruncated") or not marker:
            break
    return tuple(found)


def _get(account: Account, distribution_id: str) -> Distribution:
    answer = call(account.client("cloudfront"), "get_distribution", Id=distribution_id)
    return distribution_from_api(answer.get("Distribution", {}))


def _identities(accounts: Accounts) -> Iterator[Account | Exception]:
    """Each identity in the operator's order, assumed only when its turn comes; a role that
    cannot be assumed comes as the exception."""
    if not accounts.settings.role_arns:
        yield from accounts.each()
        return
    for arn in accounts.settings.role_arns:
        try:
            yield accounts.role(arn)
        except (Denied, AwsFailed) as exc:
            yield exc


def find_distribution(accounts: Accounts, name: str) -> tuple[Account, Distribution, str]:
    """The account that sees the distribution serving `name` (an id, a `*.cloudfront.net` name or
    an alias), the distribution, and how it matched. Raises NotInAccount, or Denied/AwsFailed when
    no account could be asked."""
    wanted = name.lower().rstrip(".")
    asked: list[str] = []
    problems: list[Exception] = []
    searched = 0
    for account in _identities(accounts):
        if isinstance(account, Exception):
            problems.append(account)
            continue
        asked.append(account.label)
        try:
            if is_distribution_id(name):
                d = _cached((account.label, "get", name), partial(_get, account, name))
                return account, d, "id"
            listing = _cached((account.label, "list"), partial(_list, account))
        except NotFound:
            searched += 1
            continue
        except (Denied, AwsFailed) as exc:
            problems.append(exc)
            continue
        searched += 1
        found = match_distribution(listing, wanted)
        if found is not None:
            exact = found.domain == wanted or wanted in found.aliases
            how = "domain" if found.domain == wanted else "alias" if exact else "wildcard alias"
            # The listing's summaries lack some of the configuration (e.g. Logging): read it all.
            try:
                full = _cached((account.label, "get", found.id), partial(_get, account, found.id))
            except (Denied, NotFound, AwsFailed):
                full = found
            return account, full, how
    if problems and searched == 0:
        raise problems[0]  # no identity could look: say why rather than "not found"
    where = "; ".join(asked)
    raise NotInAccount(f"no distribution serves {name} for {where}")


def _policy(account: Account, method: str, policy_id: str, key: str) -> dict[str, Any] | None:
    read = partial(call, account.client("cloudfront"), method, Id=policy_id)
    try:
        answer = _cached((account.label, method, policy_id), read)
    except (Denied, NotFound, AwsFailed):
        return None  # the managed table decides, or Host stays undecided
    value = answer.get(key)
    return value if isinstance(value, dict) else None


def read_policies(
    account: Account, behavior: Behavior
) -> tuple[PolicyHeaders | None, PolicyHeaders | None]:
    """The behavior's origin request policy and cache policy headers (None: not read)."""
    orp = cp = None
    if behavior.origin_request_policy_id:
        raw = _policy(
            account,
            "get_origin_request_policy",
            behavior.origin_request_policy_id,
            "OriginRequestPolicy",
        )
        orp = origin_request_policy_headers(raw) if raw else None
    if behavior.cache_policy_id:
        raw = _policy(account, "get_cache_policy", behavior.cache_policy_id, "CachePolicy")
        cp = cache_policy_headers(raw) if raw else None
    return orp, cp
