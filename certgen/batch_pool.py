"""Worker processes of a batch: forked with their context (templates, fonts, and for issuing
the signing key), so nothing secret crosses a pipe, and with the parent's objects frozen out
of the garbage collector first, so that the children share the parent's pages instead of
copying them as the collector touches every object."""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections import deque
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

from .errors import CertgenError
from .issue_worker import WorkerContext, configure, configure_worker

T = TypeVar("T")
R = TypeVar("R")

#: Seconds between looks at the workers while a result is awaited.
POLL_SECONDS = 0.5


class WorkerDied(CertgenError):
    """A worker process died (killed, or a crash in a C library): the result of the task it
    held never comes, so the caller stops instead of waiting for it forever."""


def worker_count(workers: int) -> int:
    """`workers`, or one per core for 0."""
    return workers or os.cpu_count() or 1


@contextmanager
def forked_pool(context: WorkerContext, workers: int) -> Iterator[multiprocessing.pool.Pool | None]:
    """A pool of `workers` processes configured with `context`; None with one worker (then the
    work runs in this process, configured the same way)."""
    configure(context)
    count = worker_count(workers)
    if count == 1:
        yield None
        return
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    gc.freeze()
    try:
        pool = ctx.Pool(processes=count, initializer=configure_worker, initargs=(context,))
    finally:
        gc.unfreeze()
    try:
        yield pool
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def bounded_map(pool: multiprocessing.pool.Pool | None, function: Callable[[T], R], items: Iterable[T],
                window: int) -> Iterator[R]:
    """`function` over `items` in order, with at most `window` items in flight (items are
    produced lazily, so a large batch never sits in memory at once). Raises `WorkerDied`
    when a worker process dies, never waits for the result it took with it."""
    if pool is None:
        yield from (function(item) for item in items)
        return
    workers = _workers(pool)
    pending: deque = deque()
    for item in items:
        pending.append(pool.apply_async(function, (item,)))
        if len(pending) >= window:
            yield _result(pool, pending.popleft(), workers)
    while pending:
        yield _result(pool, pending.popleft(), workers)


def checked_map(pool: multiprocessing.pool.Pool, function: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`pool.map`, but raising `WorkerDied` when a worker process dies."""
    return list(bounded_map(pool, function, items, max(len(items), 1)))


def _result(pool: multiprocessing.pool.Pool, result: multiprocessing.pool.AsyncResult, workers: frozenset[int]) -> R:
    """The task's result; `WorkerDied` as soon as the pool's workers are no longer `workers`
    (with no task limit per worker, a worker is only ever replaced after it died)."""
    while True:
        try:
            return result.get(POLL_SECONDS)
        except multiprocessing.TimeoutError:
            if _workers(pool) != workers:
                raise WorkerDied("a worker process died (killed, or a crash in a C library) and took its work "
                                 "with it: nothing it held was recorded; run the command again to finish") from None


def _workers(pool: multiprocessing.pool.Pool) -> frozenset[int]:
    """The process ids of the pool's workers. multiprocessing's Pool has no public way to tell
    that a worker died (it starts another silently and never answers for the dead one's task):
    its process list is read here, and nowhere else."""
    return frozenset(process.pid for process in list(pool._pool))  # type: ignore[attr-defined]
