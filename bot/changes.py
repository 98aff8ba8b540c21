"""What changed between two runs of a report: "*HTTPS port* fixed · *Certificate* still fails".
Pure: two runs' check statuses in, one mrkdwn line out.

A rerun, a watch's recheck and a single check's rerun all say it the same way, so the reader
sees at a glance whether the fix they just made worked.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from bot.mrkdwn import escape, truncate
from cf502.model import CheckResult, Status

__all__ = ["MAX_ITEMS", "change_of", "changes", "since", "what_changed"]

MAX_ITEMS = 6  # checks named in one line; the rest are counted
_BAD = (Status.FAIL, Status.ERROR)


def change_of(before: Status | None, after: Status) -> str | None:
    """How one check changed, in a few words; None when there is nothing worth saying (it
    passes, or stays skipped)."""
    if after is before:
        return {
            Status.FAIL: "still fails",
            Status.ERROR: "still could not run",
            Status.WARN: "still warns",
        }.get(after)
    if after is Status.PASS:
        if before in _BAD:
            return "fixed"
        return "no longer warns" if before is Status.WARN else None
    if after is Status.WARN:
        return "fixed, with a warning" if before in _BAD else "now warns"
    if after is Status.FAIL:
        return "now fails"
    if after is Status.ERROR:
        return "could not run"
    # Skipped now: only news when it was failing (an earlier check now stops it).
    return "not reached now" if before in _BAD else None


def changes(
    before: Mapping[str, Status], after: Sequence[CheckResult]
) -> list[tuple[CheckResult, str]]:
    """Each check of `after` with how it changed since `before`, in report order."""
    out: list[tuple[CheckResult, str]] = []
    for res in after:
        words = change_of(before.get(res.id), res.status)
        if words is not None:
            out.append((res, words))
    return out


def since(at: float) -> str:
    """ "since 10:42" in each reader's time zone (UTC in the fallback)."""
    fallback = time.strftime("%H:%M UTC", time.gmtime(at))
    return f"since <!date^{int(at)}^{{time}}|{fallback}>"


def what_changed(
    before: Mapping[str, Status], after: Sequence[CheckResult], at: float | None
) -> str:
    """One mrkdwn line: "Since 10:42: *HTTPS port* fixed · *Certificate* still fails", or
    "Nothing changed since 10:42" (`at`: when the earlier run finished; None: not known)."""
    found = changes(before, after)
    when = since(at) if at is not None else ""
    if not found:
        return f"Nothing changed {when}".rstrip() + "."
    items = [f"*{escape(truncate(r.title, 80))}* {words}" for r, words in found[:MAX_ITEMS]]
    more = len(found) - MAX_ITEMS
    if more > 0:
        items.append(f"+{more} more")
    head = f"{when[0].upper()}{when[1:]}: " if when else ""
    return head + " · ".join(items)
