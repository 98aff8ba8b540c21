"""`cf502 check TARGET`: diagnose one origin here, or on the worker pool with `--redis-url`."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from cf502.cli.terminal import log_to_stderr, report_width, use_color
from cf502.options import (
    UsageError,
    add_engine_options,
    add_origin_options,
    diagnosis_of,
    engine_from_args,
)
from cf502.settings import AWS, SAFETY, AwsSettings, EngineSettings, OriginSettings, given
from cf502.settings import add_options as add_setting_options
from cf502.target import Target

if TYPE_CHECKING:
    from cf502.firstconnect import FirstConnections
    from cf502.firstquery import FirstQueries
    from cf502.model import CheckResult, Report
    from cf502.pool.jobs import Job

# asyncio, the engine and the renderers are imported by `run`, not here: `cf502 check --help` and
# the other subcommands build this parser without them (tests/test_layers.py holds the budget).

__all__ = ["add_options", "job_from_args", "run"]

EXIT_OK, EXIT_FAILED = 0, 1

# A job carries the origin settings only: the workers' own safety (and AWS) settings apply to it.
_NOT_IN_A_JOB = tuple(s for s in SAFETY + AWS if s.operator_only and not s.job_request)


EXAMPLES = (
    ("cf502 check origin.example.com", "CloudFront's defaults: HTTPS on port 443"),
    ("cf502 check https://origin.example.com:8443/health", "another port, a path"),
    ("cf502 check origin.example.com --host-header www.example.com", "the Host forwarded"),
    ("cf502 check www.example.com --origin origin.example.com", "a CloudFront site's origin"),
    ("cf502 check www.example.com --aws", "its distribution's origins, read from AWS"),
    ("cf502 check origin.example.com --only tls.cert.expiry --json", "one check, as JSON"),
)
EXIT_CODES = (
    (0, "no check failed"),
    (1, "a check failed, or could not run (error)"),
    (2, "bad input or usage (one line on stderr)"),
    (3, "an unexpected internal error (one line on stderr)"),
)


def epilog() -> str:
    """Examples, exit status and the check ids, after the options in `cf502 check --help`."""
    from cf502.checks.catalog import CATALOG

    lines = ["examples:"]
    lines += [f"  # {what}\n  {command}" for command, what in EXAMPLES]
    lines += ["", "exit status:"]
    lines += [f"  {code}  {meaning}" for code, meaning in EXIT_CODES]
    lines += ["", "check ids (for --only), upstream first:"]
    width = max(len(check_id) for check_id, _ in CATALOG)
    lines += [f"  {check_id:<{width}}  {fails}" for check_id, fails in CATALOG]
    return "\n".join(lines)


def add_options(check: argparse.ArgumentParser) -> None:
    check.formatter_class = argparse.RawDescriptionHelpFormatter
    check.epilog = epilog()
    check.add_argument(
        "target",
        help="origin host, host:port or URL (https://host:8443/path); with --origin, the "
        "CloudFront site",
    )
    check.add_argument("--json", action="store_true", help="print one JSON report on stdout")
    check.add_argument("-v", "--verbose", action="store_true", help="show evidence for every check")
    check.add_argument("--no-color", action="store_true", help="no colours in the human report")
    check.add_argument(
        "--redis-url",
        metavar="URL",
        help="run the diagnosis on the worker pool at URL (the workers' safety settings apply)",
    )
    add_origin_options(check)
    add_engine_options(check)
    add_setting_options(check.add_argument_group("read-only AWS (operator only)"), AWS)


def _aws_request(args: argparse.Namespace) -> dict[str, str]:
    """`--aws` with `--redis-url`: the job asks the workers to read its distribution."""
    from cf502.settings.aws import JOB_REQUEST

    return dict([JOB_REQUEST]) if getattr(args, "enabled", None) else {}


def job_from_args(args: argparse.Namespace, target: Target, origin: OriginSettings) -> Job:
    """The job `cf502 check --redis-url` submits; refuses the operator-only options."""
    from cf502.pool.jobs import Job, JobKind

    for setting in _NOT_IN_A_JOB:
        if getattr(args, setting.attr, None) is not None:
            raise UsageError(
                f"{setting.flag} is a worker setting: with --redis-url the workers' own settings "
                "apply."
            )
    return Job(
        JobKind.DIAGNOSE,
        target=target.to_dict(),
        origin=origin.to_dict(),
        only=tuple(args.only or ()),
        allow_private=True if getattr(args, "allow_private", None) else None,
        requested_by={"via": "cli", **_aws_request(args)},
    )


def aws_from_args(args: argparse.Namespace, environ: dict[str, str] | None = None) -> AwsSettings:
    """The operator's AWS settings: the `CF502_AWS*` variables, then the options given."""
    base = AwsSettings.from_environ(dict(os.environ) if environ is None else environ)
    return replace(base, **given(args, AWS))


