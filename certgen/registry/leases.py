"""Batch leases: one batch of a given input at a time, across every machine that issues into
one registry.

A file lock (`certgen.batch_lock`) keeps two processes on one machine apart, and the operating
system releases it when its holder dies. Two machines issuing into one PostgreSQL share no
file system, so the batch also takes a lease in the registry: a row `batch_leases(name)` with
the holder (a random id), its host and process id, and an expiry. It is taken in one
transaction (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a row lock, or the primary key when two
insert at once), renewed while the batch runs, and deleted at the end. A lease whose holder
stopped renewing is taken over once it has expired; on the holder's own host, as soon as its
process is gone (a killed batch then costs the next run no wait).

Times come from the database server, not from the machines, so two machines with different
clocks agree on when a lease expires.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import RegistryError
from .repository import Registry
from .tables import BatchLeaseRow

#: How long a lease lasts without renewal; it is renewed every third of that.
LEASE_SECONDS = 60.0


class LeaseLost(RegistryError):
    """Another process took the lease over (this one stalled past its expiry): stop writing."""


@dataclass(frozen=True)
class LeaseInfo:
    """Who holds a lease, as the registry says."""

    name: str
    holder: str
    host: str
    pid: int
    acquired_at: datetime
    expires_at: datetime

    def __str__(self) -> str:
        return (f"process {self.pid} on {self.host.split('/')[0]} since {self.acquired_at:%Y-%m-%d %H:%M:%S}Z "
                f"(lease until {self.expires_at:%H:%M:%S}Z)")


def this_host() -> str:
    """The host name and this boot's id: a process id means something only on its own host,
    and only until that host restarts."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            boot = handle.read().strip()[:8]
    except OSError:
        boot = "-"
    return f"{socket.gethostname()}/{boot}"[:255]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def database_now(session: Session) -> datetime:
    """The database server's clock (UTC, aware)."""
    dialect = session.bind.dialect.name if session.bind is not None else ""
    if dialect == "postgresql":
        value = session.execute(text("SELECT now()")).scalar_one()
        return value.astimezone(timezone.utc)
    if dialect == "sqlite":
        value = session.execute(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar_one()
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc)


class BatchLease:
    """The lease `name` in `registry`, for this process. Use `acquire` (or `try_acquire`), then
    `check` before every write that depends on holding it, and `release` at the end."""

    def __init__(self, registry: Registry, name: str, *, seconds: float = LEASE_SECONDS,
                 clock: Callable[[Session], datetime] = database_now, host: str | None = None,
                 pid: int | None = None) -> None:
        self.registry = registry
        self.name = name[:100]
        self.seconds = seconds
        self.holder = uuid.uuid4().hex
        self.host = host or this_host()
        self.pid = os.getpid() if pid is None else pid
        self._clock = clock
        self._held = False
        self._lost: str | None = None
        self._renewed = 0.0  # time.monotonic() of the last successful renewal
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one transaction each ------------------------------------------------------------

    def try_acquire(self) -> LeaseInfo | None:
        """Take the lease if it is free, expired, or held by a dead process on this host.
        Returns None when taken, else who holds it."""
        for _ in range(3):
            try:
                with Session(self.registry.engine) as session, session.begin():
                    now = self._clock(session)
                    row = session.execute(select(BatchLeaseRow).where(BatchLeaseRow.name == self.name)
                                          .with_for_update()).scalar_one_or_none()
                    if row is not None and row.holder != self.holder and not self._free(row, now):
                        return _info(row)
                    if row is None:
                        row = BatchLeaseRow(name=self.name)
                        session.add(row)
                    row.holder, row.host, row.pid = self.holder, self.host, self.pid
                    row.acquired_at = now
                    row.expires_at = now + timedelta(seconds=self.seconds)
                self._held, self._lost, self._renewed = True, None, time.monotonic()
                return None
            except IntegrityError:  # another process inserted the row first: look again
                continue
        raise RegistryError(f"batch lease {self.name}: could not be taken or read")

    def _free(self, row: BatchLeaseRow, now: datetime) -> bool:
        if row.expires_at <= now:
            return True
        return row.host == self.host and row.pid != self.pid and not _alive(row.pid)

    def renew(self) -> bool:
        """Push the expiry on; False (and the lease is lost) when someone else holds it now."""
        with Session(self.registry.engine) as session, session.begin():
            now = self._clock(session)
            row = session.execute(select(BatchLeaseRow).where(BatchLeaseRow.name == self.name)
                                  .with_for_update()).scalar_one_or_none()
            if row is None or row.holder != self.holder:
                self._lost = (f"the registry lease {self.name} was taken over by {_info(row)}" if row is not None
                              else f"the registry lease {self.name} was removed")
                return False
            row.expires_at = now + timedelta(seconds=self.seconds)
        self._renewed = time.monotonic()
        return True

    def release(self) -> None:
        """Give the lease up (only if it is still ours) and stop renewing."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.seconds)
            self._thread = None
        if self._held:
            with Session(self.registry.engine) as session, session.begin():
                session.execute(delete(BatchLeaseRow).where(BatchLeaseRow.name == self.name,
                                                            BatchLeaseRow.holder == self.holder))
            self._held = False

    def holder_info(self) -> LeaseInfo | None:
        with Session(self.registry.engine) as session, session.begin():
            row = session.get(BatchLeaseRow, self.name)
            return _info(row) if row is not None else None

    # -- waiting and renewing ------------------------------------------------------------

    def acquire(self, *, wait: bool, on_wait: Callable[[LeaseInfo], None] | None = None,
                poll: float = 0.5, timeout: float | None = None) -> LeaseInfo | None:
        """Take the lease, waiting for it (polling) when `wait`; returns None when taken, else
        (no wait, or `timeout` passed) who holds it. Renews in a thread from then on."""
        deadline = None if timeout is None else time.monotonic() + timeout
        told = False
        while True:
            holder = self.try_acquire()
            if holder is None:
                self._start_renewing()
                return None
            if not wait or (deadline is not None and time.monotonic() >= deadline):
                return holder
            if not told and on_wait is not None:
                on_wait(holder)
                told = True
            time.sleep(poll)

    def _start_renewing(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew_loop, name=f"lease-{self.name[:20]}", daemon=True)
        self._thread.start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                if not self.renew():
                    return
            except Exception:  # the database is away for a moment: `check` notices if it lasts
                continue

    def check(self) -> None:
        """Raise LeaseLost unless this process still holds the lease (renewed within its time)."""
        if not self._held:
            raise LeaseLost(f"the registry lease {self.name} is not held")
        if self._lost:
            raise LeaseLost(self._lost)
        if time.monotonic() - self._renewed > self.seconds:
            raise LeaseLost(f"the registry lease {self.name} was not renewed for {self.seconds:g} s "
                            "(registry unreachable or this process stalled)")


def _info(row: BatchLeaseRow) -> LeaseInfo:
    return LeaseInfo(row.name, row.holder, row.host, row.pid, row.acquired_at, row.expires_at)


__all__ = ["BatchLease", "LEASE_SECONDS", "LeaseInfo", "LeaseLost", "database_now", "this_host"]
