"""`cf502 worker`: its options, the operator's settings from the environment, and the process
around the worker loop (logging, signals, the metrics port). The loop is `cf502.pool.worker`.

Redis, aiohttp and prometheus_client are imported inside the functions that run the worker (see
`cf502.cli`), so building the `cf502` parser stays light.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cf502.options import UsageError, add_engine_options, engine_from_args
from cf502.settings import AWS, ENGINE, SERVICE, AwsSettings, EngineSettings, ServiceSettings, given
from cf502.settings import add_options as add_options_for

if TYPE_CHECKING:
    import asyncio

    from cf502.pool.queue.config import QueueConfig
    from cf502.pool.queue.consumer import QueueConsumer
    from cf502.pool.worker import Counters, WorkerSettings

__all__ = ["add_options", "add_worker_options", "loop_factory", "run_worker"]

log = logging.getLogger("cf502.worker")


def add_options(parser: argparse.ArgumentParser) -> None:
    add_worker_options(parser)
    add_engine_options(parser, ENGINE)
    add_options_for(parser.add_argument_group("read-only AWS (operator only)"), AWS)


def add_worker_options(parser: argparse.ArgumentParser) -> None:
    """The `cf502 worker` options (the engine's options are added separately). The queue, log and
    metrics options are the declared settings, which the environment gives when not given here."""
    g = parser.add_argument_group("worker")
    add_options_for(g, SERVICE)
    g.add_argument("--concurrency", type=int, metavar="N", default=16, help="jobs at once (16)")
    g.add_argument(
        "--job-timeout",
        type=float,
        metavar="S",
        help="upper bound on one diagnosis (from its timeouts)",
    )
    g.add_argument(
        "--grace",
        type=float,
        metavar="S",
        default=10.0,
        help="on SIGTERM, seconds running jobs get before they are handed back (10)",
    )
    g.add_argument(
        "--min-idle",
        type=float,
        metavar="S",
        default=30.0,
        help="seconds a silent worker's jobs wait before another worker takes them (30)",
    )
    g.add_argument(
        "--max-deliveries",
        type=int,
        metavar="N",
        default=3,
        help="attempts before a job that keeps crashing is dead-lettered (3)",
    )
    g.add_argument(
        "--result-ttl",
        type=float,
        metavar="S",
        default=3600.0,
        help="seconds results and progress are kept (3600)",
    )
    g.add_argument(
        "--queue-prefix", metavar="NAME", default="cf502", help="Redis key prefix (cf502)"
    )
    g.add_argument(
        "--burst", action="store_true", help="exit once the queue is empty (batch runs, tests)"
    )


def _settings_from_args(
    args: argparse.Namespace, environ: Mapping[str, str]
) -> tuple[str, QueueConfig, EngineSettings, WorkerSettings, ServiceSettings]:
    from cf502.pool.limits import Limits
    from cf502.pool.queue.config import QueueConfig
    from cf502.pool.worker import WorkerSettings

    # The options win over the environment; both were parsed by the settings' declarations.
    service = replace(ServiceSettings.from_environ(environ), **given(args, SERVICE))
    engine = engine_from_args(args, EngineSettings.from_environ(environ))
    url = service.redis_url
    if not url:
        raise UsageError("Give --redis-url URL (or set REDIS_URL): the worker needs the job queue.")
    queue = QueueConfig(
        prefix=args.queue_prefix,
        min_idle=args.min_idle,
        max_deliveries=args.max_deliveries,
        result_ttl=args.result_ttl,
        limits=Limits(),
        # Every running job may need a connection to store its result at the same moment.
        max_connections=max(64, args.concurrency + 8),
    )
    worker = WorkerSettings(
        concurrency=args.concurrency,
        job_timeout=args.job_timeout,
        grace=args.grace,
        burst=args.burst,
    )
    return url, queue, engine, worker, service


async def _serve(
    url: str,
    queue: QueueConfig,
    engine: EngineSettings,
    settings: WorkerSettings,
    metrics_port: int | None,
    aws: AwsSettings | None = None,
) -> Counters:
    import asyncio
    from functools import partial

    from cf502.ops import metrics
    from cf502.ops.health import redis_ready
    from cf502.pool.queue.consumer import QueueConsumer
    from cf502.pool.runjob import run_job
    from cf502.pool.worker import Worker

    pool = QueueConsumer(url, queue)
    # The operator's AWS access, when on, for every job this worker runs (jobs never carry it).
    job = partial(run_job, aws=aws) if aws is not None and aws.enabled else run_job
    worker = Worker(pool, engine, settings, observer=metrics.JOB_METRICS, run_job=job)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    server = None
    try:
        if metrics_port is not None:
            server = await metrics.start_metrics_server(
                metrics_port, ready=redis_ready(pool.redis), refresh=_queue_stats(pool)
            )
        counters = await worker.run()
        if worker.failed:
            raise WorkerCrashed("a worker loop crashed (see the log); stopped")
        return counters
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if server is not None:
            await server.close()
        await pool.close()


def _queue_stats(pool: QueueConsumer) -> Callable[[], Awaitable[Any]]:
    from cf502.ops import metrics

    async def refresh() -> metrics.QueueStats:
        depth, oldest = await pool.queue_stats()
        return metrics.QueueStats(depth, oldest)

    return refresh


def _url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def run_worker(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    """Run the worker from parsed `cf502 worker` options; returns the exit status."""
    from cf502.ops.logs import setup_logging
    from cf502.pool.queue.config import redacted_url

    env = os.environ if environ is None else environ
    url, queue, engine, settings, service = _settings_from_args(args, env)
    aws = replace(AwsSettings.from_environ(env), **given(args, AWS))
    # The worker owns this process's logging: replace any earlier handler (e.g. the CLI's).
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    password = _url_password(url)
    setup_logging(
        service.log_level,
        fmt=service.log_format,
        secrets=[password] if password else [],
    )
    log.info("worker configuration", extra={"redis": redacted_url(url)})
    import asyncio  # here, not at the top: building the `cf502` parser stays light

    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        try:
            runner.run(_serve(url, queue, engine, settings, service.metrics_port, aws))
        except WorkerCrashed:
            return 1
    return 0


class WorkerCrashed(Exception):
    """A worker loop died of a bug; the process exits with status 1."""


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed: diagnoses are asyncio-heavy, and it cuts the CPU each one costs."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
