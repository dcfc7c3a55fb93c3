"""live state: the root-signed trust lists published to the registry (docs/deploy.md, "Changes live")

Revision ID: 0011_live_state
Revises: 0010_card_editions (re-chained after merging main; was 0008_surveillance)
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = '0011_live_state'
down_revision = '0010_card_editions'  # re-chained after merging main (h-cards' 0010 came first)
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('trust_lists',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('issued_at', sa.DateTime(), nullable=False),
                    sa.Column('sha256', sa.String(length=64), nullable=False),
                    sa.Column('data', sa.Text(), nullable=False),
                    sa.Column('published_at', sa.DateTime(), nullable=False),
                    sa.Column('actor', sa.String(length=100), nullable=False),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('sha256'))


def downgrade() -> None:
    op.drop_table('trust_lists')
