"""trust log: every published trust list under the log (docs/registry.md, "Trust lists in the log")

Revision ID: 0012_trust_log
Revises: 0011_live_state
Create Date: 2026-11-30

No table changes: each `trust_lists` row published before this revision gets its `trustlist`
event (carrying the list), appended to the chain in id order, so the next signed checkpoint
covers it. Later lists are logged by the publisher in the same transaction as their row.
"""
from datetime import datetime, timezone

from alembic import op

from certgen.registry.trust_log import log_existing

revision = '0012_trust_log'
down_revision = '0011_live_state'
branch_labels = None
depends_on = None


def upgrade() -> None:
    log_existing(op.get_bind(), now=datetime.now(timezone.utc))


def downgrade() -> None:
    # The log is append-only: the trustlist events are signed into later checkpoints, and the
    # earlier code knows no `trustlist` type. There is no way back but a restore.
    raise NotImplementedError("0012_trust_log cannot be downgraded: restore a backup instead")
