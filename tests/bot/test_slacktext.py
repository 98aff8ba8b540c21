"""What Slack sends, read back as what the user typed."""

from __future__ import annotations

import pytest

from bot.slacktext import plain_text, strip_mentions


@pytest.mark.parametrize(
    ("sent", "typed"),
    [
        ("<http://origin.example.com|origin.example.com>", "origin.example.com"),
        ("<https://x.example.com/path>", "https://x.example.com/path"),
        ("<http://x.example.com:8443/a|x.example.com:8443/a>", "x.example.com:8443/a"),
        ("<@U123ABC>", "@U123ABC"),
        ("<#C123|incident>", "#incident"),
        ("<!here>", "@here"),
        ("a &amp; b &lt;c&gt;", "a & b <c>"),
        ("x —path /h –host-header y", "x --path /h --host-header y"),
        ("“quoted” ‘one’", "\"quoted\" 'one'"),
        ("a\u00a0b", "a b"),
    ],
)
def test_plain_text(sent: str, typed: str) -> None:
    assert plain_text(sent) == typed


def test_a_disguised_link_is_read_as_its_real_url() -> None:
    # Given a link whose label pretends to be another host
    sent = "<https://evil.example/|origin.example.com>"
    # Then the destination, not the label, is what is read
    assert plain_text(sent) == "https://evil.example/"


def test_dashes_inside_words_are_left_alone() -> None:
    assert plain_text("well—known") == "well—known"


def test_strip_mentions_removes_only_the_bot() -> None:
    text = "<@UBOT> check x <@UOTHER>"
    assert strip_mentions(text, "UBOT").split() == ["check", "x", "<@UOTHER>"]
    assert strip_mentions("<@UANY|cf502> help", None).strip() == "help"
