"""abuse limits: shared counters (rate limit, complaint caps) and moderation of reports

Revision ID: 0006_abuse_limits
Revises: 0005_batch_leases (re-chained after merging main; was 0002)
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = '0006_abuse_limits'
down_revision = '0005_batch_leases'  # chained after the batch leases (the lead's order: 0003, 0004, 0005, 0006, 0007)
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('abuse_counters',
                    sa.Column('key', sa.String(length=200), nullable=False),
                    sa.Column('window', sa.Integer(), nullable=False),
                    sa.Column('count', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('key', 'window'))
    with op.batch_alter_table('abuse_counters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_abuse_counters_window'), ['window'], unique=False)
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('moderated_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('moderated_by', sa.String(length=100), nullable=True))
        batch_op.create_index(batch_op.f('ix_reports_status'), ['status'], unique=False)
    # the moderation states are new, spam, in_review, closed: what was "open" is "new"
    op.execute("UPDATE reports SET status = 'new' WHERE status = 'open'")


def downgrade() -> None:
    op.execute("UPDATE reports SET status = 'open' WHERE status = 'new'")
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reports_status'))
        batch_op.drop_column('moderated_by')
        batch_op.drop_column('moderated_at')
    with op.batch_alter_table('abuse_counters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_abuse_counters_window'))
    op.drop_table('abuse_counters')
