"""Two real processes writing at once neither lose nor duplicate a number or an event."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from certgen.config import sqlite_url
from certgen.model import EventType
from certgen.registry import Registry, verify_log

ROUNDS = 60
ROOT = Path(__file__).parent.parent


def _run_two(url: str) -> None:
    start_at = time.time() + 1.5  # both processes import, then start writing at the same moment
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-m", "tests.concurrency_worker", url, name, str(ROUNDS), str(start_at)],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("alpha", "beta")]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert out.startswith("done")


def _check(registry: Registry, keystore) -> None:
    certs = list(registry.iter_certificates())
    # each process's own rows, plus each shared row exactly once
    assert len(certs) == 3 * ROUNDS
    assert sorted(c.batch_key for c in certs) == sorted(
        [f"alpha-{i}" for i in range(ROUNDS)] + [f"beta-{i}" for i in range(ROUNDS)] + [f"shared-{i}" for i in range(ROUNDS)])
    serials = sorted(int(c.number.split("-")[2]) for c in certs)
    assert serials == list(range(1, 3 * ROUNDS + 1))  # no number lost, none twice
    events = list(registry.iter_events())
    assert [e.seq for e in events] == list(range(1, 4 * ROUNDS + 1))
    assert sum(e.type is EventType.ISSUE for e in events) == 2 * ROUNDS
    actors = [e.actor for e in events]
    # the two really wrote at the same time: their events interleave
    assert sum(a != b for a, b in zip(actors, actors[1:])) > 10, actors
    report = verify_log(registry, keystore.trust_list(), keystore.root_certificate())
    assert report.ok, report.problems


def test_two_processes_on_sqlite(tmp_path, keystore):
    url = sqlite_url(tmp_path / "registry.sqlite3")
    Registry.open(url).close()
    _run_two(url)
    _check(Registry.open(url), keystore)


@pytest.mark.postgres
def test_two_processes_on_postgresql(postgres_url, keystore):
    Registry.open(postgres_url).close()
    _run_two(postgres_url)
    _check(Registry.open(postgres_url), keystore)
