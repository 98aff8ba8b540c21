"""`dns.resolve`: the origin name resolves, through the configured resolver, as CloudFront's would.

CloudFront resolves the origin name through public DNS before every origin connection, and fails
with 502 (OriginDnsError) when that fails. This check asks the configured resolver; its answer
(`resolution`, shared through the probe) is also what the engine vets and connects to.
"""

from __future__ import annotations

from cf502.checks.base import result
from cf502.checks.dns._lookup import Resolution, ZoneSurvey, resolve_origin, survey_zone
from cf502.checks.dns._wire import AwsEndpoint, aws_endpoint, shorten
from cf502.checks.probe import Probe
from cf502.model import CheckResult, Status
from cf502.settings import OriginSettings, ProtocolPolicy, parse_resolver
from cf502.shell import sh

__all__ = [
    "Resolve",
    "dig_argv",
    "judge_resolution",
    "resolution",
    "start_zone_survey",
    "zone_survey",
]


async def resolution(probe: Probe) -> Resolution:
    """The shared A/AAAA observation of the origin name (resolved once per diagnosis)."""
    return await probe.once("dns.resolution", lambda: resolve_origin(probe))


async def _survey(probe: Probe) -> ZoneSurvey:
    res = await resolution(probe)
    # Ask for AAAA only when the origin has IPv6 addresses: one query fewer per server.
    types = ("A", "AAAA") if any(":" in a for a in res.addresses) else ("A",)
    return await survey_zone(probe, types, res.zone)


def start_zone_survey(probe: Probe) -> None:
    """Start the survey of the zone's name servers now: it needs only the resolution, so the
    engine starts it before the checks' registry has loaded (its three round trips end before
    CloudFront's request does, instead of after)."""
    probe.begin("dns.zone", lambda: _survey(probe))


async def zone_survey(probe: Probe) -> ZoneSurvey:
    """The shared survey of the origin zone's name servers (dns.authoritative; once per
    diagnosis)."""
    return await probe.once("dns.zone", lambda: _survey(probe))


def dig_argv(server: str | None) -> list[str]:
    """`dig` aimed at the operator's resolver, when one is configured."""
    if not server:
        return ["dig"]
    ip, port = parse_resolver(server)
    return ["dig", f"@{ip}", *(["-p", str(port)] if port != 53 else [])]


class Resolve:
    """`dns.resolve`: the origin name resolves to at least one address."""

    id = "dns.resolve"
    title = "DNS resolution"

    def prerequisites(self, origin: OriginSettings) -> tuple[str, ...]:
        return ()

    async def run(self, probe: Probe) -> CheckResult:
        res = await resolution(probe)
        return judge_resolution(
            self,
            res,
            server=probe.engine.resolver,
            timeout=probe.deadlines.dns,
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
    "unreachable": "the resolver {resolver} could not be reached; check --resolver or the network",
    "silent": "the resolver {resolver} did not answer (not even a query for the root zone); check "
    "--resolver or the network",
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
    dig = dig_argv(server)
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
            check, Status.ERROR, f"Could not check: {text}.", evidence=ev, commands=commands
        )
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
