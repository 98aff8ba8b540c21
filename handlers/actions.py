"""Buttons: Rerun / Show commands on each check, Rerun all / Watch until fixed / Stop on the root,
and Diagnose origin… on a CloudFront site's report (it opens a modal: `handlers.views`).

Each listener acks at once and hands the work to `Reports` (Show commands), `Reruns` or `Watches`
in the background; the button's value holds ids only and is parsed strictly."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.actions import ActionId, ButtonValue, InvalidButtonValue, Op
from bot.messenger import Requester
from bot.mrkdwn import escape
from bot.policy import refusal
from bot.services import Services

__all__ = ["register"]


def _requester(body: dict[str, Any]) -> Requester:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id", ""
    )
    user = body.get("user") or {}
    return Requester(
        str(user.get("id", "")),
        str(channel),
        None,
        body.get("response_url"),
        team=str((body.get("team") or {}).get("id") or user.get("team_id") or ""),
        name=str(user.get("username") or user.get("name") or ""),
    )


def _value(action: dict[str, Any]) -> str | None:
    selected = action.get("selected_option") or {}
    return action.get("value") or selected.get("value")


def _work(
    services: Services, action_id: str, value: ButtonValue, who: Requester
) -> Coroutine[Any, Any, None] | None:
    rid, cid = value.report_id, value.check_id
    reports, reruns, watches = services.reports, services.reruns, services.watches
    if action_id == ActionId.CHECK_MENU and cid is not None:
        if value.op is Op.COMMANDS:
            return reports.show_commands(rid, cid, who)
        return reruns.rerun_check(rid, cid, who)
    if action_id == ActionId.RERUN_CHECK and cid is not None:
        return reruns.rerun_check(rid, cid, who)
    if action_id == ActionId.SHOW_COMMANDS and cid is not None:
        return reports.show_commands(rid, cid, who)
    if action_id == ActionId.RERUN_ALL:
        return reruns.rerun_all(rid, who)
    if action_id == ActionId.WATCH:
        return watches.start(rid, who)
    if action_id == ActionId.STOP_WATCH:
        return watches.stop(rid, who)
    if action_id in (ActionId.SHOW_ALL, ActionId.HIDE_CHECKS):
        return reports.show_all(rid, who, expanded=action_id == ActionId.SHOW_ALL)
    return None


def register(app: AsyncApp, services: Services) -> None:
    settings, tell = services.settings, services.messenger.tell

    async def on_action(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        who = _requester(body)
        refused = refusal(settings, who.user, who.channel)
        if refused is not None:
            await tell(who, f":no_entry: {escape(refused)}")
            return
        try:
            value = ButtonValue.loads(_value(action))
        except InvalidButtonValue as exc:
            await tell(who, f":warning: {escape(exc)}")
            return
        action_id = str(action.get("action_id", ""))
        if action_id == ActionId.DIAGNOSE_ORIGIN:
            trigger = str(body.get("trigger_id", ""))
            services.background.spawn(services.origins.ask(value.report_id, trigger, who), who)
            return
        work = _work(services, action_id, value, who)
        if work is None:
            await tell(who, ":warning: That button does not fit this report.")
            return
        services.background.spawn(work, who)

    for action_id in ActionId:
        app.action(action_id.value)(on_action)
