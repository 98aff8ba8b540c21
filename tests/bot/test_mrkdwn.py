"""mrkdwn escaping: user and origin text can never become Slack markup."""

from __future__ import annotations

from bot.mrkdwn import code, code_block, escape, truncate


def test_escape_makes_control_characters_inert() -> None:
    # Given text carrying a channel ping, a disguised link and an ampersand
    text = "<!channel> <http://evil.example|origin.example.com> a&b"
    # When escaped
    out = escape(text)
    # Then no < or > survive, and & is an entity
    assert "<" not in out and ">" not in out
    assert out == "&lt;!channel&gt; &lt;http://evil.example|origin.example.com&gt; a&amp;b"


def test_truncate_adds_an_ellipsis_and_never_cuts_an_entity() -> None:
    assert truncate("abcdef", 10) == "abcdef"
    assert truncate("abcdef", 4) == "abc…"
    # When the cut falls inside "&amp;", the partial entity is dropped
    assert truncate("ab&amp;cd", 5) == "ab…"
    assert truncate("x", 0) == ""


def test_code_spans_cannot_be_broken_out_of() -> None:
    # Given a value with a backtick and markup
    out = code("a`b <@U123>")
    # Then it stays one span, escaped
    assert out.count("`") == 2
    assert "&lt;@U123&gt;" in out
    assert code("") == "` `"


def test_code_block_escapes_and_fits() -> None:
    out = code_block(["curl 'https://x/<y>'", "```"] + ["z" * 100] * 100, limit=500)
    assert out.startswith("```\n") and out.endswith("\n```")
    assert len(out) <= 500
    assert "&lt;y&gt;" in out
    assert out.count("```") == 2
