"""Changes live everywhere at once: what a running web instance caches, and how it learns, within
about a second and without a restart, what changed in the registry (docs/deploy.md, "Changes live").

`LiveState.poll()` runs at the start of a request, at most once per `interval` seconds: one
cheap query reads two versions (certgen.registry.live). A new event version names the
certificate numbers whose events came since, and exactly their cached results are dropped (a
status change, a replacement, a reprint, any future event type: invalidation goes by number,
not by event type). A new trust list version brings the newest published trust list, which is
used only if it verifies against the root and is newer than the one in use (a rollback to an
older signed list is refused and named in `problem`); then exactly the good seals of the
signers that changed are dropped.

A check that fails (the database is down) drops every cached status and page: nothing is
answered from a cache whose freshness cannot be checked.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Protocol

from cryptography import x509

from certgen.errors import TrustListError
from certgen.registry import Certificate, Registry
from certgen.registry import live as registry_live
from certgen.trust import TrustList

from .report import StatusInfo
from .status import RegistryStatus, StatusUnavailable

log = logging.getLogger("certverify.live")
#: Certificates whose records a web worker keeps (about 1 KB each).
STATUS_CACHE_SIZE = 10_000
_CHECK_FAILED = "registry version check failed"


@dataclass(frozen=True)
class Invalidation:
    """What cached results must go."""

    #: Certificate numbers that have new events.
    numbers: frozenset[str] = frozenset()
    #: Key ids of the signers whose trust list entry changed (added, removed, revoked).
    kids: frozenset[bytes] = frozenset()
    #: Every status (the log went backwards, too many changes, the check failed).
    all_numbers: bool = False
    #: Every seal (the trust list changed what it says beyond its signers: addresses, log keys).
    all_seals: bool = False


class Listener(Protocol):
    def drop(self, change: Invalidation) -> None:
        """Forget the cached results `change` names."""


class LiveRegistryStatus(RegistryStatus):
    """`RegistryStatus` that keeps the records it read until `LiveState` says they changed (or
    `max_age` seconds pass: a bound on what a row edited behind the log's back could hide).
    Unknown numbers are not kept (anyone can type them). Safe across threads (uploads)."""

    def __init__(self, registry: Registry, now: Callable[[], datetime], *, max_age: float = 60.0,
                 size: int = STATUS_CACHE_SIZE, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(registry, now)
        self.max_age = max_age
        self.size = size
        self.clock = clock
        self._records: "OrderedDict[str, tuple[Certificate, float]]" = OrderedDict()
        self._lock = threading.Lock()
        #: Bumped by every drop: a record read before a drop is not kept after it.
        self._generation = 0

    @classmethod
    def open(cls, url: str, now: Callable[[], datetime], **kwargs) -> "LiveRegistryStatus":  # type: ignore[override]
        try:
            return cls(Registry.open(url, migrate=False), now, **kwargs)
        except Exception as exc:
            raise StatusUnavailable(f"cannot open the registry: {exc}") from None

    def lookup(self, number: str) -> StatusInfo | None:
        if self.size:
            entry = self._records.get(number)
            if entry is not None and self.clock() - entry[1] < self.max_age:
                return self.info(entry[0])
        generation = self._generation
        cert = self.fetch(number)
        if cert is None:
            return None
        if self.size:
            with self._lock:
                if generation == self._generation:
                    self._records[number] = (cert, self.clock())
                    if len(self._records) > self.size:
                        self._records.popitem(last=False)
        return self.info(cert)

    def drop(self, change: Invalidation) -> None:
        with self._lock:
            self._generation += 1
            if change.all_numbers:
                self._records = OrderedDict()
                return
            for number in change.numbers:
                self._records.pop(number, None)

    def age(self, number: str) -> float:
        """Seconds since the kept record of `number` was read (0 when none is kept): a page made
        from it is as old as the record (verify.web.fast)."""
        entry = self._records.get(number)
        return max(0.0, self.clock() - entry[1]) if entry is not None else 0.0

    @property
    def count(self) -> int:
        """Records kept now."""
        return len(self._records)


class LiveState:
    """The throttled version check of one web worker (see the module docstring).

    `on_trust(data, trust, changed_kids)` is called with a newer verified trust list;
    `listeners` drop what an `Invalidation` names."""

    def __init__(self, registry: Registry, root: x509.Certificate, trust_bytes: bytes, trust: TrustList, *,
                 interval: float, on_trust: Callable[[bytes, TrustList, "frozenset[bytes] | None"], None],
                 listeners: list[Listener], clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = registry
        self.root = root
        self.interval = interval
        self.on_trust = on_trust
        self.listeners = listeners
        self.clock = clock
        self.trust = trust
        self.trust_sha256 = hashlib.sha256(trust_bytes).hexdigest()
        #: The last versions seen; None before the first successful check.
        self.events: int | None = None
        self.trust_version: int | None = None
        self.checked_at = float("-inf")
        #: Why the newest published trust list is not in use, or why the last check failed.
        self.problem: str | None = None
        self.ok = False
        self._lock = threading.Lock()

    def poll(self, force: bool = False) -> None:
        """Check the versions if `interval` seconds passed since the last check (or `force`)."""
        moment = self.clock()
        if not force and moment - self.checked_at < self.interval:
            return
        if not self._lock.acquire(blocking=False):
            return  # another thread is checking right now
        try:
            self.checked_at = moment
            self._check()
        finally:
            self._lock.release()

    def _check(self) -> None:
        try:
            now = registry_live.versions(self.registry)
            if self.events is None or now.events < self.events:
                change = Invalidation(all_numbers=True)  # first check, or a log that went backwards (a restore)
            elif now.events > self.events:
                numbers = registry_live.changed_numbers(self.registry, self.events, now.events)
                change = Invalidation(all_numbers=True) if numbers is None else Invalidation(numbers=numbers)
            else:
                change = None
            if change is not None:
                self._emit(change)
            self.events = now.events
            if now.trust is not None and now.trust != self.trust_version:
                self._load_trust()
                self.trust_version = now.trust
            if self.problem and self.problem.startswith(_CHECK_FAILED):
                self.problem = None
            self.ok = True
        except Exception as exc:  # the database is down or unreadable: cached results cannot be vouched for
            self.ok = False
            self.events = None
            self.problem = f"{_CHECK_FAILED}: {type(exc).__name__}"
            log.warning("%s", self.problem)
            self._emit(Invalidation(all_numbers=True))

    def _load_trust(self) -> None:
        published = registry_live.latest_trust_list(self.registry)
        if published is None or published.sha256 == self.trust_sha256:
            return
        where = f"published trust list {published.id} (issued at {published.issued_at:%Y-%m-%d %H:%M:%S}Z)"
        try:
            if hashlib.sha256(published.data).hexdigest() != published.sha256:
                raise TrustListError("its stored digest does not match its bytes")
            trust = TrustList.load_signed(published.data, self.root)
        except TrustListError as exc:
            self._refuse(f"{where} refused: {exc}")
            return
        current = self.trust.issued_at
        if current is not None and trust.issued_at is not None and trust.issued_at <= current:
            self._refuse(f"{where} refused: it is not newer than the trust list in use (issued at "
                         f"{current:%Y-%m-%d %H:%M:%S}Z); a rollback would bring back what a later list revoked")
            return
        changed = changed_signers(self.trust, trust)
        self.on_trust(published.data, trust, changed)
        self.trust, self.trust_sha256 = trust, published.sha256
        self.problem = None
        self._emit(Invalidation(kids=changed or frozenset(), all_seals=changed is None))
        log.warning("now using %s", where)

    def _refuse(self, message: str) -> None:
        if message != self.problem:
            log.error("%s", message)
        self.problem = message

    def _emit(self, change: Invalidation) -> None:
        for listener in self.listeners:
            listener.drop(change)


def changed_signers(old: TrustList, new: TrustList) -> frozenset[bytes] | None:
    """Key ids whose entry differs between two trust lists; None when the lists differ in what
    every seal depends on (the official addresses, the log keys)."""
    if old.verify_urls != new.verify_urls or old.log_keys != new.log_keys:
        return None
    return frozenset(kid for kid in set(old.signers) | set(new.signers) if old.get(kid) != new.get(kid))


__all__ = ["Invalidation", "LiveRegistryStatus", "LiveState", "changed_signers"]
