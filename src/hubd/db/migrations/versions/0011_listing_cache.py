"""listing fragments and the catalogue generation

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('repo_meta', schema=None) as batch_op:
        batch_op.add_column(sa.Column('listing', sa.Text(), nullable=True))
    state = op.create_table('catalog_state',
                            sa.Column('id', sa.Integer(), nullable=False),
                            sa.Column('generation', sa.BigInteger(), nullable=False),
                            sa.PrimaryKeyConstraint('id'))
    op.bulk_insert(state, [{'id': 1, 'generation': 0}])


def downgrade() -> None:
    op.drop_table('catalog_state')
    with op.batch_alter_table('repo_meta', schema=None) as batch_op:
        batch_op.drop_column('listing')
