"""mirror of an upstream hub: mirrored repos, filled objects, pins, users' upstream tokens

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 14:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mirror_repos',
                    sa.Column('repo_id', sa.Integer(), nullable=False),
                    sa.Column('upstream', sa.String(length=255), nullable=False),
                    sa.Column('synced_at', sa.Float(), nullable=False),
                    sa.Column('last_used', sa.Float(), nullable=False),
                    sa.ForeignKeyConstraint(['repo_id'], ['repos.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('repo_id'))
    op.create_table('mirror_objects',
                    sa.Column('oid', sa.String(length=64), nullable=False),
                    sa.Column('size', sa.BigInteger(), nullable=False),
                    sa.Column('filled_at', sa.Float(), nullable=False),
                    sa.Column('last_used', sa.Float(), nullable=False),
                    sa.PrimaryKeyConstraint('oid'))
    op.create_index('ix_mirror_objects_lru', 'mirror_objects', ['last_used'])
    op.create_table('mirror_pins',
                    sa.Column('repo_id', sa.Integer(), nullable=False),
                    sa.Column('sha', sa.String(length=40), nullable=False),
                    sa.Column('revision', sa.String(length=255), nullable=False),
                    sa.Column('pinned_at', sa.Float(), nullable=False),
                    sa.ForeignKeyConstraint(['repo_id'], ['repos.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('repo_id', 'sha'))
    op.create_table('upstream_tokens',
                    sa.Column('account_id', sa.Integer(), nullable=False),
                    sa.Column('token', sa.Text(), nullable=False),
                    sa.Column('created_at', sa.Float(), nullable=False),
                    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('account_id'))


def downgrade() -> None:
    op.drop_table('upstream_tokens')
    op.drop_table('mirror_pins')
    op.drop_index('ix_mirror_objects_lru', table_name='mirror_objects')
    op.drop_table('mirror_objects')
    op.drop_table('mirror_repos')
