"""actor commitment: a random salt per event, so the public log shows a commitment to the staff
member who acted, not the name (docs/registry.md, "What the public log shows")

Revision ID: 0012_actor_commitment
Revises: 0011_live_state
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = '0012_actor_commitment'
down_revision = '0011_live_state'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL for the events written before: their hash covers the name itself (kept, documented)
    with op.batch_alter_table('events') as batch:
        batch.add_column(sa.Column('actor_salt', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('events') as batch:
        batch.drop_column('actor_salt')
