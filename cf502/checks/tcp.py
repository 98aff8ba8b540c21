"""TCP checks: `tcp.https` and `tcp.http` against every vetted address."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from cf502.checks.base import address_affects, result
from cf502.checks.probe import Probe
from cf502.deadlines import Deadlines
from cf502.model import CheckResult, Status
from cf502.net import ConnectOutcome, connect
from cf502.settings import OriginSettings
from cf502.shell import sh

__all__ = ["PortOpen", "judge_ports", "port_outcomes"]


def _connect_to(host: str, port: int, address: str) -> str:
    target = f"[{address}]" if ":" in address else address
    return f"{host}:{port}:{target}:{port}"


async def port_outcomes(probe: Probe, scheme: str) -> tuple[ConnectOutcome, ...]:
    """Connect once to every vetted address on the scheme's port (shared with other checks)."""
    port = probe.origin.https_port if scheme == "https" else probe.origin.http_port

    async def outcome(address: str) -> ConnectOutcome:
        opened = probe.opened(address, port)
        if opened is not None:  # the connection CloudFront's handshake will use: not another one
            return (await asyncio.shield(opened))[0]
        return await connect(address, port, probe.deadlines.connect)

    async def observe() -> tuple[ConnectOutcome, ...]:
        return tuple(await asyncio.gather(*(outcome(a) for a in probe.addresses)))

    return await probe.once(("tcp", scheme), observe)


class PortOpen:
    """`tcp.https` / `tcp.http`: the origin port accepts connections on every address."""

    def __init__(self, scheme: str) -> None:
        self.scheme = scheme
        self.id = f"tcp.{scheme}"
        self.title = f"{scheme.upper()} port"

    def prerequisites(self, origin: OriginSettings) -> tuple[str, ...]:
        return ("dns.resolve",)

    def applies(self, origin: OriginSettings) -> bool:
        policy = origin.protocol_policy
        return policy.uses_https if self.scheme == "https" else policy.uses_http

    async def run(self, probe: Probe) -> CheckResult:
        if not self.applies(probe.origin):
            return result(
                self,
                Status.SKIP,
                f"Not used: the origin protocol policy is {probe.origin.protocol_policy.value}.",
                applies=False,
            )
        outcomes = await port_outcomes(probe, self.scheme)
        return judge_ports(
            self, probe.host, outcomes, probe.origin, probe.deadlines, untested=probe.untested
        )


def _commands(
    check: PortOpen, host: str, outcomes: Sequence[ConnectOutcome], timeout: float
) -> list[str]:
    cmds: list[str] = []
    for o in outcomes:
        cmds.append(sh("nc", "-vz", "-w", f"{timeout:g}", o.address, o.port))
    if outcomes:
        o = outcomes[0]
        url = f"{check.scheme}://{host}:{o.port}/"
        cmds.append(
            sh(
                "curl",
                "-sv",
                "-o",
                "/dev/null",
                "--connect-timeout",
                f"{timeout:g}",
                "--connect-to",
                _connect_to(host, o.port, o.address),
                url,
            )
        )
    return cmds


def judge_ports(
    check: PortOpen,
    host: str,
    outcomes: Sequence[ConnectOutcome],
    origin: OriginSettings,
    deadlines: Deadlines,
    *,
    untested: int = 0,
) -> CheckResult:
    """Pure verdict over the per-address connection outcomes (`untested`: addresses of the name
    left out by the engine's cap)."""
    commands = _commands(check, host, outcomes, deadlines.connect)
    ev = [
        (
            f"{o.address} port {o.port}",
            f"{o.status} in {o.elapsed_ms:.0f} ms" + (f": {o.detail}" if o.detail else ""),
        )
        for o in outcomes
    ]
    if not outcomes:
        return result(check, Status.ERROR, "No vetted address to connect to.", commands=commands)
    tested = ""
    if untested:
        total = len(outcomes) + untested
        tested = f" ({len(outcomes)} of {total} addresses tested)"
        ev.append(("addresses not tested", f"{untested} more (at most {len(outcomes)} are tested)"))
    port = outcomes[0].port
    bad = [o for o in outcomes if o.status != "open"]
    if not bad:
        addrs = ", ".join(o.address for o in outcomes)
        return result(
            check,
            Status.PASS,
            f"Port {port} is open on {addrs}{tested}.",
            evidence=ev,
            commands=commands,
        )
    timed_out = [o for o in bad if o.status == "timeout"]
    refused = [o for o in bad if o.status != "timeout"]
    parts = []
    if refused:
        parts.append(
            f"{', '.join(o.address for o in refused)} refused port {port}"
            if all(o.status == "refused" for o in refused)
            else f"{', '.join(f'{o.address} ({o.status})' for o in refused)} failed on port {port}"
        )
    if timed_out:
        parts.append(
            f"{', '.join(o.address for o in timed_out)} did not answer on port {port} "
            f"within {deadlines.connect:g} s"
        )
    summary = "; ".join(parts)
    if timed_out and not refused:
        cf_status, cf_error = 504, "OriginCommError"
        fix = (
            f"Allow CloudFront's origin-facing IP ranges (managed prefix list "
            f"com.amazonaws.global.cloudfront.origin-facing) to port {port} in the origin's "
            f"firewall/security group. Dropped connections make CloudFront wait "
            f"{deadlines.connect:g} s x {origin.connection_attempts} attempts "
            f"= {deadlines.connect_total:g} s, then answer 504."
        )
    else:
        cf_status, cf_error = 502, "OriginConnectError"
        fix = (
            f"Start the web server on port {port} of the origin (or fix the origin's "
            f"{check.scheme.upper()} port setting in CloudFront), and make sure the firewall "
            "does not reject CloudFront's origin-facing IP ranges."
        )
    if len(bad) < len(outcomes):
        share = round(100 * len(bad) / len(outcomes))
        summary = (
            f"Intermittent: {len(bad)} of {len(outcomes)} addresses fail{tested}: {summary}. "
            f"CloudFront picks among the addresses, so about {share}% of requests fail; the "
            "other checks judge the addresses that connect."
        )
        fix = (
            f"Remove the dead address(es) {', '.join(o.address for o in bad)} from DNS or "
            f"bring them back: {fix}"
        )
    else:
        summary = summary[0].upper() + summary[1:] + f"{tested}."
    return result(
        check,
        Status.FAIL,
        summary,
        evidence=ev,
        remediation=fix,
        commands=commands,
        cloudfront_status=cf_status,
        cloudfront_error=cf_error,
        affects=address_affects(len(bad), len(outcomes)),
    )
