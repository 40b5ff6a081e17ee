"""ids never reused; disabled accounts; who created a repo; case-insensitive repo ids; redirects

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# Signed URLs and Xet tokens name a repo by id: an id given again to a new repo would hand the new repo's
# content to holders of the old one's grants. PostgreSQL sequences never go back; SQLite reuses the
# highest rowid after a delete unless the table is AUTOINCREMENT, which only a rebuild can add.
_REBUILT = ("accounts", "tokens", "repos")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table('repo_redirects',
                    sa.Column('type', sa.String(length=8), nullable=False),
                    sa.Column('search_id', sa.String(length=200), nullable=False),
                    sa.Column('repo_id', sa.Integer(), nullable=False),
                    sa.ForeignKeyConstraint(['repo_id'], ['repos.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('type', 'search_id'))
    with op.batch_alter_table('accounts', recreate="always" if sqlite else "auto",
                              table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.add_column(sa.Column('disabled', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('private_by_default', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('tokens', recreate="always" if sqlite else "auto",
                              table_kwargs={"sqlite_autoincrement": True}):
        pass
    with op.batch_alter_table('repos', recreate="always" if sqlite else "auto",
                              table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.add_column(sa.Column('created_by', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_repos_created_by', 'accounts', ['created_by'], ['id'], ondelete='SET NULL')
        batch_op.create_index('ux_repos_lookup', ['search_id', 'type'], unique=True)


def downgrade() -> None:
    op.drop_table('repo_redirects')
    with op.batch_alter_table('repos') as batch_op:
        batch_op.drop_index('ux_repos_lookup')
        batch_op.drop_constraint('fk_repos_created_by', type_='foreignkey')
        batch_op.drop_column('created_by')
    with op.batch_alter_table('accounts') as batch_op:
        batch_op.drop_column('private_by_default')
        batch_op.drop_column('disabled')
