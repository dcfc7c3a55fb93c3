"""Alembic environment: run against the connection certgen hands over, or a URL given with
`alembic -x url=...` when run by hand (see docs/registry.md)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from certgen.registry.tables import Base

target_metadata = Base.metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("give the registry URL: alembic -x url=sqlite:///data/registry.sqlite3 upgrade head")
    engine = create_engine(url)
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        context.run_migrations()


run()
