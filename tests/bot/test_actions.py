"""Button values carry ids only and are parsed strictly."""

from __future__ import annotations

import pytest

from bot.actions import MAX_VALUE, ButtonValue, InvalidButtonValue, Op
from cf502.checks import BY_ID

REPORT = "0123456789abcdef0123456789abcdef"


def test_round_trip_for_every_check_within_slacks_tightest_limit() -> None:
    for check_id in BY_ID:
        for op in (None, Op.RERUN, Op.COMMANDS):
            value = ButtonValue(REPORT, check_id, op)
            text = value.dumps()
            assert len(text) <= MAX_VALUE <= 150
            assert ButtonValue.loads(text) == value
    assert ButtonValue.loads(ButtonValue(REPORT).dumps()) == ButtonValue(REPORT)


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "not json",
        "[]",
        '{"r": "../../x"}',
        '{"c": "tcp.https"}',
        f'{{"r": "{REPORT}", "c": "rm -rf"}}',
        f'{{"r": "{REPORT}", "o": "delete"}}',
        f'{{"r": "{REPORT}", "x": 1}}',
        f'{{"r": "{REPORT}", "c": 5}}',
        "x" * 500,
    ],
)
def test_anything_else_is_refused(text: str | None) -> None:
    with pytest.raises(InvalidButtonValue):
        ButtonValue.loads(text)
