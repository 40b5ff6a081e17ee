"""discussions, pull requests and access requests

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 14:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN on every engine (SQLite needs no table rebuild for a nullable column)
    op.add_column('discussions', sa.Column('merge_commit', sa.String(length=40), nullable=True))
    op.create_table('discussion_events',
                    sa.Column('id', sa.String(length=24), nullable=False),
                    sa.Column('repo_id', sa.Integer(), nullable=False),
                    sa.Column('num', sa.Integer(), nullable=False),
                    sa.Column('type', sa.String(length=16), nullable=False),
                    sa.Column('author_id', sa.Integer(), nullable=True),
                    sa.Column('created_at', sa.Float(), nullable=False),
                    sa.Column('data', sa.JSON(), nullable=False),
                    sa.ForeignKeyConstraint(['author_id'], ['accounts.id'], ondelete='SET NULL'),
                    sa.ForeignKeyConstraint(['repo_id'], ['repos.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_discussion_events_num', 'discussion_events', ['repo_id', 'num', 'created_at'])
    op.create_table('access_requests',
                    sa.Column('repo_id', sa.Integer(), nullable=False),
                    sa.Column('user_id', sa.Integer(), nullable=False),
                    sa.Column('request_id', sa.String(length=24), nullable=False),
                    sa.Column('status', sa.String(length=8), nullable=False),
                    sa.Column('fields', sa.JSON(), nullable=True),
                    sa.Column('rejection_reason', sa.Text(), nullable=True),
                    sa.Column('created_at', sa.Float(), nullable=False),
                    sa.Column('updated_at', sa.Float(), nullable=False),
                    sa.ForeignKeyConstraint(['repo_id'], ['repos.id'], ondelete='CASCADE'),
                    sa.ForeignKeyConstraint(['user_id'], ['accounts.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('repo_id', 'user_id'),
                    sa.UniqueConstraint('request_id'))
    op.create_index('ix_access_requests_status', 'access_requests', ['repo_id', 'status', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_access_requests_status', table_name='access_requests')
    op.drop_table('access_requests')
    op.drop_index('ix_discussion_events_num', table_name='discussion_events')
    op.drop_table('discussion_events')
    with op.batch_alter_table('discussions') as batch_op:
        batch_op.drop_column('merge_commit')
