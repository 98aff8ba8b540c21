"""Modal submissions: the `/cf502` form (`bot.check_modal`) and the *Diagnose origin…* form of a
CloudFront site's report (`bot.origin_modal`).

The answers are checked, and the diagnosis queued, before the ack, so a refusal shows under its
field in the open modal; an accepted form closes and its report is posted (the `/cf502` form's in
the conversation it was opened from, the origin's in the site report's thread)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.actions import ORIGIN_MODAL, ButtonValue, InvalidButtonValue
from bot.check_modal import CHECK_MODAL, TARGET, InvalidPlace, Place, request_of
from bot.messenger import Requester
from bot.origin_modal import ORIGIN, short, submitted
from bot.policy import refusal
from bot.services import Services
from cf502.errors import Cf502Error

__all__ = ["register"]

EXPIRED = "This report has expired: run /cf502 SITE --origin NAME instead."
NOT_OURS = "This form can't be used any more: run /cf502 again."


def _user(body: dict[str, Any]) -> tuple[str, str, str]:
    """(user id, Slack name, workspace) of who submitted."""
    u = body.get("user") or {}
    team = (body.get("team") or {}).get("id") or u.get("team_id") or ""
    return str(u.get("id", "")), str(u.get("username") or u.get("name") or ""), str(team)


def register(app: AsyncApp, services: Services) -> None:
    settings = services.settings

    async def on_origin(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user, name, team = _user(body)
        try:
            value = ButtonValue.loads(view.get("private_metadata"))
        except InvalidButtonValue as exc:
            await ack(response_action="errors", errors={ORIGIN: short(str(exc))})
            return
        state = await services.store.get(value.report_id)
        if state is None:
            await ack(response_action="errors", errors={ORIGIN: EXPIRED})
            return
        refused = refusal(settings, user, state.channel)
        if refused is not None:
            await ack(response_action="errors", errors={ORIGIN: short(refused)})
            return
        req = services.origins.request(state, submitted(view))
        if isinstance(req, dict):
            await ack(response_action="errors", errors=req)
            return
        await ack()
        who = Requester(
            user, state.channel, state.thread_ts or state.root_ts, None, team=team, name=name
        )
        services.background.spawn(services.origins.diagnose(state, req, who), who)

    async def on_check(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user, name, team = _user(body)
        try:
            place = Place.loads(view.get("private_metadata"))
        except InvalidPlace:
            await ack(response_action="errors", errors={TARGET: NOT_OURS})
            return
        refused = refusal(settings, user, place.channel)
        if refused is not None:
            await ack(response_action="errors", errors={TARGET: short(refused)})
            return
        req = request_of(view)
        if isinstance(req, dict):
            await ack(response_action="errors", errors=req)
            return
        who = Requester(
            user, place.channel, place.thread_ts, place.response_url, team, name, place.in_dm
        )
        try:
            state = await services.reports.submit(req, who)
        except Cf502Error as exc:  # a rate limit, the queue: said under the target
            await ack(response_action="errors", errors={TARGET: short(str(exc))})
            return
        await ack()
        services.reports.launch(state)

    app.view(ORIGIN_MODAL)(on_origin)
    app.view(CHECK_MODAL)(on_check)
