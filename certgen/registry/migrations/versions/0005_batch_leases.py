"""batch leases: one batch of an input at a time across machines

Revision ID: 0005_batch_leases
Revises: 0002
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = '0005_batch_leases'
down_revision = '0004_transparency_log'  # the lead's order: 0003, 0004, 0005, 0006, 0007
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('batch_leases',
                    sa.Column('name', sa.String(length=100), nullable=False),
                    sa.Column('holder', sa.String(length=64), nullable=False),
                    sa.Column('host', sa.String(length=255), nullable=False),
                    sa.Column('pid', sa.Integer(), nullable=False),
                    sa.Column('acquired_at', sa.DateTime(), nullable=False),
                    sa.Column('expires_at', sa.DateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('name'))


def downgrade() -> None:
    op.drop_table('batch_leases')
