"""Files a batch's workers wrote, known by their identity, so that the manifest need not read
them back.

The manifest lists every file with the registry's digest and names any file on disk that
does not have it (docs/issuing.md). Reading back and hashing every file this very run wrote
was a tenth of a batch's time, at its end, for bytes the workers had just hashed as they wrote
them. A worker now notes each file's identity right after its rename, through its own open
handle (a file renamed over the path meanwhile is another inode): device, inode, size, and
modification and change times in nanoseconds; the change time is set by the kernel on every
write, rename, truncation or `utime`, and no system call sets it back. When the manifest finds
the same identity at the path, the file holds the bytes the worker hashed; anything else (a
file replaced, edited, touched, moved from another path, or gone) is read and hashed as before.

The limit: the kernel stamps times from a clock that advances in ticks of a few milliseconds
(filesystems that keep coarser times are not trusted at all: `fine_grained`),
so an edit in place that keeps the size, made within the same tick as the worker's rename, is
not seen here; a rerun of the batch reads every file again (certgen/batch_plan.py). On a
network or FUSE filesystem a client's cached attributes can hide another client's change from
`stat`: there the batch trusts no identity and reads every file back (certgen/mounts.py)."""

from __future__ import annotations

import os
import struct
from pathlib import Path

#: 64 bytes: device, size, modification and change times (ns), then the SHA-256 the writer
#: computed. Packed: the batch process holds one per file written (memory stays flat).
Written = bytes
_IDENTITY = struct.Struct("<QQqq")


def note(written: dict[int, Written], status: os.stat_result | None, digest: str) -> None:
    """Record the file just written with `digest` (hex), by its inode. `status`: taken through
    the writer's own handle after its rename (output.write_atomic_identified), not by its path:
    a file renamed over the path meanwhile is another inode, read by the manifest. None: not
    noted (the manifest reads it)."""
    if status is not None and fine_grained(status):
        written[status.st_ino] = _identity(status) + bytes.fromhex(digest)


def fine_grained(status: os.stat_result) -> bool:
    """Whether the file's change time has sub-millisecond digits. Filesystems that keep whole
    seconds (ext4 with 128-byte inodes, ext3, HFS+), 2 s (FAT) or 10 ms (exFAT) would let an
    edit in place within that long keep the identity: their files are read back. (A
    fine-grained time that is a whole millisecond, one in a million, is read back too.)"""
    return status.st_ctime_ns % 1_000_000 != 0


def known_digest(written: dict[int, Written], path: Path) -> str | None:
    """The digest noted for the file now at `path` if it is the same file, unchanged; else None
    (the caller reads it)."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    found = written.get(status.st_ino)
    if found is None or found[:_IDENTITY.size] != _identity(status):
        return None
    return found[_IDENTITY.size:].hex()


def _identity(status: os.stat_result) -> bytes:
    return _IDENTITY.pack(status.st_dev, status.st_size, status.st_mtime_ns, status.st_ctime_ns)
