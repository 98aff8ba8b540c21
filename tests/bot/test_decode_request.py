"""`/cf502 decode …`, and a log line or header value pasted without `decode`, in slash-command and
mention text as Slack delivers it (auto-links, entities, code fences)."""

from __future__ import annotations

import pytest

from bot.request import MAX_PASTE, CommandError, Kind, parse_command, parse_mention
from tests.decode.logs import SITE, json_line, w3c


def test_decode_verb_in_a_slash_command() -> None:
    req = parse_command("decode OriginDnsError")
    assert req.kind is Kind.DECODE
    assert req.decoding is not None and req.decoding.result_type == "OriginDnsError"


def test_a_log_line_pasted_without_the_verb() -> None:
    req = parse_command(w3c("OriginConnectError", 502))
    assert req.kind is Kind.DECODE and req.decoding is not None
    assert req.decoding.command == f"cf502 check {SITE} --path /api/orders"


def test_slack_markup_in_the_paste_is_undone() -> None:
    # Slack auto-links the host and writes & as an entity; the paste is read as typed
    line = w3c("OriginReadError", 502).replace(SITE, f"<http://{SITE}|{SITE}>")
    line = line.replace("/api/orders", "/api/a&amp;b")
    req = parse_command(f"decode {line}")
    assert req.decoding is not None
    assert req.decoding.command == f"cf502 check {SITE} --path '/api/a&b'"


def test_a_mention_with_a_code_fenced_json_line() -> None:
    req = parse_mention(f"```{json_line('LambdaValidationError', 502)}```")
    assert req.kind is Kind.DECODE and req.decoding is not None
    assert req.decoding.result_type == "LambdaValidationError"


def test_a_mention_with_the_verb_and_an_inline_x_cache_value() -> None:
    req = parse_mention("decode `Error from cloudfront`")
    assert req.decoding is not None and req.decoding.input_kind == "x-cache"


def test_checks_keep_their_meaning() -> None:
    assert parse_command("origin.example.com --path /x").kind is Kind.CHECK
    assert parse_mention("check origin.example.com").kind is Kind.CHECK


@pytest.mark.parametrize("text", ["decode", "decode hello there"])
def test_decode_of_nothing_readable_is_one_line(text: str) -> None:
    with pytest.raises(CommandError) as info:
        parse_command(text)
    assert "\n" not in str(info.value) and "log line" in str(info.value)


def test_a_bad_check_stays_a_check_error() -> None:
    # Not decodable either: the user meant a check, and hears about the check
    with pytest.raises(CommandError, match="IP address"):
        parse_command("192.0.2.1 --path /")
    with pytest.raises(CommandError, match="I don't know"):
        parse_mention("please look at www.example.com")


def test_a_paste_over_the_limit_is_refused_in_one_line() -> None:
    with pytest.raises(CommandError, match="characters long"):
        parse_mention("decode " + "x" * MAX_PASTE)
