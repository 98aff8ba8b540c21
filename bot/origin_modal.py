"""The *Diagnose origin…* modal of a CloudFront site's report: its Block Kit, and its answers back
into the words of a `/cf502 SITE --origin NAME …` command. Pure: state in, dicts and words out.

The answers go through the same parser as a typed command (`bot.request.parse_command`), so the
modal accepts and refuses exactly what `/cf502` does, with the same one-line reasons; a reason is
shown under the field it is about.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from bot.actions import ORIGIN_MODAL, ButtonValue
from bot.blocks import Block
from bot.inputs import plain, policy_select, text_input, values_of
from bot.mrkdwn import code
from bot.state import ReportState

__all__ = ["FIELDS", "command_text", "field_of", "origin_modal", "short", "submitted"]

# block ids, in the order they are shown; each input's action id is "value"
ORIGIN, POLICY, HTTPS_PORT, HOST_HEADER, PATH = (
    "origin",
    "protocol_policy",
    "https_port",
    "host_header",
    "path",
)
FIELDS = (ORIGIN, POLICY, HTTPS_PORT, HOST_HEADER, PATH)


def origin_modal(state: ReportState) -> Block:
    """The modal asking for the origin of the CloudFront site `state` reports on, prefilled with
    the report's origin settings."""
    site = state.target_host
    cf = state.cloudfront
    where = f" ({code(cf.domain, 120)})" if cf.domain and cf.domain != site else ""
    o = state.origin
    return {
        "type": "modal",
        "callback_id": ORIGIN_MODAL,
        "private_metadata": ButtonValue(state.report_id).dumps(),
        "title": plain("Diagnose origin"),
        "submit": plain("Diagnose"),
        "close": plain("Cancel"),
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"{code(site, 200)} is served by CloudFront{where}. Which origin does "
                    "it use? cf502 connects to it the way CloudFront does, requests the site as a "
                    "viewer, and compares the two in this report's thread.",
                },
            },
            text_input(
                ORIGIN,
                "Origin domain name",
                placeholder="origin.example.com, or the load balancer's or bucket's name",
            ),
            policy_select(POLICY, o.protocol_policy),
            text_input(HTTPS_PORT, "HTTPS port", initial=str(o.https_port), max_length=5),
            text_input(
                HOST_HEADER,
                "Host header forwarded",
                initial=o.host_header,
                hint="Only when the cache behaviour forwards the viewer's Host header; the origin's "
                "certificate must then match it.",
                optional=True,
            ),
            text_input(PATH, "Path", initial=o.path, max_length=2048),
        ],
    }


def submitted(view: Mapping[str, Any]) -> dict[str, str]:
    """block id -> the value given, from a `view_submission`'s `view.state.values`."""
    return values_of(view, FIELDS)


def command_text(site: str, values: Mapping[str, str]) -> str:
    """The `/cf502` text the modal's answers mean: `SITE --origin NAME …` (shell-quoted)."""
    words = [site, "--origin", values.get(ORIGIN, "")]
    flags = {
        POLICY: "--protocol-policy",
        HTTPS_PORT: "--https-port",
        HOST_HEADER: "--host-header",
        PATH: "--path",
    }
    for field, flag in flags.items():
        if field in values:
            words += [flag, values[field]]
    return shlex.join(words)


def field_of(reason: str) -> str:
    """The field a one-line refusal is about (the origin name when no other one is named)."""
    low = reason.lower()
    if "https-port" in low or "https port" in low or "port " in low:
        return HTTPS_PORT
    if "host-header" in low or "host header" in low:
        return HOST_HEADER
    if "path" in low:
        return PATH
    if "protocol" in low:
        return POLICY
    return ORIGIN


def short(reason: str) -> str:
    """A field's error as Slack shows it: plain text, one short line."""
    return " ".join(reason.split())[:150]
