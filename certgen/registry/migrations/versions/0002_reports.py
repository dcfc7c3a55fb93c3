"""reports of suspicious certificates

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reports',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('created_at', sa.DateTime(), nullable=False),
                    sa.Column('number', sa.String(length=40), nullable=True),
                    sa.Column('seal', sa.Text(), nullable=True),
                    sa.Column('verdict', sa.String(length=16), nullable=True),
                    sa.Column('message', sa.Text(), nullable=False),
                    sa.Column('contact', sa.String(length=200), nullable=True),
                    sa.Column('status', sa.String(length=16), nullable=False),
                    sa.PrimaryKeyConstraint('id'))
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reports_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reports_created_at'))
    op.drop_table('reports')
