"""actor commitment: a random salt per event, so the public log shows a commitment to the staff
member who acted, not the name (docs/registry.md, "What the public log shows")

Revision ID: 0013_actor_commitment
Revises: 0012_trust_log
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = '0013_actor_commitment'
down_revision = '0012_trust_log'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL for the events written before: their hash covers the name itself (kept, documented)
    with op.batch_alter_table('events') as batch:
        batch.add_column(sa.Column('actor_salt', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('events') as batch:
        batch.drop_column('actor_salt')
