"""DNS checks: `dns.resolve` and `dns.authoritative`.

CloudFront resolves the origin name through public DNS before every origin connection, and fails
with 502 (OriginDnsError) when that fails. `dns.resolve` asks the configured resolver, as
CloudFront's resolvers would; its answer is also what the engine vets and connects to.
`dns.authoritative` asks each name server of the origin's zone directly: one lame, silent or stale
server fails only the lookups that happen to reach it, which is how intermittent 502s look.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import TypeVar

from cf502.checks._dns_lookup import (
    Resolution,
    ZoneSurvey,
    make_resolver,
    resolve_origin,
    survey_zone,
)
from cf502.checks._dns_wire import AwsEndpoint, ServerAnswer, aws_endpoint, shorten
from cf502.checks.base import result
from cf502.commands import sh
from cf502.config import OriginSettings, ProtocolPolicy, parse_resolver
from cf502.model import CheckResult, Status
from cf502.probe import Probe

__all__ = [
    "Authoritative",
    "Resolution",
    "Resolve",
    "ZoneSurvey",
    "judge_authoritative",
    "judge_resolution",
    "make_resolver",
    "resolution",
    "zone_survey",
]

T = TypeVar("T")


async def resolution(probe: Probe) -> Resolution:
    """The shared A/AAAA observation of the origin name (resolved once per diagnosis)."""
    return await probe.once("dns.resolution", lambda: resolve_origin(probe))


async def zone_survey(probe: Probe) -> ZoneSurvey:
    """The shared survey of the origin zone's name servers (once per diagnosis)."""

    async def observe() -> ZoneSurvey:
        res = await resolution(probe)
        # Ask for AAAA only when the origin has IPv6 addresses: one query fewer per server.
        types = ("A", "AAAA") if any(":" in a for a in res.addresses) else ("A",)
        return await survey_zone(probe, types)

    return await probe.once("dns.zone", observe)


def _dig(server: str | None) -> list[str]:
    """`dig` aimed at the operator's resolver, when one is configured."""
    if not server:
        return ["dig"]
    ip, port = parse_resolver(server)
    return ["dig", f"@{ip}", *(["-p", str(port)] if port != 53 else [])]


# ---------------------------------------------------------------------------------------------
# dns.resolve


class Resolve:
    """`dns.resolve`: the origin name resolves to at least one address."""

    id = "dns.resolve"
    title = "Origin name resolves"

    def prerequisites(self, origin: OriginSettings) -> tuple[str, ...]:
        return ()

    async def run(self, probe: Probe) -> CheckResult:
        res = await resolution(probe)
        return judge_resolution(
            self,
            res,
            server=probe.engine.resolver,
            timeout=probe.engine.dns_timeout,
            policy=probe.origin.protocol_policy,
            host_header=probe.origin.host_header,
        )


_FAILURES = {
    "nxdomain": "{target} does not exist (NXDOMAIN) according to {resolver}",
    "nodata": "{target} exists but has no A or AAAA record (NODATA) according to {resolver}",
    "servfail": (
        "{target} could not be resolved: the resolver {resolver} answered SERVFAIL (the zone's "
        "name servers fail, or its DNSSEC does not validate)"
    ),
    "timeout": "{target} could not be resolved: {resolver} gave no answer within {timeout:g} s",
}
# The resolver itself is unusable: our environment, not the origin, so the check cannot run.
_UNUSABLE = {
    "refused": "the resolver {resolver} refused to resolve {name} (REFUSED); it does not serve "
    "recursion to this host: set another resolver",
    "unreachable": "the resolver {resolver} could not be reached",
    "noresolver": "no resolver is configured on this host: set one with --resolver",
    "error": "the resolver {resolver} failed",
}


def _failure_summary(res: Resolution, timeout: float, endpoint: AwsEndpoint | None) -> str:
    if res.cname_chain and res.error == "nxdomain":
        text = (
            f"{res.name} is an alias (CNAME) of {res.cname_chain[-1]}, which does not exist "
            f"(NXDOMAIN) according to {res.resolver}"
        )
    elif res.cname_chain and res.error == "nodata":
        text = (
            f"{res.name} is an alias (CNAME) of {res.cname_chain[-1]}, which has no A or AAAA "
            f"record (NODATA) according to {res.resolver}"
        )
    else:
        template = _FAILURES[res.error or "nodata"]
        text = template.format(target=res.name, resolver=res.resolver, timeout=timeout)
    if endpoint is not None and res.error == "nxdomain" and endpoint.name != res.name:
        text += f": the {endpoint.noun} it points to was probably deleted or renamed"
    return text + "."


