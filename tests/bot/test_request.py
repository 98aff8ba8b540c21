"""Parsing /cf502 and mention text: the CLI's origin options, never the operator's."""

from __future__ import annotations

import pytest

from bot.request import CommandError, Kind, parse_command, parse_mention
from cf502.checks import BY_ID
from cf502.settings import ProtocolPolicy


def test_target_and_origin_options() -> None:
    req = parse_command(
        "https://origin.example.com:8443/health --host-header www.example.com "
        "--connect-timeout 2 --read-timeout 5 --only tcp.https"
    )
    assert req.kind is Kind.CHECK
    assert req.target is not None and req.origin is not None
    assert req.target.host == "origin.example.com"
    assert req.origin.https_port == 8443 and req.origin.path == "/health"
    assert req.origin.host_header == "www.example.com"
    assert (req.origin.connect_timeout, req.origin.read_timeout) == (2, 5)
    assert req.only == ("tcp.https",) and req.check_ids == ("tcp.https",)


def test_a_full_report_lists_every_check_in_registry_order() -> None:
    req = parse_command("origin.example.com --protocol-policy http-only")
    assert req.origin is not None and req.origin.protocol_policy is ProtocolPolicy.HTTP_ONLY
    assert req.check_ids == tuple(BY_ID)
    assert dict(req.titles)["tcp.https"] == BY_ID["tcp.https"].title


@pytest.mark.parametrize("text", ["", "help", "  --help ", "?"])
def test_help(text: str) -> None:
    assert parse_command(text).kind is Kind.HELP


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("origin.example.com --allow-private", "--allow-private is an operator setting"),
        ("origin.example.com --resolver=9.9.9.9", "--resolver is an operator setting"),
        ("origin.example.com --dns-port 53", "--dns-port is an operator setting"),
        ("--path / origin.example.com", "Give the origin first"),
        ("origin.example.com --only no.such", "unknown check id"),
        ("origin.example.com --https-port 22", "not allowed by CloudFront"),
        ("origin.example.com --protocol-policy sometimes", "invalid choice"),
        ("origin.example.com 'unclosed", "Could not read"),
        ("origin.example.com extra", "Unexpected argument 'extra'."),
        ("origin.example.com --hostheader x", "Unknown option --hostheader."),
        ("10.0.0.1", "IP address"),
        ("x" * 5000, "characters long"),
    ],
)
def test_bad_input_is_one_line(text: str, words: str) -> None:
    with pytest.raises(CommandError) as err:
        parse_command(text)
    assert words in str(err.value)
    assert "\n" not in str(err.value)


def test_mention_verbs() -> None:
    req = parse_mention(" check origin.example.com —path /x")
    assert req.origin is not None and req.origin.path == "/x"
    assert parse_mention("").kind is Kind.HELP
    assert parse_mention("help").kind is Kind.HELP
    with pytest.raises(CommandError, match="Which origin"):
        parse_mention("check")
    with pytest.raises(CommandError, match="I don't know"):
        parse_mention("deploy prod")
