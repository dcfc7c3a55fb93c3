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
from typing import Callable, Iterable, Iterator, TypeVar

from .issue_worker import WorkerContext, configure

T = TypeVar("T")
R = TypeVar("R")


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
        pool = ctx.Pool(processes=count, initializer=configure, initargs=(context,))
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
    produced lazily, so a large batch never sits in memory at once)."""
    if pool is None:
        yield from (function(item) for item in items)
        return
    pending: deque = deque()
    for item in items:
        pending.append(pool.apply_async(function, (item,)))
        if len(pending) >= window:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()
