"""Groups' files made durable before the registry records them, without stopping the batch.

The rule (docs/issuing.md, "Durability"): the registry never records as issued a file that is
not on disk. The batch process used to sync after each group and then record it, in the loop
that feeds the workers, so the workers waited on every sync and every registry transaction.
`DurableRecorder` keeps the rule and takes both off that loop: a group's result waits until a
sync that *started after its files were written* has finished, and then it is recorded
(`settle`) together with every other group that sync covered, in one transaction. Syncs and
the transactions after them run one at a time in a thread (sync(2) and the database let go of
the GIL), back to back while results come in, so one sync covers all the groups written while
the previous sync and transaction ran.

A kill at any point leaves groups written but not recorded: they are pending, and a rerun draws
them again (the same as a kill between a file's write and its group's mark before).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Generic, Sequence, TypeVar

from .output import flush_to_disk

R = TypeVar("R")

#: Results held while waiting for a sync before the batch waits for it (memory stays flat).
MAX_WAITING = 64


class DurableRecorder(Generic[R]):
    """`add` results as the workers hand them back; `settle` sees them in the same order, in
    lists, each only after a sync that began after it was added. Syncs and `settle` run in one
    thread beside the caller, one list at a time; an exception there is raised by the next
    `add` or by `close`, and nothing is settled after it. `close` (or leaving the `with` block
    normally, or on an `Exception`) syncs and settles the rest. With `durable` false nothing is
    synced and each result is settled at once, here (`certgen issue --no-fsync`)."""

    def __init__(self, settle: Callable[[Sequence[R]], None], *, durable: bool = True,
                 flush: Callable[[], None] = flush_to_disk, max_waiting: int = MAX_WAITING) -> None:
        self._settle = settle
        self._durable = durable
        self._flush = flush
        self._max_waiting = max_waiting
        self._waiting: list[R] = []  # added, not yet covered by a sync
        self._in_flight = 0  # covered by the sync (and settle) in flight
        self._future: Future | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="certgen-sync") if durable else None
        self._failed = False
        #: How many syncs ran (the tests check that groups share them).
        self.syncs = 0

    def __enter__(self) -> "DurableRecorder[R]":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if not self._failed and (exc_type is None or issubclass(exc_type, Exception)):
                # A later group failed: what was handed back before it is still recorded, as when
                # each group was recorded on its own.
                self.close()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)  # a sync in flight cannot be stopped; wait for it

    def add(self, result: R) -> None:
        """A group's result, its files written (and closed) by the worker."""
        if not self._durable:
            self._call([result])
            return
        self._waiting.append(result)
        future = self._future
        if future is not None and (future.done() or len(self._waiting) + self._in_flight >= self._max_waiting):
            self._wait()
        if self._future is None:
            self._start()

    def close(self) -> None:
        """Sync and settle everything added so far."""
        if self._future is not None:
            self._wait()
        if self._waiting:
            self._start()
            self._wait()

    def _wait(self) -> None:
        """Wait for the sync and settle in flight; raise what they raised."""
        assert self._future is not None
        try:
            self._future.result()
        except BaseException:
            self._failed = True
            raise
        finally:
            self._future = None
            self._in_flight = 0

    def _start(self) -> None:
        assert self._executor is not None
        covered, self._waiting = self._waiting, []
        self._in_flight = len(covered)
        self._future = self._executor.submit(self._sync_and_settle, covered)
        self.syncs += 1

    def _sync_and_settle(self, covered: list[R]) -> None:
        self._flush()  # began after every result in `covered` was added: their files are on disk after it
        self._settle(covered)

    def _call(self, results: Sequence[R]) -> None:
        try:
            self._settle(results)
        except BaseException:
            self._failed = True
            raise
