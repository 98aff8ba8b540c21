"""`dns.authoritative`: every name server of the origin's zone answers the same, authoritatively.

It asks each name server of the origin's zone directly: one lame, silent or stale server fails only
the lookups CloudFront's resolvers happen to send it, which is how intermittent 502s look.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import TypeVar

from cf502.checks.base import result
from cf502.checks.dns._lookup import ZoneSurvey
from cf502.checks.dns._wire import ServerAnswer, shorten
from cf502.checks.dns.resolve import dig_argv, zone_survey
from cf502.checks.probe import Probe
from cf502.model import Affects, CheckResult, Scope, Status
from cf502.settings import OriginSettings
from cf502.shell import sh

__all__ = ["Authoritative", "judge_authoritative", "zone_survey"]

T = TypeVar("T")


class Authoritative:
    """`dns.authoritative`: every name server of the origin's zone answers, authoritatively, the
    same records and SOA serial."""

    id = "dns.authoritative"
    title = "Authoritative name servers"

    def prerequisites(self, origin: OriginSettings) -> tuple[str, ...]:
        return ()

    async def run(self, probe: Probe) -> CheckResult:
        survey = await zone_survey(probe)
        return judge_authoritative(self, survey, server=probe.engine.resolver)


def _lame_text(s: ServerAnswer, survey: ZoneSurvey) -> str:
    zone = survey.zone
    match s.status:
        case "silent":
            return f"{s.who} did not answer within {survey.timeout:g} s"
        case "refused":
            return f"{s.who} answers REFUSED (it does not serve the zone {zone})"
        case "servfail":
            return f"{s.who} answers SERVFAIL"
        case "rcode":
            return f"{s.who} answers {s.detail}"
        case "not-authoritative":
            return f"{s.who} answers non-authoritatively (no AA flag)"
        case "no-soa":
            return f"{s.who} has no SOA record for {zone}"
        case "closed":
            return f"{s.who} refuses connections on port {survey.port} (no DNS server running)"
        case _:
            return f"{s.who} sent an unusable answer ({s.detail})"


def _majority(servers: Sequence[ServerAnswer], key: Callable[[ServerAnswer], T]) -> T:
    """The most common value of `key`; on a tie, the value of the first server listed."""
    counts = Counter(key(s) for s in servers)
    best = max(counts.values())
    return next(key(s) for s in servers if counts[key(s)] == best)


def _answers(s: ServerAnswer) -> tuple[str, ...]:
    return s.answers


def _serial(s: ServerAnswer) -> int | None:
    return s.serial


def _answers_text(answers: Sequence[str]) -> str:
    return "; ".join(shorten(a) for a in answers)


def _disagreements(
    ok: Sequence[ServerAnswer], key: Callable[[ServerAnswer], object]
) -> list[ServerAnswer]:
    """The servers whose `key` differs from the majority's."""
    if len({key(s) for s in ok}) <= 1:
        return []
    common = _majority(ok, key)
    return [s for s in ok if key(s) != common]


def _skip_text(s: ServerAnswer) -> str:
    if s.status == "blocked":
        return f"{s.who} is {s.detail}"
    return f"{s.who} is unreachable from here ({s.detail})"


def _remediation(survey: ZoneSurvey, lame: Sequence[ServerAnswer], disagree: bool) -> str:
    zone = survey.zone
    fixes: list[str] = []
    if any(s.status == "silent" for s in lame):
        fixes.append(
            "make every listed name server answer on UDP and TCP port 53 from the internet "
            "(server down, or a firewall dropping DNS)"
        )
    if any(s.status not in ("silent",) for s in lame):
        fixes.append(
            f"every server in the NS records of {zone} (and in the delegation at the parent "
            "zone/registrar) must serve the zone authoritatively: load the zone on it, or "
            "remove it from the NS set"
        )
    if survey.unresolved:
        fixes.append(
            "give every name-server name an address (A/AAAA record, and glue at the parent), "
            "or remove it from the NS set"
        )
    if disagree:
        fixes.append(
            f"bring the servers back in sync (zone transfers/NOTIFY, or the same record for "
            f"{survey.name} everywhere)"
        )
    text = "; ".join(fixes)
    return text[0].upper() + text[1:] + "."


def _auth_commands(survey: ZoneSurvey, server: str | None, with_soa: bool) -> list[str]:
    commands: list[str] = []
    if survey.zone:
        commands.append(sh(*dig_argv(server), "NS", survey.zone, "+short"))
    port = ["-p", str(survey.port)] if survey.port != 53 else []
    for s in survey.servers:
        if not s.queried:
            continue  # never suggest querying an address we refused to query
        for rdtype in survey.types:
            commands.append(sh("dig", f"@{s.address}", *port, survey.name, rdtype, "+norec"))
        if with_soa and survey.zone:
            commands.append(
                sh("dig", f"@{s.address}", *port, survey.zone, "SOA", "+norec", "+short")
            )
    commands.append(sh(*dig_argv(server), "+short", survey.name))
    return commands


