"""Modal submissions: the *Diagnose origin…* form of a CloudFront site's report.

The answers are checked before the ack, so a refusal shows under its field in the open modal;
an accepted form closes and its diagnosis is posted in the report's thread."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.actions import ORIGIN_MODAL, ButtonValue, InvalidButtonValue
from bot.messenger import Requester
from bot.origin_modal import ORIGIN, short, submitted
from bot.policy import refusal
from bot.services import Services

__all__ = ["register"]

EXPIRED = "This report has expired: run /cf502 SITE --origin NAME instead."


def register(app: AsyncApp, services: Services) -> None:
    settings = services.settings

    async def on_submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = str((body.get("user") or {}).get("id", ""))
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
        who = Requester(user, state.channel, state.thread_ts or state.root_ts, None)
        services.background.spawn(services.origins.diagnose(state, req, who), who)

    app.view(ORIGIN_MODAL)(on_submit)
