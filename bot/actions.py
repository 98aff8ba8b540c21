"""Action ids and button values. Buttons carry ids only; the report itself lives in the state store.

Slack caps a button value at 2,000 characters and an overflow option value at 150, so a value is
`{"r": report_id, "c": check_id, "o": op}` and nothing else. Values come back in signed requests,
but they are still parsed strictly: anything unexpected raises `InvalidButtonValue`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cf502.checks import BY_ID
from cf502.errors import Cf502Error

__all__ = ["ORIGIN_MODAL", "ActionId", "ButtonValue", "InvalidButtonValue", "Op"]

_REPORT_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_VALUE = 150  # the tightest of Slack's limits (overflow option values)


class InvalidButtonValue(Cf502Error):
    """Raised when a button's value is not one this app produced."""


class ActionId(StrEnum):
    """Block Kit `action_id`s (namespaced, kebab-case)."""

    RERUN_CHECK = "cf502-rerun-check"
    SHOW_COMMANDS = "cf502-show-commands"
    CHECK_MENU = "cf502-check-menu"  # per-check overflow menu on the root message
    RERUN_ALL = "cf502-rerun-all"
    WATCH = "cf502-watch"
    STOP_WATCH = "cf502-stop-watch"
    DIAGNOSE_ORIGIN = "cf502-diagnose-origin"  # a CloudFront site's report: ask for its origin
    SHOW_ALL = "cf502-show-all"  # the root card: list every check in place
    HIDE_CHECKS = "cf502-hide-checks"  # the root card: back to the problems only


ORIGIN_MODAL = "cf502-origin-modal"
"""The `callback_id` of the modal that asks for a CloudFront site's origin."""


class Op(StrEnum):
    """What a check-menu option does."""

    RERUN = "rerun"
    COMMANDS = "commands"


@dataclass(frozen=True, slots=True)
class ButtonValue:
    """What a button refers to: a report, and for per-check buttons one check of it."""

    report_id: str
    check_id: str | None = None
    op: Op | None = None

    def __post_init__(self) -> None:
        if not _REPORT_ID.match(self.report_id):
            raise InvalidButtonValue("The button does not name a cf502 report.")
        if self.check_id is not None and self.check_id not in BY_ID:
            raise InvalidButtonValue(f"The button names an unknown check {self.check_id[:40]!r}.")

    def dumps(self) -> str:
        d: dict[str, str] = {"r": self.report_id}
        if self.check_id is not None:
            d["c"] = self.check_id
        if self.op is not None:
            d["o"] = self.op.value
        text = json.dumps(d, separators=(",", ":"))
        if len(text) > MAX_VALUE:  # cannot happen with registry ids; guard against future ids
            raise InvalidButtonValue("button value too long")
        return text

    @classmethod
    def loads(cls, text: str | None) -> ButtonValue:
        if not text or len(text) > MAX_VALUE:
            raise InvalidButtonValue("The button value is missing or too long.")
        try:
            d: Any = json.loads(text)
        except ValueError:
            raise InvalidButtonValue("The button value is not cf502's.") from None
        if not isinstance(d, dict) or set(d) - {"r", "c", "o"} or "r" not in d:
            raise InvalidButtonValue("The button value is not cf502's.")
        report_id, check_id, op = d.get("r"), d.get("c"), d.get("o")
        if not isinstance(report_id, str) or not isinstance(check_id, str | None):
            raise InvalidButtonValue("The button value is not cf502's.")
        try:
            parsed_op = Op(op) if op is not None else None
        except ValueError:
            raise InvalidButtonValue("The button value names an unknown operation.") from None
        return cls(report_id, check_id, parsed_op)
