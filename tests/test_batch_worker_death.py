"""A worker process that dies (a crash in a C library, the OOM killer) stops the batch with an
error naming it, instead of waiting forever for the result it took with it: multiprocessing's
pool replaces a dead worker silently and never answers for its task. The groups handed back
before it are still synced and recorded, and a rerun finishes the batch without duplicates."""

import multiprocessing
import os
import time

import pytest

from certgen import batch, issue_worker
from certgen.batch import BatchOptions, run_batch
from certgen.batch_pool import WorkerDied, bounded_map
from certgen.model import DocumentKind, Status
from tests.test_batch import env, person_rows  # noqa: F401  (the fixture)


def _dies_on_three(item: int) -> int:
    if item == 3:
        os._exit(9)
    return item


def test_bounded_map_raises_when_a_worker_dies_instead_of_hanging():
    pool = multiprocessing.get_context("fork").Pool(2)
    try:
        started = time.monotonic()
        got: list[int] = []
        with pytest.raises(WorkerDied, match="a worker process died"):
            for value in bounded_map(pool, _dies_on_three, range(8), 5):
                got.append(value)
        assert time.monotonic() - started < 30
        assert got == [0, 1, 2]  # in order, up to the lost item
    finally:
        pool.terminate()
        pool.join()


_ORIGINAL = issue_worker.run_group


def _group_three_dies(group):
    if group.index == 2:
        os._exit(9)
    return _ORIGINAL(group)


def test_a_batch_whose_worker_dies_stops_and_a_rerun_finishes_it(tmp_path, env, monkeypatch):  # noqa: F811
    data = person_rows(tmp_path / "in", 25)
    out = tmp_path / "out"
    monkeypatch.setattr(batch, "run_group", _group_three_dies)
    with pytest.raises(WorkerDied, match="a worker process died"):
        run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=2), env)
    assert env.registry.count(Status.ACTIVE) == 20 and env.registry.count(Status.PENDING) == 5
    monkeypatch.setattr(batch, "run_group", _ORIGINAL)
    summary = run_batch(BatchOptions(DocumentKind.PERSON, data, out, workers=2), env)
    assert summary.issued == 5 and summary.already_issued == 20 and env.registry.count(Status.ACTIVE) == 25
    assert env.registry.count(Status.PENDING) == 0
