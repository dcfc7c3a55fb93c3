"""The bounded pool that uploads (photos, PDFs) are checked in.

A fixed number of slots per worker process, each a thread of a dedicated executor (not the
shared thread pool the rest of the app uses). A request that finds every slot taken is refused
at once with 503 and `Retry-After` (the guard does so before the body is even read), rather
than queueing behind work that may take seconds. A slot is given back when the check really
ends, not when the request gives up waiting. The check itself runs in a child process that is
killed at `CERTVERIFY_CHECK_SECONDS` (verify.isolation), so a thread never holds its slot longer
than that: a hostile file costs its slot for the bound and then gets `check_timed_out`.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

T = TypeVar("T")


class PoolFull(Exception):
    """Every slot is taken."""


class UploadPool:
    def __init__(self, slots: int, *, retry_after: int = 5) -> None:
        if slots < 1:
            raise ValueError("the upload pool needs at least one slot")
        self.slots = slots
        self.retry_after = retry_after
        self._busy = 0
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="upload")

    @property
    def full(self) -> bool:
        return self._busy >= self.slots

    @property
    def busy(self) -> int:
        return self._busy

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """`fn(*args)` in a free slot; raises `PoolFull` at once when there is none."""
        with self._lock:
            if self._busy >= self.slots:
                raise PoolFull()
            self._busy += 1
        try:
            future = self._executor.submit(fn, *args)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(lambda _f: self._release())
        return await asyncio.wrap_future(future)

    def _release(self) -> None:
        with self._lock:
            self._busy -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