def _is_distribution_id(text: str) -> bool:
    from cf502.aws.find import is_distribution_id  # pure; no boto3

    return is_distribution_id(text.strip())


def _check_only(only: list[str] | None) -> None:
    """Unknown check ids are refused before AWS is asked (the aws.* ids are known here too)."""
    if not only:
        return
    from cf502.aws.judge import CHECK_IDS
    from cf502.engine import selection

    unknown = [c for c in only if c.startswith("aws.") and c not in CHECK_IDS]
    if unknown:
        raise UsageError(f"Unknown check id {unknown[0]!r}; the AWS ones: {', '.join(CHECK_IDS)}.")
    selection([c for c in only if not c.startswith("aws.")], OriginSettings())


async def _distribution_report(args: argparse.Namespace, aws: AwsSettings) -> Report | None:
    """The site's report through its distribution, or None when AWS finds none for a name (then
    the name is diagnosed as given). A distribution id that cannot be read is a usage error."""
    from cf502.aws.diagnose import diagnose_distribution
    from cf502.aws.read.distribution import NotInAccount
    from cf502.aws.session import AwsFailed, Denied
    from cf502.target import parse_target

    text = args.target.strip()
    by_id = _is_distribution_id(text)
    target = None if by_id else parse_target(text)
    name = text if by_id else (target.host if target else text)
    path = args.path or (target.path if target and target.path else "/")
    engine = engine_from_args(args, EngineSettings())
    _check_only(args.only)
    try:
        return await diagnose_distribution(
            name, path=path, engine=engine, aws=aws, target=target, only=args.only
        )
    except (NotInAccount, Denied, AwsFailed) as exc:
        if by_id:
            raise UsageError(f"AWS: {exc}.") from None
        sys.stderr.write(f"cf502: AWS: {exc}; diagnosing {name} as given.\n")
        return None


@dataclass(frozen=True)
class _Diagnosis:
    """What the command line asks to diagnose, read and validated before any packet."""

    target: Target
    origin: OriginSettings
    engine: EngineSettings
    first_queries: FirstQueries | None = None  # the name's A/AAAA queries, already sent


def _through_aws(args: argparse.Namespace) -> bool:
    """A site diagnosed through its distribution: AWS says which origins (and names) to diagnose."""
    aws = aws_from_args(args)
    return (
        (aws.enabled or _is_distribution_id(args.target)) and not args.origin and not args.redis_url
    )


def _diagnosis(args: argparse.Namespace, *, send_first: bool) -> _Diagnosis:
    """The target and settings of the command line. With `send_first`, for a diagnosis here (not
    on the workers), the name's A and AAAA queries go out now, unless `cf502.entry` sent those
    very ones already: their replies arrive while asyncio, dnspython and the engine load, and
    the resolution takes them."""
    target, origin = diagnosis_of(args.target, args)
    engine = engine_from_args(args, EngineSettings())
    if args.only:  # unknown ids are refused here, before any packet or job (with --redis-url)
        from cf502.checks.selection import selection  # loads the registry: only for --only

        selection(args.only, origin)
    if not send_first or args.redis_url:
        return _Diagnosis(target, origin, engine)
    from cf502.firstquery import claim, send_first_queries  # standard library only: ~1 ms

    # Sent before the command line was parsed (`cf502.entry`), when they are this diagnosis's.
    queries = claim(target.host, engine.resolver_address)
    if queries is None:
        queries = send_first_queries(target.host, engine.resolver_address)
    from cf502.checks.selection import opens_connections  # after the packet; light w/o --only

    if opens_connections(args.only, origin):
        queries.connections = _first_connections(queries, target, origin, engine, args.only)
        _first_hello(queries.connections, target, engine.bound(origin))
    return _Diagnosis(target, origin, engine, queries)


def _first_hello(connections: FirstConnections, target: Target, origin: OriginSettings) -> None:
    """CloudFront's ClientHello on the early connections as they open: its TLS code loads now
    (~40 ms, while the replies and the TCP handshake travel), before asyncio, dnspython and the
    engine, which then load while the origin answers. With the engine's offer and server name
    (`Probe.sni`); an offer this machine cannot make is left to the engine to report."""
    from cf502.checks.tls._client import FirstHello
    from cf502.checks.tls._offer import OfferUnavailable

    try:
        hello = FirstHello(origin.ssl_protocols, origin.host_header or target.host)
    except OfferUnavailable:
        return
    connections.speak(hello)


