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
from bot.mrkdwn import code
from bot.state import ReportState
from cf502.settings import ProtocolPolicy

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
_MAX_NAME = 253


def _text(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _input(
    block_id: str,
    label: str,
    *,
    initial: str | None = None,
    placeholder: str = "",
    hint: str = "",
    optional: bool = False,
    max_length: int = _MAX_NAME,
) -> Block:
    element: Block = {"type": "plain_text_input", "action_id": "value", "max_length": max_length}
    if initial:
        element["initial_value"] = initial
    if placeholder:
        element["placeholder"] = _text(placeholder)
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": _text(label),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = _text(hint)
    return block


def _policy(initial: ProtocolPolicy) -> Block:
    options = [{"text": _text(p.value), "value": p.value} for p in ProtocolPolicy]
    return {
        "type": "input",
        "block_id": POLICY,
        "label": _text("Origin protocol policy"),
        "element": {
            "type": "static_select",
            "action_id": "value",
            "options": options,
            "initial_option": next(o for o in options if o["value"] == initial.value),
        },
    }


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
        "title": _text("Diagnose origin"),
        "submit": _text("Diagnose"),
        "close": _text("Cancel"),
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
            _input(
                ORIGIN,
                "Origin domain name",
                placeholder="origin.example.com, or the load balancer's or bucket's name",
            ),
            _policy(o.protocol_policy),
            _input(HTTPS_PORT, "HTTPS port", initial=str(o.https_port), max_length=5),
            _input(
                HOST_HEADER,
                "Host header forwarded",
                initial=o.host_header,
                hint="Only when the cache behaviour forwards the viewer's Host header; the origin's "
                "certificate must then match it.",
                optional=True,
            ),
            _input(PATH, "Path", initial=o.path, max_length=2048),
        ],
    }


def submitted(view: Mapping[str, Any]) -> dict[str, str]:
    """block id -> the value given, from a `view_submission`'s `view.state.values` (what Slack
    sends is read strictly: anything else is left out, as if not given)."""
    values = ((view.get("state") or {}).get("values")) or {}
    out: dict[str, str] = {}
    if not isinstance(values, dict):
        return out
    for field in FIELDS:
        entry = (values.get(field) or {}).get("value") or {}
        if not isinstance(entry, dict):
            continue
        value = entry.get("value")
        if value is None:
            value = (entry.get("selected_option") or {}).get("value")
        if isinstance(value, str) and value.strip():
            out[field] = value.strip()
    return out


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
