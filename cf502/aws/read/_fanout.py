"""Running a reader's independent AWS calls at once, within a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

__all__ = ["fan_out"]

T = TypeVar("T")


def fan_out(
    jobs: Sequence[Callable[[], T]], deadline: float, workers: int = 8
) -> tuple[list[T | BaseException], int]:
    """Run `jobs` on up to `workers` threads until `deadline` (time.monotonic()).

    Returns each job's result or exception, in order (a job not done by the deadline gets a
    TimeoutError), and how many were not done.
    """
    if not jobs:
        return [], 0
    pool = ThreadPoolExecutor(max_workers=min(workers, len(jobs)), thread_name_prefix="cf502-aws")
    futures: list[Future[T]] = [pool.submit(job) for job in jobs]
    pending = set(futures)
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        _done, pending = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
    pool.shutdown(wait=False, cancel_futures=True)
    results: list[T | BaseException] = []
    for f in futures:
        if f.done() and not f.cancelled():
            exc = f.exception()
            results.append(exc if exc is not None else f.result())
        else:
            results.append(TimeoutError("no answer within the AWS time budget"))
    return results, len(pending)
