"""The manifest trusts a file the workers wrote only while it is the same file, unchanged
(certgen/written_files.py): any edit, touch, replacement, move or removal makes it read and hash
the file again, and a difference from the registry is named in the manifest."""

import dataclasses
import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from certgen import batch
from certgen.batch import BatchOptions, run_batch
from certgen.model import DocumentKind
from certgen.output import TMP_MARK, sha256_file, write_atomic, write_atomic_identified
from certgen.written_files import fine_grained, known_digest, note
from tests.test_batch import env, person_rows  # noqa: F401  (the fixture)


def _written(path: Path, data: bytes) -> dict:
    written: dict = {}
    digest, status = write_atomic_identified(path, data)
    note(written, status, digest)
    return written


def test_an_unchanged_file_is_known_by_its_identity(tmp_path):
    path = tmp_path / "a.pdf"
    written = _written(path, b"%PDF-1.7 first")
    assert known_digest(written, path) == sha256_file(path)


def test_an_edit_in_place_that_keeps_the_size_and_the_modification_time_is_seen(tmp_path):
    path = tmp_path / "a.pdf"
    written = _written(path, b"%PDF-1.7 first")
    before = os.stat(path)
    with open(path, "r+b") as handle:  # same size, different bytes
        handle.write(b"%PDF-1.7 FIRST")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # modification time put back: ctime moves
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns
    assert known_digest(written, path) is None


def test_a_replaced_a_removed_and_a_touched_file_are_read_again(tmp_path):
    path = tmp_path / "a.pdf"
    written = _written(path, b"%PDF-1.7 first")
    os.utime(path)  # touched
    assert known_digest(written, path) is None
    written = _written(path, b"%PDF-1.7 first")
    write_atomic(path, b"%PDF-1.7 first")  # the same bytes in another inode
    assert known_digest(written, path) is None
    path.unlink()
    assert known_digest(written, path) is None


def test_a_file_moved_from_another_noted_path_keeps_its_own_digest(tmp_path):
    a, b = tmp_path / "a.pdf", tmp_path / "b.pdf"
    written = _written(a, b"%PDF-1.7 aaaa")
    written.update(_written(b, b"%PDF-1.7 bbbb"))
    digest_a, digest_b = sha256_file(a), sha256_file(b)
    os.replace(a, b)  # b's path now holds a's file: never b's digest (a's, or read again: the move changed its ctime)
    assert known_digest(written, b) in (digest_a, None)
    assert known_digest(written, b) != digest_b


def test_a_batch_reads_back_none_of_the_files_it_wrote(tmp_path, env, monkeypatch):  # noqa: F811
    read: list[Path] = []
    original = batch.file_digest
    monkeypatch.setattr(batch, "file_digest", lambda path: read.append(path) or original(path))
    summary = run_batch(BatchOptions(DocumentKind.PERSON, person_rows(tmp_path / "in", 12), tmp_path / "out",
                                     workers=2), env)
    assert summary.issued == 12 and not summary.problems
    assert read == []
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert all(m["problem"] is None for m in manifest)
    for entry in manifest:  # and what it lists is what is on disk
        assert sha256_file(tmp_path / "out" / entry["file"]) == entry["sha256"]
        assert sha256_file(tmp_path / "out" / entry["card_file"]) == entry["card_sha256"]
        assert sha256_file(tmp_path / "out" / entry["sheet_file"]) == entry["sheet_sha256"]


def test_a_file_edited_during_the_batch_is_named_in_the_manifest(tmp_path, env, monkeypatch):  # noqa: F811
    original = batch._write_manifest
    victims: list[Path] = []

    def tamper_then_write(options, *args):
        certificate = sorted((options.output / "certificates").glob("*.pdf"))[3]
        data = bytearray(certificate.read_bytes())
        data[-20] ^= 1  # same size, one bit
        with open(certificate, "r+b") as handle:
            handle.write(bytes(data))
        card = sorted((options.output / "cards").glob("*.pdf"))[5]
        card.unlink()
        victims.extend([certificate, card])
        return original(options, *args)

    monkeypatch.setattr(batch, "_write_manifest", tamper_then_write)
    summary = run_batch(BatchOptions(DocumentKind.PERSON, person_rows(tmp_path / "in", 12), tmp_path / "out",
                                     workers=2), env)
    entries = {m["number"]: m for m in json.loads((tmp_path / "out" / "manifest.json").read_text())}
    certificate, card = victims
    assert entries[certificate.stem]["problem"] == "certificate PDF on disk differs from the registry"
    assert entries[card.stem]["problem"] == "card on disk differs from the registry"
    assert sum(1 for m in entries.values() if m["problem"]) == 2
    assert any(p.startswith(certificate.stem) for p in summary.problems)


