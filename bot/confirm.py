"""Confirmation dialogs for the root's buttons that act for everyone: "Rerun all" replaces the
report's results, "Stop watching" ends someone's watch. Pure: state in, Block Kit dicts out.

A button is the same for everyone who sees the message, so the dialog can't depend on who clicks:
it names whose report or watch it is (by the Slack name the request carried), and the owner
reads it as a plain "are you sure". Dialog text is plain text: no mentions, no markup.
"""

from __future__ import annotations

from typing import Any

from bot.state import ReportState

__all__ = ["rerun_all_confirm", "stop_watch_confirm"]

MAX_TEXT = 300  # Slack's limit for a dialog's text
_MAX_NAME = 60

Block = dict[str, Any]


def _plain(text: str, limit: int) -> dict[str, str]:
    text = " ".join(text.split())
    return {"type": "plain_text", "text": text if len(text) <= limit else text[: limit - 1] + "…"}


def _dialog(title: str, text: str, confirm: str, *, danger: bool = False) -> Block:
    dialog: Block = {
        "title": _plain(title, 100),
        "text": _plain(text, MAX_TEXT),
        "confirm": _plain(confirm, 30),
        "deny": _plain("Cancel", 30),
    }
    if danger:
        dialog["style"] = "danger"
    return dialog


def _whose(name: str, fallback: str) -> str:
    name = " ".join(name.split())[:_MAX_NAME]
    return f"{name}'s" if name else fallback


def rerun_all_confirm(state: ReportState) -> Block:
    """'Rerun every check of alice's report on www.example.com?'"""
    host = state.target_host[:120]
    whose = _whose(state.requester_name, "this")
    return _dialog(
        "Rerun all checks?",
        f"This reruns every check of {whose} report on {host} and replaces its results for "
        "everyone in the conversation; what changed is said in the thread.",
        "Rerun all",
    )


def stop_watch_confirm(state: ReportState) -> Block:
    """'Stop alice's watch of www.example.com?'"""
    host = state.target_host[:120]
    watch = state.watch
    whose = _whose(watch.by_name if watch else "", "this")
    return _dialog(
        "Stop watching?",
        f"This stops {whose} watch of {host} for everyone: no more rechecks, and nobody is told "
        "when it is fixed. The thread says who stopped it.",
        "Stop watching",
        danger=True,
    )
