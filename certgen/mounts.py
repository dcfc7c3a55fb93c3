"""Which filesystem holds a folder, and whether the identity of a file on it (device, inode,
size, times: certgen/written_files.py) shows every change made to the file.

On a local filesystem the kernel that answers `stat` is the one every write goes through, so a
change shows at once. On a network or user-space filesystem (NFS, SMB, 9p, Ceph, FUSE: sshfs,
s3fs, GlusterFS...) the client caches a file's attributes (1 to 3 s and more on NFS,
`attr_timeout` on FUSE) and another client's or the server's own change does not show until the
cache expires: there an unchanged identity proves nothing, and a batch reads its files back.

Linux only: the filesystem is the one mounted at the longest mount point of
/proc/self/mountinfo that holds the folder (symbolic links resolved first; a bind mount is
listed with the type of the filesystem it shows). Wherever that cannot be told (no
mountinfo: another system, an unreadable or malformed file, no mount point matches), identities
are not trusted: reading back costs time, trusting a stale identity a manifest that lies."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")

#: Filesystems whose attributes a client caches, or that other hosts write to: network
#: (NFS, SMB/CIFS, 9p, AFS, Coda), distributed and cluster (Ceph, GlusterFS, Lustre, GPFS,
#: BeeGFS, OrangeFS, GFS2, OCFS2), and a virtual machine's host folders (virtiofs, VirtualBox,
#: VMware, Parallels, WSL). Every FUSE filesystem (`fuse`, `fuseblk`, `fuse.<name>`: sshfs,
#: s3fs, rclone, glusterfs, ceph-fuse...) is user-space and cached too (`_untrusted_type`).
NETWORK_TYPES = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "ncp", "9p", "afs", "coda",
    "ceph", "glusterfs", "lustre", "gpfs", "beegfs", "orangefs", "pvfs2", "gfs2", "ocfs2",
    "virtiofs", "vboxsf", "vmhgfs", "prl_fs", "drvfs", "sshfs", "s3fs", "davfs",
})

#: Local filesystems, trusted as before (a coarse-time one is still read back:
#: written_files.fine_grained). A type in neither list is trusted only when it is mounted from
#: a local block device (`/dev/...`): every disk filesystem is, no network one is (its source
#: is a server and share, or a name).
LOCAL_TYPES = frozenset({
    "ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "jfs", "reiserfs", "bcachefs", "nilfs2",
    "tmpfs", "ramfs", "overlay", "hfs", "hfsplus", "vfat", "msdos", "exfat", "ntfs3", "udf",
})

_ESCAPE = re.compile(rb"\\([0-3][0-7]{2})")


@dataclass(frozen=True)
class Mount:
    """One line of mountinfo: where the filesystem is mounted, its type and its source."""

    point: bytes
    fstype: str
    source: str


def distrust(folders: Iterable[Path], mountinfo: Path = MOUNTINFO) -> str | None:
    """Why the identities of files in `folders` cannot be trusted (their filesystem, or why it
    cannot be told), or None when every folder is on a local filesystem. Reads `mountinfo` once."""
    try:
        mounts = parse_mountinfo(mountinfo.read_bytes())
    except (OSError, ValueError) as exc:
        return f"the filesystem cannot be told ({mountinfo}: {exc})"
    for folder in folders:
        mount = mount_of(folder, mounts)
        if mount is None:
            return f"the filesystem of {folder} cannot be told (no mount point of {mountinfo} holds it)"
        why = _untrusted_type(mount)
        if why:
            return f"{folder} is on {why} ({mount.fstype} at {os.fsdecode(mount.point)})"
    return None


def mount_of(folder: Path, mounts: list[Mount]) -> Mount | None:
    """The mount that holds `folder` once its symbolic links are resolved: the longest mount
    point that is the folder or one of its parents; of two mounts at one point, the later
    (mounted over the other)."""
    path = os.path.realpath(os.fsencode(folder))
    found: Mount | None = None
    for mount in mounts:
        point = mount.point
        if path == point or point == b"/" or path.startswith(point.rstrip(b"/") + b"/"):
            if found is None or len(point) >= len(found.point):
                found = mount
    return found


def parse_mountinfo(text: bytes) -> list[Mount]:
    """The mounts of a mountinfo file (proc(5)): `id parent major:minor root point options
    [optional...] - fstype source super-options`, with space, tab, newline and backslash in
    paths written as octal escapes (`\\040`). ValueError names a malformed line."""
    mounts = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split(b" ")
        try:
            separator = fields.index(b"-", 6)
        except ValueError:
            raise ValueError(f"line {number} is not a mountinfo line: {line[:200]!r}") from None
        if separator + 2 >= len(fields) or not fields[4].startswith(b"/"):
            raise ValueError(f"line {number} is not a mountinfo line: {line[:200]!r}")
        mounts.append(Mount(_unescape(fields[4]), os.fsdecode(_unescape(fields[separator + 1])),
                            os.fsdecode(_unescape(fields[separator + 2]))))
    return mounts


def _untrusted_type(mount: Mount) -> str | None:
    if mount.fstype.startswith("fuse"):
        return "a user-space (FUSE) filesystem"
    if mount.fstype in NETWORK_TYPES:
        return "a network filesystem"
    if mount.fstype in LOCAL_TYPES or mount.source.startswith("/dev/"):
        return None
    return "a filesystem of an unknown type not mounted from a local block device"


def _unescape(field: bytes) -> bytes:
    return _ESCAPE.sub(lambda m: bytes([int(m[1], 8)]), field)
