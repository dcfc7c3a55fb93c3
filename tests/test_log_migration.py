"""Migration 0003_record_state upgrades a registry written by the landed code (commit e8c391b,
checked out with `git archive` and run in its own process) in place: old events keep their
hashes, old checkpoints still verify, every issued certificate gets one attest event, and from
then on every column is held to its history. A log already broken is refused, naming the break.

Where the checkout lacks that commit (a shallow clone), the registry is built by
tests/legacy_replica.py instead, which `test_replica_equals_the_landed_code` holds to the
landed code row for row and event for event wherever the commit is there."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import text

from certgen.config import sqlite_url
from certgen.errors import RegistryError
from certgen.keys import KeyStore
from certgen.model import EventType
from certgen.registry import Registry, verify_log
from certgen.registry.attest import ACTOR
from certgen.registry.state import certificate_state, state_digest
from tests.legacy_replica import build_replica

LANDED = "e8c391b"
ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve().parent / "landed_registry.py"


def _have_landed() -> bool:
    if os.environ.get("CERTGEN_TEST_NO_LANDED"):  # exercise the shallow-clone path
        return False
    return shutil.which("git") is not None and subprocess.run(
        ["git", "-C", str(ROOT), "cat-file", "-e", f"{LANDED}^{{commit}}"], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def landed_code(tmp_path_factory) -> Path | None:
    """The certgen package as landed, in a folder of its own (None without the commit)."""
    if not _have_landed():
        return None
    dest = tmp_path_factory.mktemp("landed")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", LANDED, "certgen"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def build_landed(code: Path | None, url: str, keys: Path) -> list[str]:
    if code is None:
        return build_replica(url, keys)
    env = dict(os.environ, PYTHONPATH=str(code))
    result = subprocess.run([sys.executable, str(SCRIPT), url, str(keys), str(code)], cwd=code, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["version"] == "0002"
    return out["numbers"]


@pytest.fixture(scope="module")
def landed_sqlite(landed_code, tmp_path_factory) -> tuple[Path, Path, list[str]]:
    folder = tmp_path_factory.mktemp("landed-registry")
    numbers = build_landed(landed_code, sqlite_url(folder / "registry.sqlite3"), folder / "keys")
    return folder, folder / "keys", numbers


@pytest.fixture
def old_registry(landed_sqlite, tmp_path) -> tuple[str, KeyStore, list[str]]:
    """A fresh copy of the landed registry (not yet upgraded) and its keys."""
    folder, keys, numbers = landed_sqlite
    for name in ("registry.sqlite3", "registry.sqlite3-wal"):
        if (folder / name).exists():
            shutil.copy(folder / name, tmp_path / name)
    return sqlite_url(tmp_path / "registry.sqlite3"), KeyStore(keys), numbers


def raw_sql(url: str, statement: str, **params) -> None:
    """Edit the database without migrating it (an attacker, or the old code's data as it lies)."""
    registry = Registry.open(url, migrate=False)
    try:
        with registry.engine.begin() as conn:
            conn.execute(text(statement), params)
    finally:
        registry.close()


def report(registry: Registry, keys: KeyStore):
    return verify_log(registry, keys.trust_list(), keys.root_certificate())


def test_upgrade_keeps_old_events_and_attests_every_issued_certificate(old_registry):
    url, keys, numbers = old_registry
    before = Registry.open(url, migrate=False)
    with before.engine.connect() as conn:  # raw: today's Event also reads actor_salt (0012), not there yet
        old_events = [tuple(r) for r in conn.execute(text("SELECT seq, hash FROM events ORDER BY seq"))]
    before.close()
    assert len(old_events) == 9  # 5 issues, suspend, reinstate, withdraw, replace
    registry = Registry.open(url)
    try:
        events = registry.events()
        assert [(e.seq, e.hash) for e in events[:9]] == old_events
        attests = events[9:]
        assert [e.type for e in attests] == [EventType.ATTEST] * 5 and {e.actor for e in attests} == {ACTOR}
        assert sorted(e.number for e in attests) == sorted(numbers[:5])  # not the pending sixth
        for ev in attests:
            state = certificate_state(registry.get(ev.number))
            assert ev.data == {"state": state, "state_sha256": state_digest(state)}
        result = report(registry, keys)
        assert result.ok, result.problems
        assert (result.events, result.checkpoints, result.certificates) == (14, 2, 6)
        # the new code writes on after it, and the log stays intact
        registry.suspend(numbers[0], reason="audit", now=events[-1].at, actor="staff")
        assert report(registry, keys).ok
        # the migration does not run twice
        Registry.open(url).close()
        assert len(registry.events()) == 15
    finally:
        registry.close()


@pytest.mark.parametrize("column,value", [("holder", "'Mallory'"), ("scheme", "'SKM-OTHER'"), ("seal", "'https://x/v/FORGED'"),
                                          ("expires", "'2099-12-31'"), ("status_reason", "'nothing'")])
def test_after_the_upgrade_every_column_is_held_to_its_history(old_registry, column, value):
    url, keys, numbers = old_registry
    registry = Registry.open(url)
    try:
        raw_sql(url, f"UPDATE certificates SET {column} = {value} WHERE number = :n", n=numbers[1])
        found = report(registry, keys).problems
        assert [(p.where, p.code, p.column) for p in found] == [(f"certificate {numbers[1]}", "column_differs", column)]
    finally:
        registry.close()


@pytest.mark.parametrize("statement,break_at", [
    ("UPDATE certificates SET holder = 'Mallory' WHERE number = :n",
     "certificate {n}: column holder is 'Mallory' in the table, but its history says 'Budi'"),
    ("UPDATE certificates SET scheme = 'SKM-OTHER' WHERE number = :n",  # pinned through the record it copies
     "certificate {n}: column scheme is 'SKM-OTHER' in the table, but its history says 'SKM-PTK-03/2024'"),
    ("UPDATE certificates SET status = 'active' WHERE number = :w",
     "certificate {w}: column status is 'active' in the table, but its history says 'withdrawn'"),
    ("UPDATE events SET reason = 'nothing' WHERE seq = 7",
     "event 7: content does not match its hash (reinstate of {n} was altered)"),
])
def test_upgrade_refuses_a_log_already_broken(old_registry, statement, break_at):
    url, keys, numbers = old_registry
    raw_sql(url, statement, n=numbers[1], w=numbers[2])
    with pytest.raises(RegistryError) as caught:
        Registry.open(url)
    message = str(caught.value)
    assert "migration 0003_record_state refused: the existing log is already broken at " in message
    assert break_at.format(n=numbers[1], w=numbers[2]) in message
    untouched = Registry.open(url, migrate=False)
    try:  # nothing was written: still at 0002, no attest
        with untouched.engine.connect() as conn:
            assert EventType.ATTEST.value not in {r[0] for r in conn.execute(text("SELECT type FROM events"))}
    finally:
        untouched.close()


def test_old_checkpoint_still_catches_a_rewritten_old_history(old_registry):
    """Rewriting an event before the upgrade's attests, chain recomputed: the old checkpoint names it."""
    from certgen.registry.chain import GENESIS, event_hash
    url, keys, numbers = old_registry
    registry = Registry.open(url)
    try:
        raw_sql(url, "UPDATE events SET actor = 'mallory' WHERE seq = 2")
        prev = GENESIS
        for ev in registry.events():
            digest = event_hash(prev, seq=ev.seq, at=ev.at, type=ev.type.value, number=ev.number, actor=ev.actor,
                                reason=ev.reason, data=ev.data, actor_salt=ev.actor_salt)
            raw_sql(url, "UPDATE events SET prev_hash = :p, hash = :h WHERE seq = :s", p=prev, h=digest, s=ev.seq)
            prev = digest
        raw_sql(url, "UPDATE chain_head SET hash = :h", h=prev)
        assert str(report(registry, keys).first_break) == (
            "checkpoint 1 (event 5): signed a different hash for event 5: the history before it was rewritten")
    finally:
        registry.close()


@pytest.mark.postgres
def test_upgrade_on_postgresql(landed_code, postgres_url, tmp_path):
    numbers = build_landed(landed_code, postgres_url, tmp_path / "keys")
    keys = KeyStore(tmp_path / "keys")
    registry = Registry.open(postgres_url)
    try:
        result = report(registry, keys)
        assert result.ok and result.events == 14, result.problems
        raw_sql(postgres_url, "UPDATE certificates SET holder = 'Mallory' WHERE number = :n", n=numbers[0])
        assert [(p.code, p.column) for p in report(registry, keys).problems] == [("column_differs", "holder")]
    finally:
        registry.close()


@pytest.mark.skipif(not _have_landed(), reason=f"commit {LANDED} is not in this checkout")
def test_replica_equals_the_landed_code(landed_sqlite, tmp_path):
    """The stand-in for shallow clones writes what the landed code wrote."""
    folder, _keys, numbers = landed_sqlite
    replica_url = sqlite_url(tmp_path / "replica.sqlite3")
    assert build_replica(replica_url, tmp_path / "keys") == numbers

    def dump(url):
        registry = Registry.open(url, migrate=False)
        try:
            with registry.engine.connect() as conn:
                rows = [tuple(r) for r in conn.execute(text("SELECT * FROM certificates ORDER BY number"))]
                events = [tuple(r) for r in conn.execute(text("SELECT seq, at, type, number, actor, reason, data FROM events "
                                                              "ORDER BY seq"))]
                series = [tuple(r) for r in conn.execute(text("SELECT * FROM number_series"))]
                checkpoints = [tuple(r) for r in conn.execute(text("SELECT seq, at FROM checkpoints ORDER BY id"))]
                version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            return rows, events, series, checkpoints, version
        finally:
            registry.close()

    landed, replica = dump(sqlite_url(folder / "registry.sqlite3")), dump(replica_url)
    def strip(rows):  # without the id and dsc_kid: the two registries have keys of their own
        return [tuple(c for i, c in enumerate(r) if i not in (0, 15)) for r in rows]

    assert strip(landed[0]) == strip(replica[0])
    assert [e[:6] for e in landed[1]] == [e[:6] for e in replica[1]]
    for old, new in zip(landed[1], replica[1]):  # issue data differs only in the signer's key id
        a, b = json.loads(old[6]), json.loads(new[6])
        a.pop("dsc_kid", None), b.pop("dsc_kid", None)
        assert a == b
    assert landed[2:] == replica[2:] and landed[4] == "0002"


@pytest.mark.postgres
def test_upgrade_refusal_on_postgresql_leaves_the_registry_as_it_was(landed_code, postgres_url, tmp_path):
    numbers = build_landed(landed_code, postgres_url, tmp_path / "keys")
    raw_sql(postgres_url, "UPDATE certificates SET expires = '2099-12-31' WHERE number = :n", n=numbers[0])
    with pytest.raises(RegistryError, match=f"already broken at certificate {numbers[0]}: column expires is '2099-12-31' "
                                            "in the table, but its history says '2029-11-23'"):
        Registry.open(postgres_url)
    registry = Registry.open(postgres_url, migrate=False)
    try:
        with registry.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0002"
        with registry.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM events")).scalar() == 9 and registry.head()[0] == 9
    finally:
        registry.close()
