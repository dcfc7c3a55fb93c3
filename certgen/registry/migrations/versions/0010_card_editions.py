"""card editions: the current edition of a certified-person card and its seal

Revision ID: 0010_card_editions
Revises: 0008_surveillance
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = '0010_card_editions'
down_revision = '0008_surveillance'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable, no default: a card printed before editions carried its certificate's seal and
    # is edition 1 by definition; its row, and the state its events committed to, stay as they were
    with op.batch_alter_table('certificates') as batch:
        batch.add_column(sa.Column('card_edition', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('card_seal', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('certificates') as batch:
        batch.drop_column('card_seal')
        batch.drop_column('card_edition')
