"""Opening a registry database: engine settings per backend, and migrations to head.

SQLite: WAL, a generous busy timeout, and every write transaction begun with
`BEGIN IMMEDIATE`, so two processes serialise at the start of a transaction instead of
failing halfway (pysqlite's own transaction handling is switched off for that).
PostgreSQL: writers serialise on a row lock of `chain_head` (see `repository`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from ..errors import RegistryError

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 60_000
#: Seconds to wait for a database server to answer a new connection (PostgreSQL `connect_timeout`).
CONNECT_TIMEOUT_S = 10


def make_engine(url: str) -> Engine:
    """An engine for `url`, with the SQLite settings above when it is SQLite."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise RegistryError(f"registry URL {url!r} is not a database URL: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        if _in_memory(parsed.database, parsed.query):
            raise RegistryError(f"registry URL {url!r} is an in-memory SQLite database: each connection gets its own "
                                "empty one, and a batch, the web service and the log use several (a batch's sync "
                                "thread would find no tables). Give a file (sqlite:///PATH) or a server")
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            create_private_file(Path(parsed.database))
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        # libpq waits forever for a server that accepts and never answers: a bound, carried by
        # the URL to every engine made from this one (the look-up engine)
        parsed = parsed.update_query_dict({"connect_timeout": str(CONNECT_TIMEOUT_S)})
    try:
        return create_engine(parsed, pool_pre_ping=True)
    except Exception as exc:
        raise RegistryError(f"cannot use registry URL {parsed.render_as_string(hide_password=True)}: {exc}") from None


def _in_memory(database: str | None, query: Any) -> bool:
    """Whether an SQLite URL names an in-memory database (`sqlite://`, `:memory:`, a `file:` URI
    with mode=memory or a `:memory:` path)."""
    if not database or database == ":memory:":
        return True
    # SQLite reads these case-sensitively: `file:` URIs, the `mode` parameter and its value
    return database.startswith("file:") and ("mode=memory" in database or database.startswith("file::memory:")) \
        or dict(query).get("mode") == "memory"


def create_private_file(path: Path) -> None:
    """Create the SQLite file, and its folder when missing, readable by their owner only (0600,
    0700): the registry holds complainants' contact details. SQLite gives its -wal and -shm
    files the database file's mode. An existing file or folder is left as it is."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
        os.chmod(path.parent, 0o700)  # whatever the umask
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.fchmod(fd, 0o600)
    os.close(fd)


def make_lookup_engine(engine: Engine) -> Engine:
    """The engine of the verification page's look-ups. SQLite: the same one. A server: a pool of
    its own without the pre-ping round trip before every request (it would double the database
    time of a look-up); a dropped connection is detected when used and the look-up retried
    (`Registry._server_lookup`)."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(sqlite_begin="NONE")
    return create_engine(engine.url, pool_recycle=1800)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # BEGIN is ours (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    if mode != "NONE":  # NONE: a single read statement, atomic by itself; no BEGIN/ROLLBACK round trip
        connection.exec_driver_sql(f"BEGIN {mode}")


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it is already there)."""
    from alembic import command  # imported here: 0.2 s at start-up that readers (certverify) never need
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
