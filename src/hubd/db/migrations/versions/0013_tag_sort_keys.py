"""repo_tags carry their repo's type, visibility and sort keys, indexed per sort key

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

SORT_KEYS = ('created_at', 'last_modified', 'downloads', 'likes', 'trending_score')
COPIED = ('type', 'private', *SORT_KEYS)


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        _upgrade_postgres()
        return
    with op.batch_alter_table('repo_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_repo_tags_tag')  # the new indexes lead with the tag too
        batch_op.add_column(sa.Column('type', sa.String(length=8), server_default='', nullable=False))
        batch_op.add_column(sa.Column('private', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('created_at', sa.Float(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('last_modified', sa.Float(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('downloads', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('likes', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('trending_score', sa.Float(), server_default='0', nullable=False))
    # filled before the indexes are built; the triggers that keep the copies current are created at start,
    # after the migrations (db/tagsort.py)
    op.execute(f"UPDATE repo_tags SET {', '.join(f'{c} = r.{c}' for c in COPIED)} "
               "FROM repos AS r WHERE r.id = repo_tags.repo_id")
    _create_indexes()


def _upgrade_postgres() -> None:
    """A new table filled by one join, not an UPDATE of every row: within the migration's transaction the
    indexes built after such an UPDATE would keep an entry for each dead row version too (twice their size
    for good), and the catalogue's deferred trigger would queue an event that forbids CREATE INDEX. Its
    trigger on the old table goes with it; hubd recreates it at start, after the migrations."""
    op.execute(f"CREATE TABLE repo_tags_new AS SELECT t.repo_id, t.tag, {', '.join(f'r.{c}' for c in COPIED)} "
               "FROM repo_tags AS t JOIN repos AS r ON r.id = t.repo_id")
    op.execute("DROP TABLE repo_tags")
    op.execute("ALTER TABLE repo_tags_new RENAME TO repo_tags")
    defaults = {'type': "''", 'private': 'false'}
    op.execute("ALTER TABLE repo_tags "
               + ", ".join(f"ALTER COLUMN {c} SET NOT NULL" for c in ('repo_id', 'tag', *COPIED)) + ", "
               + ", ".join(f"ALTER COLUMN {c} SET DEFAULT {defaults.get(c, '0')}" for c in COPIED))
    op.execute("ALTER TABLE repo_tags ADD CONSTRAINT repo_tags_pkey PRIMARY KEY (repo_id, tag)")
    op.execute("ALTER TABLE repo_tags ADD CONSTRAINT repo_tags_repo_id_fkey FOREIGN KEY (repo_id) "
               "REFERENCES repos (id) ON DELETE CASCADE")
    _create_indexes()
    op.execute("ANALYZE repo_tags")


def _create_indexes() -> None:
    with op.batch_alter_table('repo_tags', schema=None) as batch_op:
        for key in SORT_KEYS:
            batch_op.create_index(f'ix_repo_tags_{key}', ['tag', 'type', 'private', key, 'repo_id'], unique=False)


def downgrade() -> None:
    # the triggers that keep the copies (created at start, db/tagsort.py)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS hubd_tagsort_repos ON repos")
        op.execute("DROP TRIGGER IF EXISTS hubd_tagsort_copy ON repos")
        op.execute("DROP TRIGGER IF EXISTS hubd_tagsort_fill ON repo_tags")
        op.execute("DROP FUNCTION IF EXISTS hubd_tagsort_copy(), hubd_tagsort_fill()")
    else:
        for name in ('tagsort_fill', 'tagsort_copy', *(f'tagsort_copy_{c}' for c in COPIED)):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table('repo_tags', schema=None) as batch_op:
        for key in SORT_KEYS:
            batch_op.drop_index(f'ix_repo_tags_{key}')
        for col in reversed(COPIED):
            batch_op.drop_column(col)
        batch_op.create_index('ix_repo_tags_tag', ['tag', 'repo_id'], unique=False)