def test_a_file_swapped_in_right_after_the_workers_rename_is_named_in_the_manifest(tmp_path, env, monkeypatch):  # noqa: F811
    """An attacker watching the folder (inotify's IN_MOVED_TO) renames a file of its own over a
    certificate the moment the worker's rename lands, before the worker notes the file: the
    manifest must not take the attacker's file for the worker's."""
    rename = os.replace
    flag = tmp_path / "swapped"

    def replace_then_swap(src, dst, *args, **kwargs):
        rename(src, dst, *args, **kwargs)
        dst = Path(dst)
        if dst.parent.name != "certificates" or TMP_MARK in dst.name:
            return
        try:
            os.close(os.open(flag, os.O_CREAT | os.O_EXCL))  # once, whichever worker gets here first
        except FileExistsError:
            return
        data = bytearray(dst.read_bytes())
        data[-20] ^= 1
        forged = dst.with_name("forged")
        forged.write_bytes(bytes(data))
        rename(forged, dst)
        flag.write_text(dst.stem)

    monkeypatch.setattr(os, "replace", replace_then_swap)
    run_batch(BatchOptions(DocumentKind.PERSON, person_rows(tmp_path / "in", 6), tmp_path / "out", workers=2), env)
    monkeypatch.setattr(os, "replace", rename)
    victim = flag.read_text()
    entries = {m["number"]: m for m in json.loads((tmp_path / "out" / "manifest.json").read_text())}
    assert sha256_file(tmp_path / "out" / entries[victim]["file"]) != entries[victim]["sha256"]
    assert entries[victim]["problem"] == "certificate PDF on disk differs from the registry"
    assert [n for n, m in entries.items() if m["problem"]] == [victim]


def test_a_file_written_to_between_the_write_and_the_rename_is_not_noted(tmp_path, monkeypatch):
    rename = os.replace

    def append_then_rename(src, dst):
        with open(src, "ab") as handle:  # another writer's bytes land in the temporary file
            handle.write(b" and more")
        rename(src, dst)

    monkeypatch.setattr(os, "replace", append_then_rename)
    digest, status = write_atomic_identified(tmp_path / "a.pdf", b"%PDF-1.7 first")
    assert status is None and digest != sha256_file(tmp_path / "a.pdf")
    written: dict = {}
    note(written, status, digest)
    assert written == {} and known_digest(written, tmp_path / "a.pdf") is None


def test_files_on_a_filesystem_with_whole_second_times_are_read_back(tmp_path):
    """ext4 with 128-byte inodes, ext3, HFS+ keep whole seconds (FAT 2 s, exFAT 10 ms): an edit
    in place right after the write keeps size, modification and change time (seen on an ext4
    made with `mkfs.ext4 -I 128`), so such files are never noted."""
    path = tmp_path / "a.pdf"
    digest, status = write_atomic_identified(path, b"%PDF-1.7 first")
    assert fine_grained(status)  # this filesystem: nanoseconds
    for granule in (10**9, 2 * 10**9, 10**7):
        coarse = SimpleNamespace(st_ino=status.st_ino, st_dev=status.st_dev, st_size=status.st_size,
                                 st_mtime_ns=status.st_mtime_ns // granule * granule,
                                 st_ctime_ns=status.st_ctime_ns // granule * granule)
        written: dict = {}
        note(written, coarse, digest)
        assert written == {} and not fine_grained(coarse)


def test_a_directory_in_place_of_a_certificate_is_named_in_the_manifest(tmp_path, env, monkeypatch):  # noqa: F811
    """It stopped the batch with IsADirectoryError after the group was recorded, leaving no manifest."""
    original = batch._write_manifest
    victims: list[Path] = []

    def directory_then_write(options, *args):
        certificate = sorted((options.output / "certificates").glob("*.pdf"))[1]
        certificate.unlink()
        certificate.mkdir()
        victims.append(certificate)
        return original(options, *args)

    monkeypatch.setattr(batch, "_write_manifest", directory_then_write)
    summary = run_batch(BatchOptions(DocumentKind.PERSON, person_rows(tmp_path / "in", 4), tmp_path / "out",
                                     workers=1), env)
    entries = {m["number"]: m for m in json.loads((tmp_path / "out" / "manifest.json").read_text())}
    assert entries[victims[0].stem]["problem"] == "certificate PDF on disk differs from the registry"
    assert [n for n, m in entries.items() if m["problem"]] == [victims[0].stem]
    assert summary.issued == 4 and any(p.startswith(victims[0].stem) for p in summary.problems)


def test_a_rerun_with_a_directory_in_place_of_a_certificate_names_it_and_repairs_the_rest(tmp_path, env):  # noqa: F811
    """A rerun used to stop with an IsADirectoryError traceback while planning. Now the place is
    named (it cannot take the file), the other damaged files are repaired, nothing else changes."""
    data = person_rows(tmp_path / "in", 12)
    out = tmp_path / "out"
    run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=2), env)
    certificates = sorted((out / "certificates").glob("*.pdf"))
    blocked, lost = certificates[2], certificates[5]
    blocked.unlink()
    blocked.mkdir()
    lost.unlink()
    sheet = out / "sheets" / "cards-0002.pdf"  # the last two cards' sheet
    sheet.unlink()
    sheet.mkdir()
    summary = run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=2), env)
    assert summary.issued == 0 and summary.already_issued == 12
    assert [p for p in summary.problems if p.startswith(blocked.stem)] == [
        f"{blocked.stem}: its certificate PDF is different in {out}, and writing it again failed (Is a directory: "
        f"{blocked}): make the path free for the file, then run the batch again"]
    assert any(p.startswith("sheets/cards-0002.pdf: print sheet writing it again failed (Is a directory")
               for p in summary.problems)
    assert any(r.startswith(f"{lost.stem}: certificate PDF was missing: drawn again") for r in summary.repaired)
    assert lost.is_file() and blocked.is_dir()
    entries = {m["number"]: m for m in json.loads((out / "manifest.json").read_text())}
    assert entries[blocked.stem]["problem"].startswith("certificate PDF")
    assert entries[lost.stem]["problem"] is None
    assert entries[certificates[11].stem]["problem"] == "print sheet on disk differs from the registry"


