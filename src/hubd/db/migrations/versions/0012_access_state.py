"""the access generation

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 18:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    state = op.create_table('access_state',
                            sa.Column('id', sa.Integer(), nullable=False),
                            sa.Column('generation', sa.BigInteger(), nullable=False),
                            sa.PrimaryKeyConstraint('id'))
    op.bulk_insert(state, [{'id': 1, 'generation': 0}])


def downgrade() -> None:
    op.drop_table('access_state')
