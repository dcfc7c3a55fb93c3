"""transparency log: the Merkle tree's stored subtrees and the signed tree heads

Builds the tree over the existing events in place (docs/registry.md, "The Merkle tree").
Old `certgen-checkpoint/1` rows stay in `checkpoints` and are still verified.

Revision ID: 0004_transparency_log
Revises: 0003_record_state
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

from certgen.errors import RegistryError
from certgen.registry.tlog import rebuild_tree

revision = '0004_transparency_log'
down_revision = '0003_record_state'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('log_nodes',
                    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
                    sa.PrimaryKeyConstraint('id'))
    op.create_table('tree_heads',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('size', sa.Integer(), nullable=False),
                    sa.Column('root_hash', sa.String(length=64), nullable=False),
                    sa.Column('at', sa.DateTime(), nullable=False),
                    sa.Column('note', sa.Text(), nullable=False),
                    sa.PrimaryKeyConstraint('id'))
    with op.batch_alter_table('tree_heads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tree_heads_size'), ['size'], unique=False)
    try:
        rebuild_tree(op.get_bind())
    except RegistryError:
        pass  # a log with a gap: the tree stops before it, and `certgen log --verify` names the gap


def downgrade() -> None:
    with op.batch_alter_table('tree_heads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tree_heads_size'))
    op.drop_table('tree_heads')
    op.drop_table('log_nodes')
