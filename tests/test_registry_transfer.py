"""Moving the registry: SQLite to PostgreSQL with its whole history, backup and restore on both
backends (real PostgreSQL, pg_dump and pg_restore), and the web role's grants."""

from __future__ import annotations

import stat
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import text

from certgen.cli import main
from certgen.config import sqlite_url
from certgen.registry import Registry, verify_log
from certgen.registry import transfer
from certgen.registry.roles import grant_statements
from tests.conftest import NOW, PASSPHRASE
from tests.registry_helpers import issue_one


def _history(registry: Registry, keystore, count: int = 6) -> list[str]:
    numbers = [issue_one(registry, f"Orang Ke-{i}", NOW).number for i in range(count)]
    registry.suspend(numbers[0], reason="pengaduan", now=NOW + timedelta(hours=1), actor="t")
    registry.withdraw(numbers[1], reason="penipuan", now=NOW + timedelta(hours=2), actor="t")
    registry.checkpoint(keystore.current_signer(PASSPHRASE, now=NOW), now=NOW + timedelta(hours=3))
    return numbers


def _snapshot(registry: Registry) -> tuple:
    return (registry.head(), [e.hash for e in registry.iter_events()],
            [(c.number, c.status, c.holder, c.seal) for c in registry.iter_certificates()],
            [(c.seq, c.hash, c.signature) for c in registry.checkpoints()])


def test_sqlite_registry_moves_to_postgres_with_its_history(registry, keystore, postgres_url, cli, settings):
    _history(registry, keystore)
    before = _snapshot(registry)
    source_url = str(registry.engine.url)
    settings_with_source = type(settings)(**{**settings.__dict__, "registry_url": source_url})
    from click.testing import CliRunner
    from certgen.cli_support import AppContext

    app = AppContext(settings=settings_with_source, now=lambda: NOW, environ={"CERTGEN_ACTOR": "t"})
    result = CliRunner().invoke(main, ["registry", "migrate", "--to", postgres_url], obj=app, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "certificates 6" in result.output and "events 8" in result.output
    moved = Registry.open(postgres_url)
    try:
        assert _snapshot(moved) == before
        assert verify_log(moved, keystore.trust_list(), keystore.root_certificate()).ok
        # the copy goes on: new numbers and ids follow the copied ones
        new = issue_one(moved, "Sesudah Pindah", NOW)
        assert new.number.startswith("SK-2026-000007-")
        moved.add_report(message="laporan baru", now=NOW)
    finally:
        moved.close()
    again = CliRunner().invoke(main, ["registry", "migrate", "--to", postgres_url], obj=app)
    assert again.exit_code == 1 and "not empty: table certificates has 7 row(s)" in again.output


def test_sqlite_backup_while_a_writer_runs_is_consistent(registry, keystore, tmp_path):
    numbers = _history(registry, keystore)
    stop = threading.Event()
    changes = 0

    def writer() -> None:
        nonlocal changes
        writer_registry = Registry.open(str(registry.engine.url))
        moment = NOW + timedelta(days=1)
        while not stop.is_set():
            moment += timedelta(seconds=1)
            writer_registry.suspend(numbers[2], reason="cek", now=moment, actor="w")
            writer_registry.reinstate(numbers[2], reason="ok", now=moment, actor="w")
            changes += 2
        writer_registry.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while changes < 20:
            time.sleep(0.01)
        backups = [transfer.backup(str(registry.engine.url), tmp_path / f"backup-{i}.sqlite3") for i in range(3)]
    finally:
        stop.set()
        thread.join()
    for path in backups:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        copy = Registry.open(sqlite_url(path))
        try:
            report = verify_log(copy, keystore.trust_list(), keystore.root_certificate())
            assert report.ok, report.problems
        finally:
            copy.close()
    with pytest.raises(Exception, match="never overwrites"):
        transfer.backup(str(registry.engine.url), backups[0])


def test_sqlite_restore_brings_back_the_older_log(registry, keystore, tmp_path):
    numbers = _history(registry, keystore)
    old_head = registry.head()
    saved = transfer.backup(str(registry.engine.url), tmp_path / "before.sqlite3")
    registry.withdraw(numbers[3], reason="later change", now=NOW + timedelta(days=2), actor="t")
    assert registry.head() != old_head
    transfer.restore(saved, str(registry.engine.url))
    assert registry.head() == old_head and registry.get(numbers[3]).status.value == "active"
    assert verify_log(registry, keystore.trust_list(), keystore.root_certificate()).ok


def test_postgres_backup_and_restore_with_pg_tools(postgres_url, keystore, tmp_path):
    registry = Registry.open(postgres_url)
    try:
        numbers = _history(registry, keystore)
        before = _snapshot(registry)
        dump = transfer.backup(postgres_url, tmp_path / "registry.dump")
        assert dump.read_bytes()[:5] == b"PGDMP" and stat.S_IMODE(dump.stat().st_mode) == 0o600
        registry.withdraw(numbers[4], reason="sesudah backup", now=NOW + timedelta(days=1), actor="t")
        issue_one(registry, "Sesudah Backup", NOW + timedelta(days=1))
        assert _snapshot(registry) != before
        transfer.restore(dump, postgres_url)
        registry.engine.dispose()
        assert _snapshot(registry) == before
        assert verify_log(registry, keystore.trust_list(), keystore.root_certificate()).ok
        issue_one(registry, "Sesudah Restore", NOW + timedelta(days=2))  # sequences restored too
    finally:
        registry.close()


def test_restore_refuses_what_is_not_a_backup(registry, postgres_url, tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a database at all")
    with pytest.raises(Exception, match="not an SQLite backup"):
        transfer.restore(junk, str(registry.engine.url))
    with pytest.raises(Exception, match="not a pg_dump custom-format backup"):
        transfer.restore(junk, postgres_url)


def test_web_role_grants_on_postgres(postgres_url):
    import psycopg
    from sqlalchemy.engine import make_url

    registry = Registry.open(postgres_url)
    url = make_url(postgres_url)
    dsn = dict(host=url.query["host"], port=url.query["port"], user="postgres", dbname=url.database)
    with psycopg.connect(**dsn, autocommit=True) as conn:
        conn.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='t_web') THEN CREATE ROLE t_web LOGIN; END IF; END $$")
        conn.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='t_owner') THEN CREATE ROLE t_owner LOGIN; END IF; END $$")
    with registry.engine.begin() as connection:
        for statement in grant_statements("t_web", "t_owner"):
            connection.execute(text(statement))
    registry.close()
    web = Registry.open(postgres_url.replace("postgres@", "t_web@"), migrate=False)
    try:
        issue_denied = pytest.raises(Exception, match="permission denied")
        with issue_denied:
            issue_one(web, "Tidak Boleh", NOW)
        stored = web.add_report(message="boleh", now=NOW)
        assert stored.id >= 1 and web.head()[0] == 0
    finally:
        web.close()
    with pytest.raises(ValueError, match="plain lower-case SQL identifier"):
        grant_statements("web; DROP TABLE certificates", "t_owner")
