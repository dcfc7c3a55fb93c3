"""A forked batch worker freezes its heap out of the cyclic garbage collector after its first
group (certgen/issue_worker.py `configure_worker`): the caches it fills then (font subsets,
forms, layouts) live as long as the process, and full collections walking them again and
again cost a few per cent of issuing. The batch process itself is never frozen."""

import gc
import json
import os

from certgen import batch, issue_worker
from certgen.batch import BatchOptions, run_batch
from certgen.model import DocumentKind, Status
from tests.test_batch import env, person_rows  # noqa: F401  (the fixture)

_ORIGINAL = issue_worker.run_group
_LOG = "CERTGEN_TEST_GC_LOG"


def _logging_run_group(group):
    before = gc.get_freeze_count()
    result = _ORIGINAL(group)
    with open(os.environ[_LOG], "a", encoding="utf-8") as log:
        log.write(json.dumps({"pid": os.getpid(), "group": group.index, "before": before,
                              "after": gc.get_freeze_count()}) + "\n")
    return result


def test_workers_freeze_after_their_first_group_and_the_batch_process_does_not(tmp_path, env, monkeypatch):  # noqa: F811
    log = tmp_path / "gc.jsonl"
    monkeypatch.setenv(_LOG, str(log))
    monkeypatch.setattr(batch, "run_group", _logging_run_group)
    frozen_here = gc.get_freeze_count()
    data = person_rows(tmp_path / "in", 40)
    summary = run_batch(BatchOptions(DocumentKind.PERSON, data, tmp_path / "out", workers=2), env)
    assert summary.issued == 40 and env.registry.count(Status.ACTIVE) == 40
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    by_worker: dict[int, list[dict]] = {}
    for entry in entries:
        by_worker.setdefault(entry["pid"], []).append(entry)
    assert os.getpid() not in by_worker and by_worker
    for pid, groups in by_worker.items():
        first = groups[0]
        assert first["after"] > first["before"], f"worker {pid} did not freeze after its first group"
        # frozen objects still die by reference counting, so the count can only fall afterwards
        assert all(g["after"] <= g["before"] for g in groups[1:]), f"worker {pid} froze more than once"
    assert gc.get_freeze_count() == frozen_here


def test_a_batch_in_this_process_does_not_freeze_it(tmp_path, env):  # noqa: F811
    frozen_here = gc.get_freeze_count()
    data = person_rows(tmp_path / "in", 12)
    summary = run_batch(BatchOptions(DocumentKind.PERSON, data, tmp_path / "out", workers=1), env)
    assert summary.issued == 12
    assert gc.get_freeze_count() == frozen_here
