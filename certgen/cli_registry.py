"""`certgen registry ...`: the registry's database as an operator handles it: schema
migrations, the web role's grants, copying to PostgreSQL, backup and restore (docs/deploy.md)."""

from __future__ import annotations

from pathlib import Path

import click

from .cli_support import AppContext, user_errors
from .registry import Registry
from .registry import transfer
from .registry.roles import OWNER_ROLE, WEB_ROLE, WEB_WRITABLE_TABLES, grant_statements

pass_app = click.make_pass_decorator(AppContext, ensure=True)


@click.group("registry")
def registry_group() -> None:
    """The registry database: migrations, grants, copy, backup, restore."""


@registry_group.command("migrate-schema")
@pass_app
def migrate_schema(app: AppContext) -> None:
    """Bring the registry's schema to the newest migration (run before starting web instances)."""
    with user_errors():
        registry = Registry.open(app.get_settings().registry_url)
        registry.close()
    click.echo("registry schema is current")


@registry_group.command("grant")
@click.option("--web-role", default=WEB_ROLE, show_default=True, help="Role the public web service connects as.")
@click.option("--owner-role", default=OWNER_ROLE, show_default=True, help="Role that owns the schema and issues.")
@click.option("--apply", "apply_now", is_flag=True, help="Run the statements on the registry (PostgreSQL) instead of printing them.")
@pass_app
def grant(app: AppContext, web_role: str, owner_role: str, apply_now: bool) -> None:
    """The web role's rights: read what the public sees, insert only complaints. PostgreSQL only."""
    from sqlalchemy import text

    try:
        statements = grant_statements(web_role, owner_role)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if not apply_now:
        for statement in statements:
            click.echo(statement + ";")
        return
    with user_errors():
        registry = Registry.open(app.get_settings().registry_url, migrate=False)
        try:
            if registry.engine.dialect.name != "postgresql":
                raise click.ClickException("grants apply to a PostgreSQL registry only (SQLite has no roles)")
            with registry.engine.begin() as connection:
                for statement in statements:
                    connection.execute(text(statement))
        finally:
            registry.close()
    click.echo(f"{web_role}: read access to every table, insert into {', '.join(WEB_WRITABLE_TABLES)} only")


@registry_group.command("migrate")
@click.option("--to", "target", required=True, help="SQLAlchemy URL of the new, empty registry (e.g. PostgreSQL).")
@pass_app
def migrate(app: AppContext, target: str) -> None:
    """Copy this registry (CERTGEN_REGISTRY_URL, by default the SQLite file) with its whole history
    into an empty database; then point CERTGEN_REGISTRY_URL at the new one."""
    with user_errors():
        source = transfer.open_for_copy(app.get_settings().registry_url, migrate=True)
        destination = transfer.open_for_copy(target, migrate=True)
        try:
            result = transfer.copy_registry(source, destination)
        finally:
            source.dispose()
            destination.dispose()
    copied = ", ".join(f"{name} {count}" for name, count in result.rows.items() if count)
    click.echo(f"copied: {copied or 'nothing (empty registry)'}")
    click.echo("check it: CERTGEN_REGISTRY_URL=<new URL> certgen log --verify")


@registry_group.command("backup")
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path))
@pass_app
def backup_cmd(app: AppContext, destination: Path) -> None:
    """A consistent copy of the registry (SQLite online backup; PostgreSQL pg_dump), mode 0600."""
    with user_errors():
        written = transfer.backup(app.get_settings().registry_url, destination)
    click.echo(f"backup written: {written}")


@registry_group.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask: replace the registry's content.")
@pass_app
def restore_cmd(app: AppContext, source: Path, yes: bool) -> None:
    """Replace the registry's content by a backup. Auditors who saw a later checkpoint will see
    the restored log as a rollback: tell them, and why."""
    url = app.get_settings().registry_url
    if not yes:
        click.confirm(f"replace everything in the registry with {source}?", abort=True)
    with user_errors():
        transfer.restore(source, url)
        registry = Registry.open(url)
        seq, head = registry.head()
        registry.close()
    click.echo(f"restored {source}: the log ends at event {seq} ({head[:16]}...); run `certgen log --verify`")
