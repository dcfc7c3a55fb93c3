"""service standard: applications and complaints

Revision ID: 0007_service_standard
Revises: 0005_batch_leases
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = '0007_service_standard'
down_revision = '0005_batch_leases'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('applications',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('number', sa.String(length=20), nullable=False),
                    sa.Column('year', sa.Integer(), nullable=False),
                    sa.Column('serial', sa.Integer(), nullable=False),
                    sa.Column('kind', sa.String(length=16), nullable=False),
                    sa.Column('client', sa.String(length=200), nullable=False),
                    sa.Column('client_id', sa.String(length=100), nullable=False),
                    sa.Column('email', sa.String(length=200), nullable=True),
                    sa.Column('channel', sa.String(length=16), nullable=False),
                    sa.Column('stage', sa.String(length=16), nullable=False),
                    sa.Column('decision', sa.String(length=16), nullable=True),
                    sa.Column('access_hash', sa.String(length=64), nullable=False),
                    sa.Column('created_at', sa.DateTime(), nullable=False),
                    sa.Column('conditions', sa.JSON(), nullable=False),
                    sa.Column('pauses', sa.JSON(), nullable=False),
                    sa.Column('steps', sa.JSON(), nullable=False),
                    sa.Column('documents', sa.JSON(), nullable=False),
                    sa.Column('certificates', sa.JSON(), nullable=False),
                    sa.Column('paid_at', sa.DateTime(), nullable=True),
                    sa.Column('reported_at', sa.DateTime(), nullable=True),
                    sa.Column('credit_letter', sa.String(length=20), nullable=True),
                    sa.Column('apology_letter', sa.String(length=20), nullable=True),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('number'),
                    sa.UniqueConstraint('credit_letter'),
                    sa.UniqueConstraint('year', 'serial', name='uq_applications_serial'))
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_applications_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_applications_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_applications_stage'), ['stage'], unique=False)
    op.create_table('complaints',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('number', sa.String(length=20), nullable=False),
                    sa.Column('year', sa.Integer(), nullable=False),
                    sa.Column('serial', sa.Integer(), nullable=False),
                    sa.Column('type', sa.String(length=16), nullable=False),
                    sa.Column('channel', sa.String(length=16), nullable=False),
                    sa.Column('subject_kind', sa.String(length=16), nullable=False),
                    sa.Column('subject', sa.String(length=40), nullable=True),
                    sa.Column('summary', sa.Text(), nullable=False),
                    sa.Column('contact', sa.String(length=200), nullable=True),
                    sa.Column('status', sa.String(length=16), nullable=False),
                    sa.Column('received_at', sa.DateTime(), nullable=False),
                    sa.Column('answered_at', sa.DateTime(), nullable=True),
                    sa.Column('answered_by', sa.String(length=100), nullable=True),
                    sa.Column('answer', sa.Text(), nullable=True),
                    sa.Column('outcome', sa.String(length=16), nullable=True),
                    sa.Column('closed_at', sa.DateTime(), nullable=True),
                    sa.Column('letter_sha256', sa.String(length=64), nullable=True),
                    sa.Column('steps', sa.JSON(), nullable=False),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('number'),
                    sa.UniqueConstraint('year', 'serial', name='uq_complaints_serial'))
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaints_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_status'), ['status'], unique=False)


def downgrade() -> None:
    op.drop_table('complaints')
    op.drop_table('applications')
