"""Durability by group (certgen/batch_durable.py): the registry records a group as issued only
after a sync that began once the group's files were written; syncs are shared by the groups
written while the previous one ran; a failure records nothing the failed sync covered."""

import threading

import pytest

from certgen import batch
from certgen.batch import BatchOptions, run_batch
from certgen.batch_durable import DurableRecorder
from certgen.errors import CertgenError
from certgen.model import DocumentKind, Status
from tests.test_batch import env, person_rows  # noqa: F401  (the fixture)


class _Disk:
    """A stand-in for sync(2): remembers what had been added when each sync began, and can be
    held until released (so that results pile up behind a slow sync)."""

    def __init__(self) -> None:
        self.added: list[int] = []
        self.durable: set[int] = set()
        self.release = threading.Event()
        self.release.set()
        self.started = threading.Event()

    def flush(self) -> None:
        covered = set(self.added)
        self.started.set()
        self.release.wait(10)
        self.durable |= covered


def test_results_are_settled_in_order_only_after_a_sync_that_covered_them():
    disk = _Disk()
    settled: list[list[int]] = []

    def settle(results):
        assert set(results) <= disk.durable, "settled before a sync covered it"
        settled.append(list(results))

    disk.release.clear()
    with DurableRecorder(settle, flush=disk.flush) as recorder:
        disk.added.append(0)
        recorder.add(0)  # the first sync starts and is held
        assert disk.started.wait(10)
        for i in range(1, 6):
            disk.added.append(i)
            recorder.add(i)
        assert settled == []  # nothing is recorded while its sync runs
        disk.release.set()
    assert [i for part in settled for i in part] == list(range(6))
    assert settled[0] == [0] and [1, 2, 3, 4, 5] in settled  # results 1-5 shared one sync
    assert recorder.syncs == 2


def test_a_full_window_waits_for_the_sync():
    disk = _Disk()
    settled: list[int] = []

    def settle(results):
        assert set(results) <= disk.durable
        settled.extend(results)

    with DurableRecorder(settle, flush=disk.flush, max_waiting=3) as recorder:
        for i in range(10):
            disk.added.append(i)
            recorder.add(i)
            assert i + 1 - len(settled) <= 3  # never more than max_waiting held
    assert settled == list(range(10))


def test_a_failed_sync_settles_nothing_it_covered():
    settled: list[int] = []

    def failing() -> None:
        raise OSError(5, "Input/output error")

    with pytest.raises(OSError, match="Input/output error"):
        with DurableRecorder(settled.extend, flush=failing) as recorder:
            recorder.add(1)
            recorder.add(2)
    assert settled == []


def test_a_failed_settle_is_not_retried_on_the_way_out():
    calls: list[list[int]] = []

    def settle(results):
        calls.append(list(results))
        raise RuntimeError("lease lost")

    with pytest.raises(RuntimeError, match="lease lost"):
        with DurableRecorder(settle, flush=lambda: None) as recorder:
            recorder.add(1)
            recorder.close()
    assert calls == [[1]]


def test_without_durability_each_result_is_settled_at_once():
    settled: list[int] = []
    with DurableRecorder(settled.extend, durable=False, flush=lambda: pytest.fail("synced")) as recorder:
        recorder.add(1)
        assert settled == [1]


def test_a_batch_marks_only_files_that_a_finished_sync_found_on_disk(tmp_path, env, monkeypatch):  # noqa: F811
    """The real pipeline with two workers: every certificate marked issued had its certificate
    and card on disk when a sync that had finished before the mark began."""
    data = person_rows(tmp_path / "in", 45)
    out = tmp_path / "out"
    synced: set[str] = set()
    syncs: list[int] = []

    def flush() -> None:
        on_disk = {p.name for p in out.rglob("*.pdf")}
        syncs.append(len(on_disk))
        synced.update(on_disk)

    marked: list[str] = []
    original = env.registry.mark_issued_many

    def mark(issued, **kwargs):
        for item in issued:
            assert f"{item.number}.pdf" in synced, f"{item.number} marked before a sync covered its files"
        marked.extend(item.number for item in issued)
        return original(issued, **kwargs)

    monkeypatch.setattr(batch, "flush_to_disk", flush)
    monkeypatch.setattr(env.registry, "mark_issued_many", mark)
    summary = run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=2), env)
    assert summary.issued == 45 and len(marked) == 45 and env.registry.count(Status.ACTIVE) == 45
    assert 1 <= len(syncs) <= 5  # five groups; never more syncs than groups


def test_groups_handed_back_before_a_failing_group_are_still_recorded(tmp_path, env, monkeypatch):  # noqa: F811
    """Group 3 fails: groups 1 and 2 (20 rows) are synced and recorded on the way out, group 3
    stays pending, and a rerun finishes it."""
    from certgen import card_files
    data = person_rows(tmp_path / "in", 25)
    out = tmp_path / "out"
    original = card_files.render_card
    drawn = {"n": 0}

    def sometimes_broken(*args, **kwargs):
        drawn["n"] += 1
        if drawn["n"] > 20:
            raise OSError("photo file vanished")
        return original(*args, **kwargs)

    monkeypatch.setattr(card_files, "render_card", sometimes_broken)
    with pytest.raises(CertgenError, match=r"group 3 \(SK-2026-000021-.*OSError: photo file vanished"):
        run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=1), env)
    assert env.registry.count(Status.ACTIVE) == 20 and env.registry.count(Status.PENDING) == 5
    monkeypatch.setattr(card_files, "render_card", original)
    summary = run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=1), env)
    assert summary.issued == 5 and summary.already_issued == 20 and env.registry.count(Status.ACTIVE) == 25
