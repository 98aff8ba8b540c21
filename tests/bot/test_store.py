"""ReportStore: a button's report is loaded only where it belongs, and the requester is told why not."""

from __future__ import annotations

from bot.messenger import Messenger, Requester
from bot.poster import Poster, make_client
from bot.state import MemoryStore, ReportState
from bot.store import ELSEWHERE, RUNNING, ReportStore
from cf502.settings import OriginSettings
from tests.servers.slack_api import BOT_TOKEN, FakeSlack
from tests.servers.slack_api import fake_slack_fixture as fake_slack_fixture


def _store(fake_slack: FakeSlack) -> ReportStore:
    messenger = Messenger(Poster(make_client(BOT_TOKEN, fake_slack.url)))
    return ReportStore(MemoryStore(86400), messenger, 86400)


def _report(phase: str = "done") -> ReportState:
    state = ReportState(
        report_id="ab" * 16,
        channel="C1",
        requested_by="U1",
        requested_at=1.0,
        target={"host": "origin.example.com", "input": "origin.example.com"},
        origin=OriginSettings(),
        only=(),
        check_ids=(),
        titles={},
    )
    state.phase = phase
    return state


def _told(fake_slack: FakeSlack) -> list[str]:
    return [str(c.args.get("text", "")) for c in fake_slack.calls_to("chat.postEphemeral")]


async def test_a_report_loads_for_a_button_in_its_own_conversation(fake_slack: FakeSlack) -> None:
    # Given a stored report in C1
    store = _store(fake_slack)
    await store.put(_report())
    # When a button in C1 loads it
    state = await store.load("ab" * 16, Requester("U2", "C1"))
    # Then it is there, and nobody was told anything
    assert state is not None and state.channel == "C1"
    assert _told(fake_slack) == []


async def test_an_expired_report_says_how_long_reports_are_kept(fake_slack: FakeSlack) -> None:
    # Given no stored report, When a button loads it
    state = await _store(fake_slack).load("cd" * 16, Requester("U2", "C1"))
    # Then the requester is told it expired, and for how long reports are kept
    assert state is None
    assert "has expired (cf502 keeps reports for 1 day)" in _told(fake_slack)[0]


async def test_a_button_copied_into_another_conversation_is_refused(fake_slack: FakeSlack) -> None:
    # Given a report in C1
    store = _store(fake_slack)
    await store.put(_report())
    # When a button value copied into C2 loads it
    state = await store.load("ab" * 16, Requester("U2", "C2"))
    # Then it is not loaded, and the requester is told why
    assert state is None
    assert _told(fake_slack) == [ELSEWHERE]


async def test_a_running_report_is_refused_only_when_it_must_be_finished(
    fake_slack: FakeSlack,
) -> None:
    # Given a report still running
    store = _store(fake_slack)
    await store.put(_report("running"))
    who = Requester("U2", "C1")
    # When a button that can wait loads it, and then one that needs it finished
    anyway = await store.load("ab" * 16, who)
    finished = await store.load("ab" * 16, who, finished=True)
    # Then only the second is refused, saying it is still running
    assert anyway is not None
    assert finished is None
    assert _told(fake_slack) == [RUNNING]


def test_one_lock_per_report(fake_slack: FakeSlack) -> None:
    store = _store(fake_slack)
    first = store.lock("ab" * 16)
    assert store.lock("ab" * 16) is first
    assert store.lock("cd" * 16) is not first
