"""The *Diagnose origin…* button of a CloudFront site's report: ask for the origin in a modal, and
diagnose it, as `/cf502 SITE --origin NAME` would, in the report's own thread."""

from __future__ import annotations

from collections.abc import Mapping

from bot.messenger import Messenger, Requester
from bot.mrkdwn import escape
from bot.origin_modal import command_text, field_of, origin_modal, short
from bot.poster import Poster, PostError
from bot.reports import Reports
from bot.request import CommandError, Kind, Request, parse_command
from bot.state import ReportState
from bot.store import ReportStore
from cf502.errors import Cf502Error

__all__ = ["Origins"]

NOT_A_SITE = "This report is not of a CloudFront site: give the origin to `/cf502` directly."


class Origins:
    """Opens the modal for a report's button, and runs what it was given."""

    def __init__(
        self, reports: Reports, store: ReportStore, poster: Poster, messenger: Messenger
    ) -> None:
        self.reports = reports
        self.store = store
        self.poster = poster
        self.messenger = messenger

    async def ask(self, report_id: str, trigger_id: str, who: Requester) -> None:
        """Open the modal (within the 3 s the click's trigger is valid)."""
        state = await self.store.load(report_id, who, finished=True)
        if state is None:
            return
        if not state.cloudfront.detected or state.origin.cloudfront_domain:
            await self.messenger.tell(who, f":warning: {NOT_A_SITE}")
            return
        try:
            await self.poster.open_view(trigger_id, origin_modal(state))
        except PostError as exc:
            await self.messenger.tell(
                who, f":warning: Could not open the form (`{escape(exc.code)}`); run "
                f"`/cf502 {escape(state.target_host)} --origin NAME` instead.",
            )  # fmt: skip

    @staticmethod
    def request(state: ReportState, values: Mapping[str, str]) -> Request | dict[str, str]:
        """The diagnosis the modal's answers ask for, or the errors to show under its fields."""
        try:
            req = parse_command(command_text(state.target_host, values))
        except CommandError as exc:
            return {field_of(str(exc)): short(str(exc))}
        if req.kind is not Kind.CHECK:  # cannot come from the modal's words; never run it
            return {"origin": "Give the origin's domain name."}
        return req

    async def diagnose(self, state: ReportState, req: Request, who: Requester) -> None:
        """Run `req` and post its report in the thread of the site's report."""
        where = Requester(
            who.user,
            state.channel,
            state.thread_ts or state.root_ts,
            None,
            team=who.team or state.team,
            name=who.name,
            in_dm=state.in_dm,
        )
        try:
            new = await self.reports.submit(req, where)
        except Cf502Error as exc:
            await self.messenger.tell(where, f":warning: Could not start the check: {escape(exc)}")
            return
        self.reports.launch(new)  # posted and followed like any report, in the background