@pytest.mark.parametrize("fstype, source", [("nfs4", "nas:/export"), ("fuse.sshfs", "me@host:/srv"),
                                            ("ext4", "/dev/sdb1")])
def test_on_a_network_folder_an_edit_its_attribute_cache_hides_is_caught_by_reading_back(
        tmp_path, env, monkeypatch, fstype, source):  # noqa: F811
    """Another client edits a certificate in place between the worker's note and the manifest,
    and the NFS client's attribute cache still shows the identity noted (os.stat answers with the
    status from before the edit, as a client does for 1 to 3 s). With the output folder on NFS or
    FUSE (an injected mountinfo) the manifest reads every file back and names the edit; on a
    local disk it trusts identities as before and reads nothing back (where the kernel's
    attributes are never stale)."""
    out = tmp_path / "out"
    mountinfo = tmp_path / "mountinfo"
    point = os.path.realpath(tmp_path).replace("\\", "\\134").replace(" ", "\\040") + "/out"
    mountinfo.write_text("21 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
                         f"40 21 0:52 / {point} rw,relatime shared:7 - {fstype} {source} rw\n")
    read: list[Path] = []
    digest = batch.file_digest
    monkeypatch.setattr(batch, "file_digest", lambda path: read.append(path) or digest(path))
    write_manifest, real_stat = batch._write_manifest, os.stat
    victims: list[Path] = []

    def edit_behind_a_cached_identity(options, *args):
        victim = sorted((options.output / "certificates").glob("*.pdf"))[3]
        cached = real_stat(victim)
        data = bytearray(victim.read_bytes())
        data[-20] ^= 1  # same size, one bit
        with open(victim, "r+b") as handle:
            handle.write(bytes(data))
        assert real_stat(victim).st_ctime_ns != cached.st_ctime_ns
        victims.append(victim)
        read.clear()  # only what the manifest reads
        monkeypatch.setattr(os, "stat", lambda path, *a, **k: cached if os.fspath(path) == str(victim)
                            else real_stat(path, *a, **k))
        try:
            return write_manifest(options, *args)
        finally:
            monkeypatch.setattr(os, "stat", real_stat)

    monkeypatch.setattr(batch, "_write_manifest", edit_behind_a_cached_identity)
    summary = run_batch(BatchOptions(DocumentKind.PERSON, person_rows(tmp_path / "in", 6), out, workers=2),
                        dataclasses.replace(env, mountinfo=mountinfo))
    assert summary.issued == 6
    entries = {m["number"]: m for m in json.loads((out / "manifest.json").read_text())}
    victim = victims[0]
    if fstype == "ext4":
        assert read == []  # as before: nothing read back; the stale identity is trusted
        assert not any(m["problem"] for m in entries.values()) and summary.problems == []
        return
    files = sorted(p for sub in ("certificates", "cards", "sheets") for p in (out / sub).glob("*.pdf"))
    assert sorted(read) == files and len(files) == 6 + 6 + 1
    assert entries[victim.stem]["problem"] == "certificate PDF on disk differs from the registry"
    assert [n for n, m in entries.items() if m["problem"]] == [victim.stem]
    assert [p for p in summary.problems if p.startswith(victim.stem)]
