"""The pure parts of the easier ways in: what the message shortcut takes from a message, the
/cf502 form's answers and where its report goes, and the notifications' text."""

from __future__ import annotations

import pytest

from bot.check_modal import CONNECT, HOST_HEADER, TARGET, InvalidPlace, Place, request_of
from bot.notify import done_note, quiet
from bot.request import CommandError, Kind
from bot.shortcut import first_target, request_from_message


def test_the_shortcut_finds_the_site_not_files_or_addresses() -> None:
    assert first_target("see logs/app.log and index.html on web-1.example.com:8443 now") == (
        "web-1.example.com:8443"
    )
    assert first_target("mail ops@example.com, then https://shop.example.com/cart?x=1.") == (
        "https://shop.example.com/cart?x=1"
    )
    assert first_target("nothing here, v1.2 and 10.0.0.1") is None


def test_the_shortcut_decodes_before_it_diagnoses_and_explains_when_it_cannot() -> None:
    req = request_from_message("502s on <https://shop.example.com/cart|shop.example.com/cart>")
    assert req.kind is Kind.CHECK and req.target is not None and req.origin is not None
    assert req.target.host == "shop.example.com" and req.origin.path == "/cart"
    decoded = request_from_message("X-Cache: Error from cloudfront")
    assert decoded.kind is Kind.DECODE
    with pytest.raises(CommandError, match="X-Amz-Cf-Id alone"):
        request_from_message("X-Amz-Cf-Id: abcDEF123==")
    with pytest.raises(CommandError, match="found no hostname"):
        request_from_message("is it down for everyone?")


def _view(values: dict[str, str]) -> dict[str, object]:
    state = {k: {"value": {"type": "plain_text_input", "value": v}} for k, v in values.items()}
    return {"state": {"values": state}}


def _refused(values: dict[str, str]) -> list[str]:
    """The fields the form's answers are refused on."""
    errors = request_of(_view(values))
    assert isinstance(errors, dict), errors
    return list(errors)


def test_the_form_goes_through_the_command_parser_and_names_the_field() -> None:
    req = request_of(_view({TARGET: "origin.example.com", HOST_HEADER: "www.example.com"}))
    assert not isinstance(req, dict) and req.origin is not None
    assert req.origin.host_header == "www.example.com"
    assert _refused({TARGET: "origin.example.com", CONNECT: "99"}) == [CONNECT]
    # An answer stays one word: options typed into the target field are not options
    assert _refused({TARGET: "x.example.com --origin-mtls"}) == [TARGET]
    assert _refused({HOST_HEADER: "www.example.com"}) == [TARGET]


def test_the_forms_conversation_is_read_back_strictly() -> None:
    place = Place("C0INCIDENT", None, True, "https://hooks.slack.com/commands/T1/2/x")
    assert Place.loads(place.dumps()) == place
    for bad in (None, "", "[]", '{"c":"../x"}', '{"c":"C1X","z":1}', '{"c":"C1X","d":2}'):
        with pytest.raises(InvalidPlace):
            Place.loads(bad)


def test_notifications_never_reach_the_whole_channel() -> None:
    text = done_note("U0ALICE01", "cf502: ✖ FAIL x: origin says @channel and @Here and @everyone")
    assert text.startswith(":bell: <@U0ALICE01> ")
    assert "@channel" not in text and "@Here" not in text and "@everyone" not in text
    assert quiet("mail me@channels.example") == "mail me@channels.example"