def _first_connections(
    queries: FirstQueries,
    target: Target,
    origin: OriginSettings,
    engine: EngineSettings,
    only: list[str] | None = None,
) -> FirstConnections:
    """CloudFront's connections, opened from a thread as soon as the replies come (and the
    zone's NS query, when dns.authoritative runs)."""
    from cf502.checks.selection import running_ids
    from cf502.deadlines import Deadlines
    from cf502.firstconnect import FirstConnections, Plan

    bound = engine.bound(origin)  # the engine's own clamp of the timeouts
    deadlines = Deadlines.of(bound, engine)
    plan = Plan(
        target.host,
        bound.https_port,
        allow_private=engine.allow_private,
        ip_address_type=bound.ip_address_type,
        site_given=bool(bound.cloudfront_domain),
        connect_timeout=deadlines.connect,
        reply_timeout=deadlines.dns,
        survey="dns.authoritative" in running_ids(only, origin),
        listen_timeout=deadlines.handshake,
    )
    return FirstConnections(queries, plan).start()


async def _collect_after_start() -> None:
    """The cyclic collector back on once the checks have loaded (`cf502.cli.main` turns it off
    for the imports): what start-up loaded lives until exit, so it is frozen, and the collector
    looks at the diagnosis's own objects."""
    from cf502.checks import preload

    await preload.registry.wait()
    gc.freeze()
    gc.enable()


async def _run_check(args: argparse.Namespace, diagnosis: _Diagnosis | None) -> Report:
    """The report: through the distribution when `diagnosis` is None, else of `diagnosis`."""
    if diagnosis is None:
        report = await _distribution_report(args, aws_from_args(args))
        if report is not None:
            return report
        diagnosis = _diagnosis(args, send_first=False)
    target, origin, engine = diagnosis.target, diagnosis.origin, diagnosis.engine
    show_progress = sys.stderr.isatty() and not args.json
    finished: set[str] = set()
    order: list[str] = []  # the reported checks, upstream first

    def progress(res: CheckResult) -> None:
        nonlocal order
        finished.add(res.id)
        if show_progress:
            # The first result comes after the engine has loaded the checks: counting them before
            # the diagnosis would load them before its first packet.
            from cf502.engine import selection
            from cf502.render.text import progress_line

            if not order:
                to_run, to_report = selection(args.only, origin)
                order = [c.id for c in to_run if c.id in to_report]
            waiting = [cid for cid in order if cid not in finished]
            line = progress_line(len(finished), len(order), waiting, report_width())
            sys.stderr.write(f"\r\x1b[2K{line}")
            sys.stderr.flush()

    if show_progress:  # (the terminal renderer only for a terminal: not with --json)
        from cf502.render.text import progress_start

        sys.stderr.write(progress_start(target.host, report_width()))
        sys.stderr.flush()

    try:
        if args.redis_url:
            # Redis only for --redis-url (see cf502.cli)
            from cf502.pool.queue.client import remote_check

            job = job_from_args(args, target, origin)
            return await remote_check(args.redis_url, job, progress)
        import asyncio

        from cf502.engine import diagnose  # not for --redis-url: the workers diagnose

        collecting = asyncio.ensure_future(_collect_after_start())
        try:
            return await diagnose(
                target,
                origin,
                engine,
                only=args.only,
                on_result=progress,
                first_queries=diagnosis.first_queries,
            )
        finally:
            collecting.cancel()
    finally:
        if show_progress:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    # Read and validate the command line first (a refused one connects to nothing; at most the
    # name's two first queries went out, from `cf502.entry`), and send the name's first queries
    # (unless they are out already) before asyncio and the engine are imported.
    diagnosis = None if _through_aws(args) else _diagnosis(args, send_first=True)
    log_to_stderr()
    if diagnosis is None or args.redis_url:
        gc.enable()  # no engine to load here: the collector as usual (`cf502.cli.main`)
    import asyncio

    try:
        report = asyncio.run(_run_check(args, diagnosis))
    finally:
        gc.unfreeze()  # as it was (for a caller in the same process, e.g. the tests)
        if diagnosis is not None and diagnosis.first_queries is not None:
            diagnosis.first_queries.close()  # the ones nobody took, e.g. after an error
    if args.json:
        from cf502.render.json_output import report_json

        sys.stdout.write(report_json(report) + "\n")
    else:
        from cf502.render.text import report_text

        text = report_text(
            report, color=use_color(args), verbose=args.verbose, width=report_width()
        )
        sys.stdout.write(text)
    return EXIT_FAILED if report.failed else EXIT_OK
