"""One rate limit for every worker and instance, without a database write per request.

Fixed windows (`window` seconds, `limit` requests per client address). Each worker counts
locally and sends its counts to a shared store (`certgen.registry.counters.SharedCounters`,
the registry database) in batches: every `flush_every` seconds in the background (one
transaction for every client seen meanwhile), and at once, before answering, for a client that
has made `sync_every` requests here since the last batch. The store answers each client's total
over every worker; a worker refuses a client whose known total plus its own unsent count
reaches the limit, and from then on refuses it locally until the window ends.

So a visitor scanning a few seals never causes a write of their own (they ride in the next
batch), a flood costs one write per `sync_every` requests per worker, and the limit holds across
workers up to what they have not yet sent: at most `sync_every - 1` requests per worker, plus
what arrives within one `flush_every` interval. Without a store (no registry), the limit is
per worker. If the store fails, requests are let through (the page must not go down with the
limiter) and the counts are kept for the next batch.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Callable, Mapping, Protocol

log = logging.getLogger("certverify.ratelimit")


class CounterStore(Protocol):
    def add(self, window: int, deltas: Mapping[str, int]) -> dict[str, int]: ...

    def prune(self, before: int, prefix: str) -> int: ...


class RateLimiter:
    """`hit(client)` answers on the event loop in microseconds; `await sync(client)` only when
    `hit` says so."""

    ALLOW, DENY, SYNC = "allow", "deny", "sync"

    def __init__(self, limit: int, *, window: int = 60, store: CounterStore | None = None, flush_every: float = 2.0,
                 sync_every: int | None = None, clock: Callable[[], float] = time.time, max_clients: int = 200_000) -> None:
        self.limit = limit
        self.window = window
        self.store = store
        self.flush_every = flush_every
        #: Requests a worker lets one client make before it asks the store (at least 1).
        self.sync_every = sync_every or max(1, limit // 10)
        self.clock = clock
        self.max_clients = max_clients
        self._window_start = 0
        self._pending: dict[str, int] = {}   # counted here, not yet sent
        self._known: dict[str, int] = {}     # total over every worker, as the store last said
        self._denied: set[str] = set()
        self._flusher: asyncio.Task[None] | None = None
        self._lock: asyncio.Lock | None = None

    def retry_after(self) -> int:
        """Seconds until the current window ends."""
        return max(1, math.ceil(self._window_start + self.window - self.clock()))

    def hit(self, client: str) -> str:
        """Count one request of `client`: ALLOW, DENY, or SYNC (allowed if `sync` agrees)."""
        self._roll()
        if client in self._denied:
            return self.DENY
        pending = self._pending.get(client, 0) + 1
        if self._known.get(client, 0) + pending > self.limit:
            self._denied.add(client)
            return self.DENY
        if len(self._pending) >= self.max_clients and client not in self._pending:
            return self.SYNC  # memory bound: this client is counted in the store straight away
        self._pending[client] = pending
        self._start_flusher()
        return self.SYNC if pending >= self.sync_every and self.store is not None else self.ALLOW

    async def sync(self, client: str) -> str:
        """Send `client`'s unsent count now; ALLOW or DENY from the total over every worker."""
        self._pending.setdefault(client, 1)
        await self._send({client})
        if self._known.get(client, 0) > self.limit:
            self._denied.add(client)
            return self.DENY
        return self.ALLOW

    async def flush(self) -> None:
        """Send every unsent count (the background batch)."""
        await self._send(None)

    # -- internals ------------------------------------------------------------------------
    def _roll(self) -> None:
        start = int(self.clock()) // self.window * self.window
        if start != self._window_start:
            self._window_start = start
            self._pending.clear()
            self._known.clear()
            self._denied.clear()

    def _start_flusher(self) -> None:
        if self.store is None or self._flusher is not None:
            return
        try:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_forever())
        except RuntimeError:  # no loop (a synchronous caller): batches are sent by sync() only
            pass

    async def _flush_forever(self) -> None:
        pruned = 0
        while True:
            await asyncio.sleep(self.flush_every)
            try:
                await self.flush()
                if self.store is not None and self._window_start != pruned:
                    pruned = self._window_start
                    await asyncio.to_thread(self.store.prune, self._window_start - self.window, "rate:")
            except Exception:  # never let the batch task die
                log.exception("rate limit: sending counts failed")

    async def _send(self, only: set[str] | None) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            self._roll()
            window = self._window_start
            keys = [k for k in (only if only is not None else self._pending) if self._pending.get(k)]
            deltas = {k: self._pending.pop(k) for k in keys}
            if not deltas:
                return
            if self.store is None:
                totals = {k: self._known.get(k, 0) + d for k, d in deltas.items()}
            else:
                try:
                    totals = await asyncio.to_thread(self.store.add, window, {"rate:" + k: d for k, d in deltas.items()})
                    totals = {k[len("rate:"):]: v for k, v in totals.items()}
                except Exception:
                    log.warning("rate limit: the shared store is unavailable; counting locally", exc_info=True)
                    for k, d in deltas.items():  # keep them for the next batch
                        self._pending[k] = self._pending.get(k, 0) + d
                    return
            if window != self._window_start:
                return  # the window ended meanwhile: these totals are history
            for k, total in totals.items():
                self._known[k] = max(self._known.get(k, 0), total)
                if total > self.limit:
                    self._denied.add(k)
