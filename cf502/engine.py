"""The runner: vet the target, run the checks concurrently with their prerequisites, build a report.

A diagnosis costs about its slowest chain of checks, not the sum: every check starts at once and
waits only for its own prerequisites. A check that crashes becomes `error` and never sinks the others.

Start-up is on that chain too: the first packet (the name's resolution) needs only dnspython, so the
checks (pyOpenSSL, cryptography, h11 ...) are imported in a thread (`cf502.checks.preload`) while the
name resolves, CloudFront's handshake code first, then the origin request's; what needs only the
resolution (CloudFront's TCP connections, the zone survey) starts before they have loaded, and the
handshakes and the requests as soon as their code has. A cold `cf502 check` goes further: its first
queries, connections, ClientHellos and the survey's first questions are out before the engine
loads (`cf502.entry`, `cf502.firstconnect`), and the engine goes on from them.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from cf502.checks import preload
from cf502.checks.base import Check, result
from cf502.checks.dns.resolve import resolution, start_zone_survey
from cf502.checks.probe import Probe
from cf502.checks.selection import opens_connections, running_ids, selection
from cf502.checks.site import SITE_CHECKS, Site, cname_site, origin_unknown
from cf502.errors import InvalidSetting
from cf502.model import CheckResult, CloudFrontSite, Report, Scope, Status
from cf502.safety import MAX_ADDRESSES, connect_to
from cf502.settings import EngineSettings, OriginSettings
from cf502.target import Target
from cf502.verdict import decide

if TYPE_CHECKING:
    from cf502.firstquery import FirstQueries

__all__ = ["MAX_ADDRESSES", "OnResult", "diagnose", "run_checks", "selection"]

log = logging.getLogger(__name__)

OnResult = Callable[[CheckResult], Awaitable[None] | None]

_OK = (Status.PASS, Status.WARN)


def _load_registry() -> tuple[asyncio.Future[None], asyncio.Future[None], asyncio.Future[None]]:
    """(CloudFront's handshake code loaded, the origin request's, the whole registry): imported
    in a thread (`cf502.checks.preload`), so the handshakes, then the requests, can start on the
    connections opened meanwhile while the other checks still load."""
    preload.start()
    return (
        asyncio.ensure_future(preload.handshake.wait()),
        asyncio.ensure_future(preload.exchange.wait()),
        asyncio.ensure_future(preload.registry.wait()),
    )


async def _notify(on_result: OnResult | None, res: CheckResult) -> None:
    if on_result is None:
        return
    try:
        maybe = on_result(res)
        if inspect.isawaitable(maybe):
            await maybe
    except Exception:  # a broken progress sink must not break the diagnosis
        log.exception("progress callback failed for %s", res.id)


def _some_still_work(pre: CheckResult) -> bool:
    """A prerequisite that failed on some addresses only: the checks behind it still run on the
    others (an expired certificate there matters as much)."""
    return pre.status is Status.FAIL and pre.affects is not None and pre.affects.scope is Scope.SOME


async def _run_one(
    check: Check,
    probe: Probe,
    done: dict[str, asyncio.Future[CheckResult]],
    deadline: float,
    limit: asyncio.Semaphore,
) -> CheckResult:
    for pre in check.prerequisites(probe.origin):
        fut = done.get(pre)
        if fut is None:
            continue
        pre_result = await asyncio.shield(fut)
        if pre_result.status not in _OK and not _some_still_work(pre_result):
            why = "did not pass" if pre_result.status is not Status.SKIP else "was skipped"
            # A check behind one that does not apply does not apply either.
            return result(check, Status.SKIP, f"Skipped: {pre} {why}.", applies=pre_result.applies)
    started = time.perf_counter()
    try:
        # Prerequisites are awaited outside the semaphore so a waiting check never holds a slot.
        async with limit, asyncio.timeout(deadline):
            res = await check.run(probe)
    except TimeoutError:
        res = result(
            check,
            Status.ERROR,
            f"The check did not finish within {deadline:g} s and was stopped.",
        )
    except Exception as exc:  # one crashing check becomes `error`, never sinks the others
        log.exception("check %s crashed on %s", check.id, probe.host)
        res = result(
            check,
            Status.ERROR,
            "The check could not run because of an internal error in cf502 (it is logged).",
            evidence=[("internal error", type(exc).__name__)],
        )
    return res.with_duration(round((time.perf_counter() - started) * 1000))


async def diagnose(
    target: Target,
    origin: OriginSettings,
    engine: EngineSettings,
    *,
    only: Collection[str] | None = None,
    on_result: OnResult | None = None,
    now: Callable[[], datetime] | None = None,
    first_queries: FirstQueries | None = None,
) -> Report:
    """Diagnose `target` as CloudFront would connect to it (`first_queries`: its name's queries,
    already sent by `cf502 check` before the engine loaded).

    Raises TargetNotAllowed (before any connection to the origin) when it resolves to a blocked
    address, and InvalidSetting for an unknown check id in `only`.
    """
    origin = engine.bound(origin)
    handshake_code, exchange_code, loading = _load_registry()
    if only:  # unknown check ids are refused before any packet to the origin
        await loading
        try:
            selection(only, origin)
        except InvalidSetting:
            if first_queries is not None:
                first_queries.close()
            raise
    probe = Probe(target, origin, engine, now=now, first_queries=first_queries)
    started_at = probe.now()
    # The diagnosis began with its first packet: `cf502 check` sends the first queries earlier.
    started = time.perf_counter()
    if first_queries is not None and first_queries.sent_at is not None:
        started = min(started, first_queries.sent_at)
    try:
        # Vet every address before anything connects to the origin; later connections use these
        # addresses, never the name, so a DNS rebind cannot slip a private address in.
        resolved = await resolution(probe)
        probe.addresses, probe.address_count = connect_to(
            target.host,
            resolved.addresses,
            allow_private=engine.allow_private,
            ip_address_type=origin.ip_address_type,
        )
        # A CNAME to *.cloudfront.net shows before any connection that TARGET is CloudFront's
        # edge: checks that would judge the edge as the origin do not run.
        early = cname_site(target.host, resolved.cname_chain)
        if origin.cloudfront_domain:  # --origin: TARGET is the origin, the site is given
            early = Site()
        if not early.detected:
            # What needs only the resolution starts now, while the checks' registry (the TLS
            # library ...) loads in a cold process: CloudFront's connections, and the survey
            # of the zone's name servers. (`run_checks` sets the same ids again.)
            probe.running = running_ids(only, origin)
            handshakes = opens_connections(only, origin)
            if handshakes:
                probe.preconnect(origin.https_port)
            if "dns.authoritative" in probe.running:
                start_zone_survey(probe)
            if handshakes:
                await handshake_code
                _start_observations(probe)
            if any(i.startswith("http.") for i in probe.running):
                await exchange_code
                _start_exchanges(probe)
        await loading
        to_run, to_report = selection(only, origin)
        running = [c for c in to_run if not early.detected or c.id in SITE_CHECKS]
        results = await run_checks(running, to_report, probe, on_result)
        site, cloudfront = _cloudfront_facts(probe)
        if site.detected and not origin.cloudfront_domain:
            results = await _site_results(to_run, to_report, results, probe, site, on_result)
    finally:
        # A refused target: nobody waits for the registry (the import finishes in its thread).
        handshake_code.cancel()
        exchange_code.cancel()
        loading.cancel()
        await probe.close()
    checks = tuple(results[c.id] for c in to_run if c.id in to_report)
    return Report(
        target=target.to_dict(),
        settings=origin.to_dict(),
        checks=checks,
        verdict=decide(checks, only=only or ()),
        duration_ms=round((time.perf_counter() - started) * 1000),
        started_at=started_at.isoformat(timespec="seconds"),
        addresses=probe.addresses,
        cloudfront=cloudfront,
    )


def _start_observations(probe: Probe) -> None:
    from cf502.checks.tls._observe import start_observations  # loaded by now (`_load_registry`)

    start_observations(probe)


def _start_exchanges(probe: Probe) -> None:
    from cf502.checks.http._exchange import start_exchanges  # loaded by now (`_load_registry`)

    start_exchanges(probe)


def _cloudfront_facts(probe: Probe) -> tuple[Site, CloudFrontSite]:
    from cf502.checks.cloudfront import cloudfront_facts  # loaded with the registry by now

    return cloudfront_facts(probe)


async def _site_results(
    to_run: Sequence[Check],
    to_report: Collection[str],
    results: Mapping[str, CheckResult],
    probe: Probe,
    site: Site,
    on_result: OnResult | None,
) -> dict[str, CheckResult]:
    """TARGET is CloudFront's: the origin checks are skipped, never judged on the edge's answer."""
    out = dict(results)
    for check in to_run:
        if check.id in SITE_CHECKS:
            continue
        out[check.id] = origin_unknown(check, probe.host, site)
        if check.id not in results and check.id in to_report:
            await _notify(on_result, out[check.id])  # not run at all: report its skip once
    return out


async def run_checks(
    to_run: Sequence[Check],
    to_report: Collection[str],
    probe: Probe,
    on_result: OnResult | None = None,
    *,
    deadline: float | None = None,
) -> dict[str, CheckResult]:
    """Run `to_run` concurrently on an already vetted probe; each waits only for its prerequisites.

    A check may start its shared I/O before its prerequisites finish (`start`, e.g. the TLS
    handshakes alongside tcp.https); its result still waits for them, so skips stay skips.
    """
    probe.running = frozenset(c.id for c in to_run)
    for check in to_run:
        start = getattr(check, "start", None)
        if start is not None:
            start(probe)
    loop = asyncio.get_running_loop()
    done: dict[str, asyncio.Future[CheckResult]] = {c.id: loop.create_future() for c in to_run}
    if deadline is None:
        deadline = probe.deadlines.check
    limit = asyncio.Semaphore(probe.engine.max_concurrency)

    async def run(check: Check) -> None:
        res = await _run_one(check, probe, done, deadline, limit)
        done[check.id].set_result(res)
        if check.id in to_report:
            await _notify(on_result, res)

    await asyncio.gather(*(run(c) for c in to_run))
    return {cid: fut.result() for cid, fut in done.items()}
