"""Hostile pastes cost bounded time and get one line: huge input, many lines, deep JSON, markup
built to make a pattern search quadratic, control characters."""

from __future__ import annotations

import time

import pytest

from cf502.decode import MAX_INPUT, MAX_LINES, NotRecognised, decode
from cf502.render.decode_text import decoding_text
from tests.decode.logs import w3c

BUDGET = 1.0  # seconds; each of these takes under 0.05 s on a quiet machine

PAGE = "The request could not be satisfied"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("x" * (5 * MAX_INPUT), id="one huge line"),
        pytest.param("a b\n" * 300_000, id="many lines of junk"),
        pytest.param("[" * 500_000, id="deep json"),
        pytest.param(('{"a":[' * 1000 + "\n") * 300, id="deep json lines"),
        pytest.param("#Fields: " + "a " * 300_000 + "\n" + "1\t" * 300_000, id="wide fields"),
        pytest.param("\x00\x1b[2J\u202e\ufffd" * 200_000, id="control characters"),
    ],
)
def test_junk_is_refused_in_one_line_within_the_budget(text: str) -> None:
    started = time.perf_counter()
    with pytest.raises(NotRecognised) as info:
        decode(text)
    assert time.perf_counter() - started < BUDGET
    message = str(info.value)
    assert "\n" not in message and len(message) < 400
    assert message.isprintable()  # the paste is quoted with its control characters escaped


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(PAGE + "<hr>" * 250_000, id="hr without br"),
        pytest.param(PAGE + "<hr>" + "<" * 900_000 + "<br", id="unclosed tags"),
    ],
)
def test_an_error_page_built_to_be_slow_is_read_within_the_budget(text: str) -> None:
    started = time.perf_counter()
    d = decode(text)
    assert time.perf_counter() - started < BUDGET
    assert d.result_type is None  # CloudFront's page, but it names no cause


def test_more_than_the_size_limit_is_cut_with_a_note() -> None:
    line = w3c("OriginConnectError", 502)
    text = "\n".join([line] * (2 * MAX_INPUT // len(line)))
    started = time.perf_counter()
    d = decode(text)
    assert time.perf_counter() - started < BUDGET
    assert d.result_type == "OriginConnectError"
    total = sum(n for _, n in d.counts)
    assert 0 < total <= MAX_INPUT // len(line)  # the cut last line is left out
    assert any("KiB" in n for n in d.notes)


def test_more_than_the_line_limit_is_cut_with_a_note() -> None:
    text = "\n".join(["Error from cloudfront"] + [""] * (MAX_LINES * 3))
    d = decode(text)
    assert d.result_type == "Error"
    assert any(f"{MAX_LINES:,} lines" in n for n in d.notes)


def test_control_characters_in_a_log_line_never_reach_the_terminal() -> None:
    line = w3c("OriginConnectError", 502, **{"x-edge-location": "LHR\x1b]0;owned\x07"})
    out = decoding_text(decode(line))
    assert "\x1b" not in out and "\x07" not in out
    assert all(ch.isprintable() for ch in out.replace("\n", ""))


def test_thousands_of_made_up_result_types_are_summed_up() -> None:
    text = "\n".join(w3c(f"Made{i}Up", 502, result=f"Made{i}Up") for i in range(2000))
    d = decode(text)
    assert len(d.counts) == 10
    assert d.counts[-1] == ("other", 2000 - 9)
    assert len(decoding_text(d)) < 5000
