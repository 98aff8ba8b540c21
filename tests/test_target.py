"""Target parsing: hostnames, host:port, URLs, IDNA, and one-line errors for everything invalid."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cf502.errors import InvalidTarget
from cf502.target import check_port, normalise_hostname, parse_target

LABEL = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=20)


def test_plain_hostname() -> None:
    t = parse_target("  Origin.Example.COM. ")
    assert (t.host, t.port, t.scheme, t.path) == ("origin.example.com", None, None, None)


def test_host_port_and_url() -> None:
    assert parse_target("origin.example.com:8443").port == 8443
    t = parse_target("https://origin.example.com:8443/health?x=1")
    assert (t.host, t.port, t.scheme, t.path) == (
        "origin.example.com",
        8443,
        "https",
        "/health?x=1",
    )
    assert parse_target("origin.example.com/status").path == "/status"


def test_idna_name_becomes_a_label() -> None:
    # Given an internationalised name, When parsed, Then it is in punycode and displays in Unicode
    t = parse_target("bücher.example")
    assert t.host == "xn--bcher-kva.example"
    assert t.display_host == "bücher.example"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("two words.example", "spaces"),
        ("192.0.2.1", "IP address"),
        ("[2001:db8::1]:443", "IP address"),
        ("2001:db8::1", "IP address"),
        ("bad_label.example", "invalid"),
        ("-lead.example", "invalid"),
        ("a..example", "empty label"),
        ("localhost", "fully qualified"),
        ("origin.example.com:22", "port 22"),
        ("origin.example.com:8o", "invalid port"),
        ("origin.example.com:4²", "invalid port"),  # a digit to str.isdigit, not to int()
        ("ftp://origin.example.com", "http"),
        ("https://user:pw@origin.example.com", "credentials"),
        ("x" * 64 + ".example", "invalid"),
        (".".join(["a" * 60] * 5), "at most 253"),
        ("origin.123", "numeric"),
    ],
)
def test_invalid_targets_give_one_line_errors(text: str, fragment: str) -> None:
    with pytest.raises(InvalidTarget) as info:
        parse_target(text)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


@given(st.lists(LABEL, min_size=2, max_size=5))
def test_valid_names_round_trip(labels: list[str]) -> None:
    # Given any well-formed name with an alphabetic TLD, parsing keeps it exactly (lower-case)
    labels[-1] = "x" + labels[-1]
    name = ".".join(labels)
    if len(name) > 253:
        return
    assert parse_target(name).host == name
    assert normalise_hostname(name.upper()) == name


@given(st.integers(min_value=-10, max_value=70000))
def test_ports_follow_cloudfront_rules(port: int) -> None:
    allowed = port in (80, 443) or 1024 <= port <= 65535
    if allowed:
        assert check_port(port) == port
    else:
        with pytest.raises(InvalidTarget):
            check_port(port)


@given(st.text(max_size=80))
def test_arbitrary_text_never_crashes(text: str) -> None:
    # Whatever is typed, the parser answers with a Target or an InvalidTarget, never anything else
    try:
        t = parse_target(text)
    except InvalidTarget as exc:
        assert str(exc)
    else:
        assert t.host == t.host.lower() and len(t.host) <= 253


@given(st.ip_addresses())
def test_ip_literals_are_refused(ip: object) -> None:
    with pytest.raises(InvalidTarget, match="IP address"):
        parse_target(str(ip))
