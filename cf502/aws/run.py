"""The AWS part of a diagnosis, in two steps:

1. `resolve`: the distribution behind the user's name, the cache behavior of the path and the
   origins CloudFront would use with their exact settings (what the origin probes need first);
2. `aws_checks`: the `aws.*` checks, their readers run at once within the operator's time budget
   (alongside the origin probes), each judged by its pure judge.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial

from cf502.aws.find import behavior_for, is_distribution_id
from cf502.aws.host import decide_host
from cf502.aws.judge import cannot_see, could_not_ask, make
from cf502.aws.judge.access_logs import judge_access_logs
from cf502.aws.judge.distribution import Found, judge_distribution
from cf502.aws.judge.edge_functions import judge_edge_functions
from cf502.aws.judge.error_caching import judge_error_caching
from cf502.aws.judge.error_rates import judge_error_rates
from cf502.aws.judge.firewall import judge_firewall
from cf502.aws.judge.load_balancer import judge_load_balancer
from cf502.aws.origins import OriginKind, PlannedOrigin, elb_region, origins_for, plan_origin
from cf502.aws.read._fanout import fan_out
from cf502.aws.read.access_logs import read_access_logs
from cf502.aws.read.distribution import find_distribution, read_policies
from cf502.aws.read.edge import read_edge
from cf502.aws.read.elb import read_balancer
from cf502.aws.read.firewall import read_firewall
from cf502.aws.read.rates import read_rates
from cf502.aws.session import Account, AwsFailed, Denied, accounts_for
from cf502.model import CheckResult, Evidence, Status
from cf502.settings.aws import AwsSettings

__all__ = ["Resolution", "aws_checks", "resolve"]


@dataclass(frozen=True)
class Resolution:
    """The distribution found for a name, and the identity that can read it."""

    found: Found
    account: Account


def resolve(name: str, path: str, settings: AwsSettings) -> Resolution:
    """Find the distribution serving `name` and plan its origins for `path`.

    Raises NotInAccount (no distribution serves the name), Denied or AwsFailed (AWS could not be
    asked); the messages are one line for the user.
    """
    account, d, via = find_distribution(accounts_for(settings), name)
    behavior = behavior_for(d, path)
    if behavior is None:
        return Resolution(Found(d, via, account.label, path, None, None, ()), account)
    host = decide_host(behavior, *read_policies(account, behavior))
    # With Host forwarded, the origin sees the name the viewer asked for.
    viewer = None if is_distribution_id(name) else name.lower().rstrip(".")
    if viewer is None:
        viewer = d.aliases[0] if d.aliases and not d.aliases[0].startswith("*") else d.domain
    planned = tuple(
        plan_origin(o, path=path, viewer_host=viewer, host=host) for o in origins_for(d, behavior)
    )
    return Resolution(Found(d, via, account.label, path, behavior, host, planned), account)


def _guarded(check_id: str, read: Callable[[], CheckResult]) -> Callable[[], CheckResult]:
    """A reader+judge whose AWS refusals become the check's skip, never an exception."""

    def run() -> CheckResult:
        try:
            return read()
        except Denied as exc:
            return cannot_see(check_id, [exc.action])
        except AwsFailed as exc:
            return could_not_ask(check_id, str(exc))

    return run


def _origin_checks(res: Resolution, planned: PlannedOrigin) -> tuple[CheckResult, CheckResult]:
    """aws.load_balancer and aws.firewall for one origin."""
    origin, settings = planned.config, planned.settings
    if planned.kind == OriginKind.VPC:
        why = f"origin {origin.id} is a VPC origin: CloudFront reaches it inside the VPC"
        return (
            make(
                "aws.load_balancer",
                Status.SKIP,
                f"{why}; its load balancer is not read.",
                applies=False,
            ),
            make(
                "aws.firewall",
                Status.SKIP,
                f"{why}, through a security group CloudFront manages.",
                applies=False,
            ),
        )
    if planned.kind != OriginKind.ELB:
        what = f"origin {origin.id} ({origin.domain}) is a {planned.kind}, not a load balancer"
        return (
            make("aws.load_balancer", Status.SKIP, f"Not read: {what}.", applies=False),
            make(
                "aws.firewall",
                Status.SKIP,
                f"Not read: {what}; its firewall is not visible in AWS.",
                applies=False,
            ),
        )
    if settings is None:
        why = f"origin {origin.id}: {planned.unreachable}"
        return could_not_ask("aws.load_balancer", why), could_not_ask("aws.firewall", why)
    probe = settings
    try:
        reading = read_balancer(res.account, origin.domain, probe)
    except Denied as exc:
        return cannot_see("aws.load_balancer", [exc.action]), cannot_see(
            "aws.firewall", [exc.action]
        )
    except AwsFailed as exc:
        return could_not_ask("aws.load_balancer", str(exc)), could_not_ask("aws.firewall", str(exc))
    if reading is None:
        region = elb_region(origin.domain) or "us-east-1"
        why = f"no load balancer named {origin.domain} in {region} for {res.account.label}"
        return (
            make("aws.load_balancer", Status.SKIP, f"Cannot see: {why}."),
            make("aws.firewall", Status.SKIP, f"Cannot see: {why}."),
        )
    lb = judge_load_balancer(reading.balancer)
    if not reading.security_groups:
        fw = make(
            "aws.firewall",
            Status.SKIP,
            f"{reading.balancer.name} has no security groups (a network load balancer): the "
            "targets' security groups and network ACLs decide, and are not read.",
        )
        return lb, fw
    ports = tuple(sorted(set(reading.balancer.ports.values())))
    try:
        fw = judge_firewall(
            read_firewall(
                res.account,
                reading.balancer.region,
                reading.balancer.name,
                reading.security_groups,
                ports,
                probe.ip_address_type,
            )
        )
    except Denied as exc:
        fw = cannot_see("aws.firewall", [exc.action])
    except AwsFailed as exc:
        fw = could_not_ask("aws.firewall", str(exc))
    return lb, fw


