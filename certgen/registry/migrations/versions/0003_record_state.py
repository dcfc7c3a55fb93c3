"""record state: every event commits to the whole record; existing certificates attested

Revision ID: 0003_record_state
Revises: 0002
Create Date: 2026-11-29

No table changes: the state travels in the events' `data` (docs/registry.md). The upgrade checks
the existing log by the rules it was written under, refuses a broken one, then appends one
`attest` event per issued certificate carrying its full state (certgen/registry/attest.py).
Old events keep their hashes, so old checkpoints still verify.
"""
from datetime import datetime, timezone

from alembic import op

from certgen.registry.attest import attest_existing

revision = '0003_record_state'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    attest_existing(op.get_bind(), now=datetime.now(timezone.utc))


def downgrade() -> None:
    # The log is append-only: the attest events are signed into later checkpoints. The earlier
    # code cannot read them (it knows no `attest` type), so there is no way back but a restore.
    raise NotImplementedError("0003_record_state cannot be undone: the log is append-only; restore a backup instead")
