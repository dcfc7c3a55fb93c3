"""Which filesystem holds the output folder (certgen/mounts.py), from crafted mountinfo files:
identities are trusted on local filesystems only, and wherever the filesystem cannot be told
the files are read back."""

from pathlib import Path

import pytest

from certgen.mounts import MOUNTINFO, distrust, mount_of, parse_mountinfo

ROOT = "21 1 254:0 / / rw,relatime - ext4 /dev/vda rw"


def _mountinfo(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "mountinfo"
    path.write_text("\n".join((ROOT, *lines)) + "\n")
    return path


def _line(point: str, fstype: str, source: str, root: str = "/", optional: str = "shared:7") -> str:
    return f"40 21 0:52 {root} {point} rw,relatime {optional} - {fstype} {source} rw"


@pytest.mark.parametrize("fstype, source, why", [
    ("nfs", "server:/export", "a network filesystem (nfs at "),
    ("nfs4", "server:/export", "a network filesystem (nfs4 at "),
    ("cifs", "//server/share", "a network filesystem (cifs at "),
    ("9p", "drvfs", "a network filesystem (9p at "),
    ("ceph", "10.0.0.1:6789:/", "a network filesystem (ceph at "),
    ("fuse.sshfs", "user@host:/srv", "a user-space (FUSE) filesystem (fuse.sshfs at "),
    ("fuse.s3fs", "s3fs", "a user-space (FUSE) filesystem (fuse.s3fs at "),
    ("fuse.glusterfs", "gluster:/vol", "a user-space (FUSE) filesystem (fuse.glusterfs at "),
    ("fuseblk", "/dev/sdb1", "a user-space (FUSE) filesystem (fuseblk at "),
    ("weirdfs", "host:/share", "a filesystem of an unknown type not mounted from a local block device (weirdfs at "),
])
def test_network_fuse_and_unknown_remote_filesystems_are_not_trusted(tmp_path, fstype, source, why):
    out = tmp_path / "out"
    out.mkdir()
    info = _mountinfo(tmp_path, _line(str(tmp_path), fstype, source))
    assert distrust([out], info) == f"{out} is on {why}{tmp_path})"


@pytest.mark.parametrize("fstype, source", [
    ("ext4", "/dev/sda1"), ("tmpfs", "tmpfs"), ("overlay", "overlay"), ("xfs", "/dev/nvme0n1p2"),
    ("btrfs", "/dev/sda2"), ("zfs", "tank/data"), ("newdiskfs", "/dev/sdc1"),  # unknown, but a local disk
])
def test_local_filesystems_are_trusted(tmp_path, fstype, source):
    info = _mountinfo(tmp_path, _line(str(tmp_path), fstype, source))
    assert distrust([tmp_path / "out", tmp_path / "out" / "cards"], info) is None


def test_the_longest_mount_point_wins_and_only_on_whole_names(tmp_path):
    """/srv/share is NFS, /srv/share/local a local disk mounted inside it, /srv/shared not in it."""
    info = _mountinfo(tmp_path, _line("/srv", "ext4", "/dev/sdb1"), _line("/srv/share", "nfs4", "nas:/x"),
                      _line("/srv/share/local", "xfs", "/dev/sdc1"))
    assert distrust([Path("/srv/share/local/out")], info) is None
    assert distrust([Path("/srv/shared/out")], info) is None
    assert distrust([Path("/srv/share/out")], info).startswith("/srv/share/out is on a network filesystem (nfs4 at /srv/share)")
    assert distrust([Path("/srv/share")], info).startswith("/srv/share is on a network filesystem")
    # one folder of several on NFS is enough
    assert distrust([Path("/srv/share/local/out"), Path("/srv/share/x")], info).startswith("/srv/share/x is on")


def test_a_mount_over_another_at_the_same_point_hides_it(tmp_path):
    info = _mountinfo(tmp_path, _line("/data", "nfs", "nas:/a"), _line("/data", "ext4", "/dev/sdb1"))
    assert distrust([Path("/data/out")], info) is None
    info = _mountinfo(tmp_path, _line("/data", "ext4", "/dev/sdb1"), _line("/data", "nfs", "nas:/a"))
    assert distrust([Path("/data/out")], info).startswith("/data/out is on a network filesystem (nfs at /data)")


def test_bind_mounts_carry_the_type_of_what_they_show(tmp_path):
    """A folder of an NFS share bound onto a local path is NFS there; a local folder bound into
    the share is local there (mountinfo's fourth field is the bound folder's root)."""
    info = _mountinfo(tmp_path, _line("/mnt/nas", "nfs4", "nas:/export"),
                      _line("/srv/out", "nfs4", "nas:/export", root="/batches/out"),
                      _line("/mnt/nas/scratch", "ext4", "/dev/sdb1", root="/scratch"))
    assert distrust([Path("/srv/out/certificates")], info).startswith("/srv/out/certificates is on a network")
    assert distrust([Path("/mnt/nas/scratch/out")], info) is None


def test_escaped_mount_points(tmp_path):
    r"""mountinfo writes space, tab, newline and backslash in paths as \040, \011, \012, \134."""
    point = tmp_path / "my share\tx\\y"
    point.mkdir()
    escaped = str(point).replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011")
    info = _mountinfo(tmp_path, _line(escaped, "cifs", "//nas/my\\040share"))
    assert distrust([point / "out"], info) == f"{point / 'out'} is on a network filesystem (cifs at {point})"
    mounts = parse_mountinfo(info.read_bytes())
    assert mounts[-1].source == "//nas/my share"
    assert distrust([tmp_path / "my share"], info) is None  # the root's ext4: the escaped name is not a prefix of it


def test_a_path_through_a_symbolic_link_is_resolved_first(tmp_path):
    real = tmp_path / "nas" / "out"
    real.mkdir(parents=True)
    link = tmp_path / "out-link"
    link.symlink_to(real)
    info = _mountinfo(tmp_path, _line(str(tmp_path / "nas"), "nfs", "nas:/x"))
    assert distrust([link], info) == f"{link} is on a network filesystem (nfs at {tmp_path / 'nas'})"
    assert distrust([link / "certificates"], info).startswith(f"{link / 'certificates'} is on a network")
    # and a local folder reached through a link that lies in the share is local
    local = tmp_path / "disk"
    local.mkdir()
    (tmp_path / "nas" / "to-disk").symlink_to(local)
    assert distrust([tmp_path / "nas" / "to-disk"], info) is None


def test_a_missing_unreadable_or_malformed_mountinfo_is_not_trusted(tmp_path):
    missing = tmp_path / "none"
    assert distrust([tmp_path], missing).startswith(f"the filesystem cannot be told ({missing}: [Errno 2]")
    assert distrust([tmp_path], tmp_path).startswith(f"the filesystem cannot be told ({tmp_path}: [Errno 21]")
    bad = tmp_path / "bad"
    bad.write_text(ROOT + "\nnot a mount line at all\n")
    assert distrust([tmp_path], bad) == (f"the filesystem cannot be told ({bad}: line 2 is not a mountinfo line: "
                                         "b'not a mount line at all')")
    empty = tmp_path / "empty"
    empty.write_text("")
    assert distrust([tmp_path], empty) == (f"the filesystem of {tmp_path} cannot be told (no mount point of "
                                           f"{empty} holds it)")


def test_this_machines_mountinfo_is_read(tmp_path):
    """The real /proc/self/mountinfo parses, and tmp_path is on one of its mounts."""
    if not MOUNTINFO.exists():
        pytest.skip("no /proc/self/mountinfo (not Linux)")
    mounts = parse_mountinfo(MOUNTINFO.read_bytes())
    assert mount_of(tmp_path, mounts) is not None
    assert mount_of(Path("/"), mounts).point == b"/"
