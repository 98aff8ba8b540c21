"""Which distribution a name belongs to, and which cache behavior a path uses. Pure.

* A distribution id (`E…`) is looked up directly.
* A `*.cloudfront.net` name is the distribution's own domain.
* An alternate domain name matches an alias exactly (case-insensitively), else a wildcard alias
  `*.example.com` that covers one label in its place. A production distribution is preferred over
  a staging one that shares its names.
* A path uses the first cache behavior whose `PathPattern` matches it, else the default one:
  `*` is any run of characters (`/` included), `?` is one character, everything else literal and
  case-sensitive; the query string takes no part; a leading `/` in the pattern is optional.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (`cf502 check` asks `is_distribution_id` before its first packet)
    from cf502.aws.config import Behavior, Distribution

__all__ = [
    "behavior_for",
    "is_distribution_id",
    "match_distribution",
    "path_matches",
]

# Distribution ids are upper-case letters and digits, e.g. "EDFDVBD6EXAMPLE".
_ID = re.compile(r"E[0-9A-Z]{9,17}\Z")


def is_distribution_id(text: str) -> bool:
    """True for text shaped like a distribution id (`E` and 10-18 upper-case letters/digits)."""
    return bool(_ID.match(text))


def _covers(alias: str, name: str) -> bool:
    """A wildcard alias `*.example.com` covers exactly one label in place of `*`."""
    if not alias.startswith("*."):
        return False
    head, dot, rest = name.partition(".")
    return bool(head) and bool(dot) and rest == alias[2:]


def match_distribution(distributions: Iterable[Distribution], name: str) -> Distribution | None:
    """The distribution serving `name` (an alias or its `*.cloudfront.net` domain), or None.

    Exact aliases win over wildcard ones, and production over staging distributions.
    """
    wanted = name.lower().rstrip(".")
    exact: list[Distribution] = []
    wildcard: list[Distribution] = []
    for d in distributions:
        if d.domain == wanted or wanted in d.aliases:
            exact.append(d)
        elif any(_covers(a, wanted) for a in d.aliases):
            wildcard.append(d)
    for found in (exact, wildcard):
        if found:
            return sorted(found, key=lambda d: d.staging)[0]
    return None


def path_matches(pattern: str, path: str) -> bool:
    """Whether CloudFront's path pattern matches the path (query string ignored).

    A two-pointer wildcard match, O(len(pattern) x len(path)) at worst: no backtracking regex, so a
    hostile pattern or path costs bounded time.
    """
    p = pattern if pattern.startswith(("/", "*")) else "/" + pattern
    s = path.split("?", 1)[0]
    i = j = 0
    star = -1
    mark = 0
    while j < len(s):
        if i < len(p) and p[i] != "*" and (p[i] == "?" or p[i] == s[j]):
            i += 1
            j += 1
        elif i < len(p) and p[i] == "*":
            star, mark = i, j
            i += 1
        elif star >= 0:
            i = star + 1
            mark += 1
            j = mark
        else:
            return False
    while i < len(p) and p[i] == "*":
        i += 1
    return i == len(p)


def behavior_for(distribution: Distribution, path: str) -> Behavior | None:
    """The cache behavior CloudFront uses for `path`: the first whose pattern matches, else the
    default (None only when the configuration has no default behavior)."""
    for behavior in distribution.behaviors:
        if behavior.path_pattern is not None and path_matches(behavior.path_pattern, path):
            return behavior
    return distribution.default_behavior
