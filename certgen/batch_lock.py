"""One batch at a time: locks taken before a batch writes anything.

Three locks, always taken in this order (so two batches never wait for each other in a circle):

1. the input, by the SHA-256 of its content: `DATA/locks/input-<digest>.lock` (the same rows
   under another name or path are the same batch), held with `flock`;
2. the registry lease `input:<digest>` (`certgen.registry.leases`), for machines that share a
   PostgreSQL registry but no file system;
3. the output folder: `OUTPUT/.certgen-batch.lock`, held with `flock`. Last, so that a batch
   waiting for the same input does not even create its output folder.

The operating system drops an `flock` when its holder exits, however it exits (a SIGKILL, a
power cut of the process), so a lock file left behind never blocks anyone; lock files are
never deleted (deleting one while another process waits on it would let a third one in).
A second batch waits, and says so once on stderr, or with `wait=False` raises `BatchBusy`.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from .errors import CertgenError
from .registry import Registry
from .registry.leases import LEASE_SECONDS, BatchLease, LeaseInfo

LOCK_NAME = ".certgen-batch.lock"
#: Exit code of `certgen issue --no-wait` when another batch holds a lock (sysexits EX_TEMPFAIL).
BUSY_EXIT = 75


#: Descriptors of the locks this process holds. A forked child (a worker) closes its copies at
#: once: an flock lasts while any copy of its descriptor is open, and a worker that outlives a
#: killed batch (still busy with a group) must not keep the batch's locks.
_held: set[int] = set()


def _close_in_child() -> None:
    for fd in list(_held):
        try:
            os.close(fd)
        except OSError:
            pass
    _held.clear()


os.register_at_fork(after_in_child=_close_in_child)


class BatchBusy(CertgenError):
    """Another batch holds the output folder, the input or its registry lease (no waiting)."""


class FileLock:
    """An exclusive `flock` on `path`; the file names its holder while it is held."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        #: Who held it when this process found it taken (from the lock file).
        self.busy_holder = ""

    def acquire(self, *, wait: bool, on_busy: Callable[[str], None]) -> bool:
        """Take the lock. When it is held elsewhere: `on_busy(holder)` once, then wait for it
        (`wait`) or return False."""
        try:  # never through a symbolic link: a planted one would have us truncate its target
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise CertgenError(f"{self.path}: cannot be used as a lock file ({exc.strerror}"
                               + ("; it is a symbolic link" if self.path.is_symlink() else "") + ")") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.busy_holder = self._holder(fd)
                on_busy(self.busy_holder)
                if not wait:
                    os.close(fd)
                    return False
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        _held.add(fd)
        note = f"pid {os.getpid()} on {socket.gethostname()} since {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S}Z\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, note.encode(), 0)
        return True

    @staticmethod
    def _holder(fd: int) -> str:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
        return text or "another process"

    def release(self) -> None:
        if self._fd is not None:
            _held.discard(self._fd)
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


@contextmanager
def batch_locks(output: Path, input_sha256: str, registry: Registry, *, lock_dir: Path | None = None,
                wait: bool = True, on_wait: Callable[[str], None] | None = None,
                lease_seconds: float = LEASE_SECONDS) -> Iterator[BatchLease]:
    """Hold the three locks (see the module docstring) for the body; yields the registry lease,
    whose `check()` says it is still held. Raises BatchBusy instead of waiting when not `wait`."""
    waited: list[str] = []

    def tell(message: str) -> None:
        waited.append(message)
        if on_wait is not None:
            on_wait(message)

    started = time.monotonic()
    with ExitStack() as stack:
        if lock_dir is not None:
            lock_dir.mkdir(parents=True, exist_ok=True)
            _take(stack, FileLock(lock_dir / f"input-{input_sha256[:32]}.lock"), "this input", wait, tell)
        lease = BatchLease(registry, f"input:{input_sha256}", seconds=lease_seconds)

        def lease_busy(holder: LeaseInfo) -> None:
            tell(f"waiting: the registry says another batch of this input is running ({holder}); "
                 "this run starts when it ends or its lease expires")

        holder = lease.acquire(wait=wait, on_wait=lease_busy)
        if holder is not None:
            raise BatchBusy(f"another batch of this input is running ({holder}, registry lease); "
                            "nothing was written")
        stack.callback(lease.release)
        output.mkdir(parents=True, exist_ok=True)
        _take(stack, FileLock(output / LOCK_NAME), f"the output folder {output}", wait, tell)
        if waited:
            tell(f"the other batch has ended: this run starts now ({time.monotonic() - started:.0f} s later)")
        yield lease


def _take(stack: ExitStack, lock: FileLock, what: str, wait: bool, tell: Callable[[str], None]) -> None:
    def busy(holder: str) -> None:
        if wait:
            tell(f"waiting: another `certgen issue` ({holder}) is working on {what}; this run starts when it "
                 "ends (--no-wait refuses instead)")

    if not lock.acquire(wait=wait, on_busy=busy):
        raise BatchBusy(f"another `certgen issue` ({lock.busy_holder}) is working on {what}; nothing was written")
    stack.callback(lock.release)


__all__ = ["BUSY_EXIT", "BatchBusy", "FileLock", "LOCK_NAME", "batch_locks"]
