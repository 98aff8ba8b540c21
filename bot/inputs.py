"""Block Kit inputs for the app's modals (a text field, the protocol-policy select) and reading
their answers back from a `view_submission`. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.blocks import Block
from cf502.settings import ProtocolPolicy

__all__ = ["MAX_NAME", "plain", "policy_select", "text_input", "values_of"]

MAX_NAME = 253  # a DNS name's longest


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def text_input(
    block_id: str,
    label: str,
    *,
    initial: str | None = None,
    placeholder: str = "",
    hint: str = "",
    optional: bool = False,
    max_length: int = MAX_NAME,
) -> Block:
    """A one-line text field; its action id is "value"."""
    element: Block = {"type": "plain_text_input", "action_id": "value", "max_length": max_length}
    if initial:
        element["initial_value"] = initial
    if placeholder:
        element["placeholder"] = plain(placeholder)
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint)
    return block


def policy_select(block_id: str, initial: ProtocolPolicy) -> Block:
    """CloudFront's origin protocol policy, as a select."""
    options = [{"text": plain(p.value), "value": p.value} for p in ProtocolPolicy]
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain("Origin protocol policy"),
        "element": {
            "type": "static_select",
            "action_id": "value",
            "options": options,
            "initial_option": next(o for o in options if o["value"] == initial.value),
        },
    }


def values_of(view: Mapping[str, Any], fields: Iterable[str]) -> dict[str, str]:
    """block id -> the value given, from a `view_submission`'s `view.state.values` (what Slack
    sends is read strictly: anything else is left out, as if not given)."""
    values = ((view.get("state") or {}).get("values")) or {}
    out: dict[str, str] = {}
    if not isinstance(values, dict):
        return out
    for field in fields:
        entry = (values.get(field) or {}).get("value") or {}
        if not isinstance(entry, dict):
            continue
        value = entry.get("value")
        if value is None:
            value = (entry.get("selected_option") or {}).get("value")
        if isinstance(value, str) and value.strip():
            out[field] = value.strip()
    return out
