"""Changes live everywhere at once: what a running web instance caches, and how it learns, within
about a second and without a restart, what changed in the registry (docs/deploy.md, "Changes live").

`LiveState.poll()` runs at the start of a request and starts, at most once per `interval`
seconds, a check in a thread of its own, so the event loop never waits for the database (a
check not answered within `timeout` seconds counts as failed): one cheap query reads the
versions (certgen.registry.live). A new event version names the
certificate numbers whose events came since, and exactly their cached results are dropped (a
status change, a replacement, a reprint, any future event type: invalidation goes by number,
not by event type). A new trust list version brings the newest trust list the log names (its `trustlist` event
carries it, checked by verify.logged_trust), which is used only if it verifies against the root
and is newer than the one in use; a `trust_lists` row that is not that list (rows deleted or
added behind the log's back) or an older signed list is refused and named in `problem`, and
the refusal stays named until a good newer list is accepted; then exactly the good seals of
the signers that changed are dropped.

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
from certgen.registry.chain import iso
from certgen.trust import TrustList

from .logged_trust import LoggedList, read_logged
from .report import StatusInfo
from .status import RegistryStatus, StatusUnavailable

log = logging.getLogger("certverify.live")
#: Certificates whose records a web worker keeps (about 1 KB each).
STATUS_CACHE_SIZE = 10_000
_CHECK_FAILED = "registry version check failed"
#: Seconds a version check may take before it counts as failed (the database does not answer).
CHECK_TIMEOUT = 5.0
#: Seconds a request waits for a check it started while the registry is healthy.
CHECK_GRACE = 0.25


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
        #: True while the registry is known not to answer (`LiveState.stalled`): a look-up then
        #: fails at once instead of waiting for it on the event loop.
        self.unanswered: Callable[[], bool] | None = None
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
        if self.unanswered is not None and self.unanswered():
            raise StatusUnavailable("the registry is not answering")
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
    `listeners` drop what an `Invalidation` names. The check runs in a thread of its own: with
    `background`, `poll()` only starts it and returns at once (the event loop never waits for
    the database: it waits `grace` seconds at most, and only when the last check succeeded, so a
    request sees a change a healthy registry reports at once); without, `poll()` waits for it,
    at most `timeout` seconds. A check that has
    not answered within `timeout` seconds counts as failed (every cached result is dropped)."""

    def __init__(self, registry: Registry, root: x509.Certificate, trust_bytes: bytes, trust: TrustList, *,
                 interval: float, on_trust: Callable[[bytes, TrustList, "frozenset[bytes] | None"], None],
                 listeners: list[Listener], clock: Callable[[], float] = time.monotonic,
                 timeout: float = CHECK_TIMEOUT, background: bool = False, grace: float = CHECK_GRACE) -> None:
        self.registry = registry
        self.root = root
        self.interval = interval
        self.on_trust = on_trust
        self.listeners = listeners
        self.clock = clock
        self.timeout = timeout
        self.background = background
        self.grace = grace
        self.trust = trust
        self.trust_sha256 = hashlib.sha256(trust_bytes).hexdigest()
        #: The last versions seen; None before the first successful check.
        self.events: int | None = None
        self.trust_version: tuple[int | None, int | None] | None = None
        self.checked_at = float("-inf")
        #: Why a published or logged trust list was refused: kept until a good newer list is
        #: accepted (a database outage meanwhile does not erase it).
        self.trust_problem: str | None = None
        #: Why the last version check failed (None once one succeeds).
        self.check_problem: str | None = None
        #: The newest trust list the log names, as checked (verify.logged_trust); None before one is read.
        self.logged: LoggedList | None = None
        #: True when the newest trust list the log names does not check out: the list in use
        #: cannot be shown to be the newest (`/api/v1/health` answers 503).
        self.outdated = False
        self.ok = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._started = float("-inf")
        self._timed_out = False

    @property
    def problem(self) -> str | None:
        """What `/api/v1/health` names: the kept refusal first, then a failed check."""
        found = [p for p in (self.trust_problem, self.check_problem) if p]
        return "; ".join(found) if found else None

    def poll(self, force: bool = False) -> None:
        """Check the versions if `interval` seconds passed since the last check (or `force`)."""
        moment = self.clock()
        with self._lock:
            thread = self._thread
            if thread is not None and thread.is_alive():
                if moment - self._started >= self.timeout and not self._timed_out:
                    self._give_up()
                return  # one check at a time; a late answer is still applied when it comes
            if not force and moment - self.checked_at < self.interval:
                return
            self.checked_at = self._started = moment
            self._timed_out = False
            thread = self._thread = threading.Thread(target=self._check, name="certverify-version-check", daemon=True)
            thread.start()
        if self.background:
            if self.ok:  # a registry that answered the last check: the request sees this one's result
                thread.join(self.grace)
        else:
            thread.join(self.timeout)
            with self._lock:
                if thread.is_alive() and not self._timed_out:
                    self._give_up()

    @property
    def stalled(self) -> bool:
        """A check has been waiting for the registry longer than `timeout` seconds (and still is)."""
        thread = self._thread
        return self._timed_out and thread is not None and thread.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a running check (tests, and the first check at start)."""
        thread = self._thread
        if thread is not None:
            thread.join(self.timeout if timeout is None else timeout)

    def _give_up(self) -> None:
        self._timed_out = True
        self._fail(f"{_CHECK_FAILED}: the registry did not answer within {self.timeout:g} s")

    def _fail(self, message: str) -> None:
        self.ok = False
        self.events = None
        self.check_problem = message
        log.warning("%s", message)
        self._emit(Invalidation(all_numbers=True))

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
            trust_version = (now.trust, now.trust_logged)
            if trust_version != self.trust_version and (now.trust is not None or now.trust_logged is not None):
                self._load_trust()
                self.trust_version = trust_version
            elif trust_version != self.trust_version:  # no list anywhere: were the list events deleted?
                self.logged = read_logged(self.registry, self.root, self.trust)
                if self.logged is not None:
                    self._use_logged(self.logged)
                self.trust_version = trust_version
            self.check_problem = None
            self.ok = True
        except Exception as exc:  # the database is down or unreadable: cached results cannot be vouched for
            self._fail(f"{_CHECK_FAILED}: {type(exc).__name__}")

    def _load_trust(self) -> None:
        logged = read_logged(self.registry, self.root, self.trust)
        self.logged = logged
        if logged is not None:
            self._use_logged(logged)
            if logged.trust is None or logged.problem is not None:
                return
        published = registry_live.latest_trust_list(self.registry)
        if published is None or published.sha256 == self.trust_sha256:
            if published is None and logged is not None and logged.trust is not None:
                self._refuse(f"the log names trust list {logged.id} (event {logged.seq}, issued at {logged.issued_at}), but "
                             "trust_lists has no row: rows were deleted behind the log's back; the list is taken from the log")
            return
        where = f"published trust list {published.id} (issued at {published.issued_at:%Y-%m-%d %H:%M:%S}Z)"
        if logged is not None:
            if published.sha256 != logged.sha256:
                self._refuse(f"{where} is not the newest list the log names (list {logged.id}, event {logged.seq}, issued at "
                             f"{logged.issued_at}): rows of trust_lists were deleted or added behind the log's back")
            return  # the log's list is the one used: the rows only mirror it
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
        self._accept(published.data, trust, published.sha256, where)

    def _use_logged(self, logged: LoggedList) -> None:
        """Use the newest list of the log that checks out when it is newer than the one in use;
        name whatever does not check out (then the list in use cannot be shown to be the newest)."""
        where = f"trust list {logged.id} named by log event {logged.seq} (issued at {logged.issued_at})"
        current = self.trust.issued_at
        if logged.trust is not None and logged.sha256 != self.trust_sha256 and not (
                current is not None and logged.trust.issued_at is not None and logged.trust.issued_at <= current):
            self._accept(logged.data, logged.trust, logged.sha256, where)  # else: the one in use, or newer (its file deployed first)
        self.outdated = logged.problem is not None
        if logged.problem is not None:
            self._refuse(f"a trust list the log names does not check out: {logged.problem}; the trust list in use (issued "
                         f"at {iso(self.trust.issued_at) if self.trust.issued_at else 'unknown'}) cannot be shown to be the "
                         "newest published")
        elif logged.order_problem:
            self._refuse(f"{logged.order_problem}; the newer one is used")

    def _accept(self, data: bytes, trust: TrustList, sha256: str, where: str) -> None:
        changed = changed_signers(self.trust, trust)
        self.on_trust(data, trust, changed)
        self.trust, self.trust_sha256 = trust, sha256
        self.trust_problem = None
        self._emit(Invalidation(kids=changed or frozenset(), all_seals=changed is None))
        log.warning("now using %s", where)

    def _refuse(self, message: str) -> None:
        if message != self.trust_problem:
            log.error("%s", message)
        self.trust_problem = message

    def health(self) -> dict[str, object]:
        """What `/api/v1/health` says of the trust list: the one in use and what the log names."""
        issued = self.trust.issued_at
        return {"in_use": {"issued_at": iso(issued) if issued else None, "sha256": self.trust_sha256},
                "log": self.logged.as_json() if self.logged is not None else None, "outdated": self.outdated}

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
