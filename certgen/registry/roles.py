"""Database roles of a PostgreSQL registry: who may write what (docs/deploy.md).

The public web service connects as a role that reads every table it shows and inserts only
into the tables the public may add to. It can never change a certificate, an event, a
checkpoint, a number series or a lease, so a compromised web instance cannot rewrite what the
public sees. Issuing and migrations run as the owner role, on staff machines.
"""

from __future__ import annotations

import re

from .tables import Base

OWNER_ROLE = "certgen_owner"
WEB_ROLE = "certverify_web"
#: Tables the public web service may add rows to; every other table is read-only to it. A new
#: table is read-only to the web role unless listed here.
WEB_WRITABLE_TABLES: tuple[str, ...] = ("reports", "abuse_counters")
#: Of those, the tables whose rows the web service also updates and deletes: the shared counters
#: of the rate limit and the complaint caps (certgen.registry.counters). A stored complaint
#: report is never changed by the web service: moderation is the staff's (`certgen reports mark`).
WEB_PRUNABLE_TABLES: tuple[str, ...] = ("abuse_counters",)

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _identifier(name: str) -> str:
    """A role or table name, refused unless it is a plain lower-case identifier (no quoting games)."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a plain lower-case SQL identifier")
    return name


def grant_statements(web_role: str = WEB_ROLE, owner_role: str = OWNER_ROLE) -> list[str]:
    """SQL that gives `web_role` exactly the rights the web service needs, for the current schema.

    Run as a superuser (or the owner) after every migration: tables added later start with no
    rights for the web role until this runs again."""
    web, owner = _identifier(web_role), _identifier(owner_role)
    tables = sorted(Base.metadata.tables)
    statements = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {web}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {web}",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA public TO {web}",
        f"GRANT ALL ON SCHEMA public TO {owner}",
    ]
    statements += [f"GRANT SELECT ON TABLE {_identifier(t)} TO {web}" for t in tables]
    for table in WEB_WRITABLE_TABLES:
        if table in tables:
            name = _identifier(table)
            rights = "INSERT, UPDATE, DELETE" if table in WEB_PRUNABLE_TABLES else "INSERT"
            statements.append(f"GRANT {rights} ON TABLE {name} TO {web}")
            # ids of new rows come from the table's own sequences (SERIAL columns), if any
            statements.append(
                "DO $$ DECLARE s text; BEGIN FOR s IN SELECT pg_get_serial_sequence(c.table_name, c.column_name) "
                f"FROM information_schema.columns c WHERE c.table_schema = 'public' AND c.table_name = '{name}' "
                f"LOOP IF s IS NOT NULL THEN EXECUTE format('GRANT USAGE ON SEQUENCE %s TO {web}', s); END IF; "
                "END LOOP; END $$")
    return statements
