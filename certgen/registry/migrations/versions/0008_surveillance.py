"""surveillance visits of type 5 product certificates

Revision ID: 0008_surveillance
Revises: 0007_service_standard
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = '0008_surveillance'
down_revision = '0007_service_standard'  # chained after the service standard (main's order: ..., 0005, 0007, 0008)
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('surveillance_visits',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('number', sa.String(length=20), nullable=False),
                    sa.Column('ordinal', sa.Integer(), nullable=False),
                    sa.Column('visited_on', sa.Date(), nullable=False),
                    sa.Column('result', sa.String(length=8), nullable=False),
                    sa.Column('report_sha256', sa.String(length=64), nullable=False),
                    sa.Column('report_size', sa.Integer(), nullable=False),
                    sa.Column('report_type', sa.String(length=40), nullable=False),
                    sa.Column('corrective_due', sa.Date(), nullable=True),
                    sa.Column('recorded_at', sa.DateTime(), nullable=False),
                    sa.Column('actor', sa.String(length=100), nullable=False),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('number', 'ordinal', name='uq_surveillance_visit'))
    op.create_index(op.f('ix_surveillance_visits_number'), 'surveillance_visits', ['number'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_surveillance_visits_number'), table_name='surveillance_visits')
    op.drop_table('surveillance_visits')