def _endpoint_notes(
    endpoint: AwsEndpoint, name: str, policy: ProtocolPolicy, host_header: str | None
) -> tuple[str, str]:
    """(problem, fix) for an AWS endpoint CloudFront cannot use as configured; empty when fine."""
    if endpoint.kind == "s3-website" and policy.uses_https:
        return (
            f"S3 website endpoints serve HTTP only (port 80) and the origin protocol policy is "
            f"{policy.value}",
            "Use the http-only origin protocol policy for this origin (S3 website endpoints do "
            "not support HTTPS), or use the bucket's REST endpoint with origin access control.",
        )
    if endpoint.internal:
        return (
            "it is an internal load balancer, which CloudFront cannot reach over the internet",
            "Use an internet-facing load balancer, or a CloudFront VPC origin for the internal one.",
        )
    if endpoint.kind == "api-gateway" and host_header and endpoint.name == name:
        if host_header != name:
            return (
                "API Gateway rejects requests whose Host header is not its own name, and the "
                f"Host header {host_header} is forwarded",
                "Do not forward the viewer's Host header to API Gateway (use a cache/origin "
                "request policy without Host), or map the custom domain in API Gateway.",
            )
    return "", ""


def _endpoint_about(endpoint: AwsEndpoint) -> str:
    if endpoint.kind == "elb":
        return (
            f"{endpoint.label}: its addresses change over time, so CloudFront must use the name "
            "(as here), never a copied address"
        )
    if endpoint.kind == "s3-website":
        return f"{endpoint.label}: HTTP only, port 80"
    return f"{endpoint.label}: needs SNI and its own name as Host header"


def judge_resolution(
    check: Resolve,
    res: Resolution,
    *,
    server: str | None,
    timeout: float = 5.0,
    policy: ProtocolPolicy = ProtocolPolicy.HTTPS_ONLY,
    host_header: str | None = None,
) -> CheckResult:
    """Pure verdict over a Resolution."""
    dig = _dig(server)
    commands = [sh(*dig, "+short", res.name, "A"), sh(*dig, "+short", res.name, "AAAA")]
    ev: list[tuple[str, object]] = [("resolver", res.resolver)]
    if res.cname_chain:
        ev.append(("CNAME chain", " -> ".join((res.name, *res.cname_chain))))
    endpoint = aws_endpoint((res.name, *res.cname_chain))
    if endpoint is not None:
        ev.append(("AWS endpoint", _endpoint_about(endpoint)))
    if res.error in _UNUSABLE:
        ev.append(("error", res.detail or res.error))
        text = _UNUSABLE[res.error].format(name=res.name, resolver=res.resolver)
        return result(
            check, Status.ERROR, f"Could not resolve {res.name}: {text}.", evidence=ev,
            commands=commands,
        )  # fmt: skip
    if res.error is not None:
        ev.append(("error", res.detail or res.error))
        fix = (
            "Fix the origin's DNS record: CloudFront resolves the origin domain name through "
            "public DNS, so it must have an A or AAAA record there (check the zone's name "
            "servers and its delegation at the parent zone)."
        )
        if res.cname_chain:
            fix = (
                f"Point the CNAME record of {res.name} at a name that exists and has an address "
                f"(now {res.cname_chain[-1]}), or restore that target."
            )
        return result(
            check,
            Status.FAIL,
            _failure_summary(res, timeout, endpoint),
            evidence=ev,
            remediation=fix,
            commands=commands,
            cloudfront_status=502,
            cloudfront_error="OriginDnsError",
        )
    v4 = [a for a in res.addresses if ":" not in a]
    v6 = [a for a in res.addresses if ":" in a]
    ev.append(("IPv4 addresses (A)", shorten(", ".join(v4)) if v4 else "none"))
    ev.append(("IPv6 addresses (AAAA)", shorten(", ".join(v6)) if v6 else "none"))
    summary = f"{res.name} resolves to {shorten(', '.join(res.addresses))}"
    if res.cname_chain:
        summary += f" via {' -> '.join(res.cname_chain)}"
    if endpoint is not None:
        summary += f" ({endpoint.label})"
    problem, fix = (
        _endpoint_notes(endpoint, res.name, policy, host_header) if endpoint else ("", "")
    )
    if problem:
        return result(
            check,
            Status.WARN,
            f"{summary}, but {problem}.",
            evidence=ev,
            remediation=fix,
            commands=commands,
        )
    return result(check, Status.PASS, summary + ".", evidence=ev, commands=commands)


# ---------------------------------------------------------------------------------------------
# dns.authoritative


class Authoritative:
    """`dns.authoritative`: every name server of the origin's zone answers, authoritatively, the
    same records and SOA serial."""

    id = "dns.authoritative"
    title = "Zone's name servers answer consistently"

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
        commands.append(sh(*_dig(server), "NS", survey.zone, "+short"))
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
    commands.append(sh(*_dig(server), "+short", survey.name))
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