def _server_evidence(survey: ZoneSurvey) -> list[tuple[str, object]]:
    ev: list[tuple[str, object]] = [
        ("zone", survey.zone or "not found"),
        ("name servers (NS)", ", ".join(survey.ns_names) or "none"),
        ("resolver", survey.resolver),
    ]
    for s in survey.servers:
        if s.status == "ok":
            text = f"authoritative; {_answers_text(s.answers)}; SOA serial {s.serial}"
        elif s.status == "blocked":
            text = f"not queried: {s.detail}"
        else:
            text = f"{s.status}" + (f" ({s.detail})" if s.detail else "")
            if s.answers:
                text += f"; {_answers_text(s.answers)}"
        if s.queried:
            text += f"; {s.elapsed_ms:.0f} ms" + (
                " (TCP after a truncated UDP answer)" if s.tcp else ""
            )
        ev.append((s.who, text))
    for ns, why in survey.unresolved:
        ev.append((ns, f"no address ({why})"))
    if survey.left_out:
        ev.append(("not queried", f"{survey.left_out} more NS names/addresses over the cap"))
    return ev


def judge_authoritative(
    check: Authoritative, survey: ZoneSurvey, *, server: str | None = None
) -> CheckResult:
    """Pure verdict over a ZoneSurvey."""
    ok = [s for s in survey.servers if s.status == "ok"]
    lame = [s for s in survey.servers if s.lame]
    skipped = [s for s in survey.servers if not s.queried]
    answer_drift = _disagreements(ok, _answers)
    serial_drift = _disagreements([s for s in ok if s not in answer_drift], _serial)
    commands = _auth_commands(survey, server, with_soa=bool(serial_drift))
    ev = _server_evidence(survey)
    if survey.error is not None or survey.zone is None:
        return result(
            check,
            Status.ERROR,
            f"Could not find the name servers of {survey.name}'s zone through "
            f"{survey.resolver or 'the resolver'}: {survey.error}.",
            evidence=ev,
            commands=commands,
        )
    problems = [_lame_text(s, survey) for s in lame]
    problems += [f"{ns} has no address ({why})" for ns, why in survey.unresolved]
    if answer_drift:
        common = _answers_text(_majority(ok, _answers))
        problems += [
            f"{s.who} answers {_answers_text(s.answers)} where the others answer {common}"
            for s in answer_drift
        ]
    total = len(survey.servers) - len(skipped) + len(survey.unresolved)
    if problems:
        bad = len(lame) + len(survey.unresolved) + len(answer_drift)
        if bad < total:
            share = round(100 * bad / total)
            summary = (
                f"Intermittent: {bad} of {total} name servers of {survey.zone} misbehave: "
                f"{'; '.join(problems)}. Resolvers pick among the servers, so about {share}% of "
                f"CloudFront's lookups of {survey.name} can fail or get a different answer."
            )
        else:
            summary = (
                f"None of the {total} name servers of {survey.zone} answers properly: "
                f"{'; '.join(problems)}."
            )
        return result(
            check,
            Status.FAIL,
            summary,
            evidence=ev,
            remediation=_remediation(survey, lame, bool(answer_drift)),
            commands=commands,
            cloudfront_status=502,
            cloudfront_error="OriginDnsError",
            # Resolvers retry another server, so a few bad ones fail a share of lookups only.
            affects=Affects(Scope.SHARE if bad < total else Scope.ALL, bad, total),
        )
    if not ok:
        why = "; ".join(_skip_text(s) for s in skipped) or "no name server listed"
        return result(
            check,
            Status.ERROR,
            f"No name server of {survey.zone} could be queried: {why}.",
            evidence=ev,
            commands=commands,
        )
    common_serial = _majority(ok, _serial)
    agreed = f"{survey.name} {_answers_text(ok[0].answers)}"
    if serial_drift:
        drift = "; ".join(f"{s.who} has {s.serial}" for s in serial_drift)
        return result(
            check,
            Status.WARN,
            f"The {len(ok)} name servers of {survey.zone} agree on {agreed}, but their SOA serials "
            f"differ: {drift} where the others have {common_serial}. A secondary server is not "
            "getting zone updates, so the next change may reach only some resolvers.",
            evidence=ev,
            remediation=(
                f"Check zone transfers (AXFR/IXFR and NOTIFY) from the primary of {survey.zone} "
                "to the lagging servers."
            ),
            commands=commands,
        )
    listed = ", ".join(s.who for s in ok)
    servers = "name servers" if len(ok) == len({s.ns for s in ok}) else "name-server addresses"
    summary = (
        f"All {len(ok)} {servers} of {survey.zone} answer authoritatively and agree: "
        f"{agreed}; SOA serial {common_serial}; servers: {listed}."
    )
    if skipped:
        not_asked = "; ".join(_skip_text(s) for s in skipped)
        why = (
            " CloudFront's resolvers cannot use such addresses either."
            if any(s.status == "blocked" for s in skipped)
            else ""
        )
        return result(
            check,
            Status.WARN,
            f"{summary[:-1]}; not queried: {not_asked}.{why}",
            evidence=ev,
            remediation=(
                f"List only publicly reachable name servers in the NS records of {survey.zone}."
            ),
            commands=commands,
        )
    return result(check, Status.PASS, summary, evidence=ev, commands=commands)