def merge(results: list[CheckResult]) -> CheckResult:
    """One check's results for several origins as one: the worst, with every origin's evidence."""
    if len(results) == 1:
        return results[0]
    applying = [r for r in results if r.applies] or results
    worst = max(applying, key=lambda r: r.status.rank)
    evidence = tuple(
        Evidence(f"{i + 1}. {e.label}", e.value) for i, r in enumerate(results) for e in r.evidence
    )
    summary = " ".join(f"{i + 1}. {r.summary}" for i, r in enumerate(results))
    commands = tuple(dict.fromkeys(c for r in results for c in r.commands))
    return replace(
        worst,
        summary=summary,
        evidence=evidence,
        commands=commands,
        applies=any(r.applies for r in results),
    )


def aws_checks(
    res: Resolution, settings: AwsSettings, *, now: datetime | None = None
) -> tuple[CheckResult, ...]:
    """The `aws.*` checks for a resolved distribution, in the contract's order, within the
    operator's time budget; a reading that did not finish in time is a skip saying so."""
    started = time.monotonic()
    deadline = started + settings.timeout
    when = now or datetime.now(UTC)
    found = res.found
    d = found.distribution
    jobs: dict[str, Callable[[], CheckResult]] = {}
    if found.behavior is not None:
        behavior = found.behavior
        jobs["aws.edge_functions"] = _guarded(
            "aws.edge_functions",
            lambda: judge_edge_functions(
                read_edge(res.account, d, behavior, settings.regions, when, deadline - 0.5)
            ),
        )
    jobs["aws.error_rates"] = _guarded(
        "aws.error_rates", lambda: judge_error_rates(read_rates(res.account, d, when), when)
    )
    jobs["aws.access_logs"] = _guarded(
        "aws.access_logs", lambda: judge_access_logs(read_access_logs(res.account, d, when))
    )
    names = list(jobs)
    every: list[Callable[[], CheckResult | tuple[CheckResult, CheckResult]]] = list(jobs.values())
    every += [partial(_origin_checks, res, p) for p in found.origins]
    outcomes, _late = fan_out(every, deadline, workers=8)
    late = f"AWS did not answer within {settings.timeout:g} s"
    by_id: dict[str, CheckResult] = {}
    for name, outcome in zip(names, outcomes[: len(names)], strict=True):
        by_id[name] = outcome if isinstance(outcome, CheckResult) else _failure(name, outcome, late)
    lbs: list[CheckResult] = []
    fws: list[CheckResult] = []
    for p, outcome in zip(found.origins, outcomes[len(names) :], strict=True):
        if isinstance(outcome, tuple):
            lbs.append(outcome[0])
            fws.append(outcome[1])
        else:
            lbs.append(_failure("aws.load_balancer", outcome, late, p.config.id))
            fws.append(_failure("aws.firewall", outcome, late, p.config.id))
    if not found.origins:
        none = "no origin to read"
        lbs = [make("aws.load_balancer", Status.SKIP, f"Not read: {none}.", applies=False)]
        fws = [make("aws.firewall", Status.SKIP, f"Not read: {none}.", applies=False)]
    if "aws.edge_functions" not in by_id:
        by_id["aws.edge_functions"] = make(
            "aws.edge_functions", Status.SKIP, "Not read: no cache behavior.", applies=False
        )
    return (
        judge_distribution(found),
        by_id["aws.edge_functions"],
        by_id["aws.error_rates"],
        merge(lbs),
        merge(fws),
        judge_error_caching(d, found.path),
        by_id["aws.access_logs"],
    )


def _failure(check_id: str, outcome: object, late: str, origin: str | None = None) -> CheckResult:
    where = f" (origin {origin})" if origin else ""
    if isinstance(outcome, TimeoutError):
        return could_not_ask(check_id, late + where)
    return make(check_id, Status.ERROR, f"Reading AWS failed{where}: {str(outcome)[:200]}.")
