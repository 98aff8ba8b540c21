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


def test_backticks_in_text_never_leave_a_code_span_open() -> None:
    # Paired backticks (a fix naming `ssl_certificate`) stay code
    assert escape("use `ssl_certificate`") == "use `ssl_certificate`"
    # An odd one, or a run of them (a fence), becomes a look-alike everywhere in the text
    assert escape("a ` b `c`") == "a ˋ b ˋcˋ"
    assert escape("```rm -rf```") == "ˋˋˋrm -rfˋˋˋ"


def test_help_text_placeholders_are_not_links() -> None:
    from bot.mrkdwn import entities
    from bot.request import help_text

    assert entities("`/cf502 <origin>`") == "`/cf502 &lt;origin&gt;`"
    text = help_text()
    assert "<origin>" not in text and "&lt;origin&gt;" in text
    assert "`" in text  # its own formatting stays
