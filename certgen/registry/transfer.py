"""Moving a registry: copy to another database, back up, restore (docs/deploy.md).

`copy_registry` copies every table of the registry, history included, row for row, so the
copy's event log, hash chain and checkpoints are the original's (`certgen log --verify` and an
auditor's saved checkpoint agree before and after). `backup` and `restore` use each backend's
own safe mechanism: SQLite's online backup API (consistent while a batch is issuing) and
PostgreSQL's pg_dump / pg_restore.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, Integer, func, select, text
from sqlalchemy.engine import URL, make_url

from ..errors import RegistryError
from . import engine as engine_mod
from .tables import Base

CHUNK = 2000


@dataclass(frozen=True)
class CopyResult:
    """Rows copied per table, in dependency order."""

    rows: dict[str, int]


def _tables():
    return list(Base.metadata.sorted_tables)


def copy_registry(source: Engine, target: Engine) -> CopyResult:
    """Copy every row of `source` into `target`, which must be migrated and hold no history.

    One transaction on the target: an interrupted copy leaves it as it was. Integer id
    sequences of PostgreSQL are moved past the copied ids, so new rows do not collide."""
    tables = _tables()
    counts: dict[str, int] = {}
    with target.begin() as dst:
        for table in tables:
            existing = dst.execute(select(func.count()).select_from(table)).scalar_one()
            if table.name == "chain_head":
                head = dst.execute(select(table.c.seq)).scalar()
                if existing > 1 or (head or 0) != 0:
                    raise RegistryError(f"the target registry already has history ({table.name}); copy only into an empty one")
                continue
            if existing:
                raise RegistryError(f"the target registry is not empty: table {table.name} has {existing} row(s)")
        for table in tables:
            if table.name == "chain_head":
                dst.execute(table.delete())
            copied = 0
            with source.connect() as src:
                result = src.execution_options(stream_results=True).execute(select(table).order_by(*table.primary_key.columns))
                while batch := result.fetchmany(CHUNK):
                    dst.execute(table.insert(), [dict(row._mapping) for row in batch])
                    copied += len(batch)
            counts[table.name] = copied
        if target.dialect.name == "postgresql":
            for table in tables:
                keys = list(table.primary_key.columns)
                if len(keys) == 1 and isinstance(keys[0].type, Integer):
                    name, column = table.name, keys[0].name
                    dst.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', '{column}'), "
                        f"COALESCE((SELECT MAX({column}) FROM {name}), 0) + 1, false) "
                        f"WHERE pg_get_serial_sequence('{name}', '{column}') IS NOT NULL"))
    return CopyResult(counts)


def open_for_copy(url: str, *, migrate: bool) -> Engine:
    """An engine for `url`; the target of a copy is migrated first (empty schema)."""
    engine = engine_mod.make_engine(url)
    if migrate:
        try:
            engine_mod.upgrade(engine)
        except Exception as exc:
            raise RegistryError(f"cannot migrate {_safe(engine.url)}: {exc}") from exc
    return engine


# -- backup and restore -----------------------------------------------------------------------

def backup(url: str, destination: Path) -> Path:
    """A consistent copy of the registry at `url` in `destination` (a file). SQLite: the online
    backup API (safe while issuing runs); PostgreSQL: `pg_dump --format=custom`."""
    parsed = make_url(url)
    destination = Path(destination)
    if destination.exists():
        raise RegistryError(f"{destination} exists; a backup never overwrites a file")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    if parsed.get_backend_name() == "sqlite":
        source = sqlite3.connect(_sqlite_path(parsed))
        try:
            target = sqlite3.connect(partial)
            try:
                source.backup(target)
            finally:
                target.close()
        finally:
            source.close()
    elif parsed.get_backend_name() == "postgresql":
        _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(partial), libpq_url(parsed)], "pg_dump")
    else:
        raise RegistryError(f"backup of a {parsed.get_backend_name()} registry is not supported")
    partial.chmod(0o600)
    partial.replace(destination)
    return destination


def restore(source: Path, url: str) -> None:
    """Put the backup `source` in place of the registry at `url` (everything there is replaced)."""
    parsed = make_url(url)
    source = Path(source)
    if not source.is_file():
        raise RegistryError(f"{source}: no such backup file")
    if parsed.get_backend_name() == "sqlite":
        with open(source, "rb") as handle:
            if handle.read(16) != b"SQLite format 3\x00":
                raise RegistryError(f"{source} is not an SQLite backup")
        backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            target = sqlite3.connect(_sqlite_path(parsed))
            try:
                backup_db.backup(target)  # page by page, under the target's write lock
            finally:
                target.close()
        finally:
            backup_db.close()
    elif parsed.get_backend_name() == "postgresql":
        with open(source, "rb") as handle:
            if handle.read(5) != b"PGDMP":
                raise RegistryError(f"{source} is not a pg_dump custom-format backup")
        _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
              "--dbname", libpq_url(parsed), str(source)], "pg_restore")
    else:
        raise RegistryError(f"restore into a {parsed.get_backend_name()} registry is not supported")


def libpq_url(url: URL) -> str:
    """The libpq form of an SQLAlchemy PostgreSQL URL (what pg_dump and psql take)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_path(url: URL) -> str:
    if not url.database or url.database == ":memory:":
        raise RegistryError("an in-memory SQLite registry cannot be backed up or restored")
    return url.database


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RegistryError(f"{name} is not installed (Debian package postgresql-client)")
    return found


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise RegistryError(f"{what} failed: {result.stderr.strip() or result.stdout.strip()}")


def _safe(url: URL) -> str:
    return url.render_as_string(hide_password=True)
