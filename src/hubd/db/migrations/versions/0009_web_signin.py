"""web sign-in: passwords, sessions, OIDC identities, invitations, login throttling

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 14:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('account_passwords',
                    sa.Column('user_id', sa.Integer(), nullable=False),
                    sa.Column('hash', sa.String(length=256), nullable=False),
                    sa.Column('updated_at', sa.Float(), nullable=False),
                    sa.ForeignKeyConstraint(['user_id'], ['accounts.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('user_id'))
    op.create_table('web_sessions',
                    sa.Column('id', sa.String(length=64), nullable=False),
                    sa.Column('user_id', sa.Integer(), nullable=False),
                    sa.Column('csrf', sa.String(length=64), nullable=False),
                    sa.Column('created_at', sa.Float(), nullable=False),
                    sa.Column('expires_at', sa.Float(), nullable=False),
                    sa.ForeignKeyConstraint(['user_id'], ['accounts.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_web_sessions_user_id', 'web_sessions', ['user_id'])
    op.create_table('invitations',
                    sa.Column('token_hash', sa.String(length=64), nullable=False),
                    sa.Column('created_by', sa.Integer(), nullable=True),
                    sa.Column('created_at', sa.Float(), nullable=False),
                    sa.Column('expires_at', sa.Float(), nullable=False),
                    sa.Column('used_by', sa.Integer(), nullable=True),
                    sa.ForeignKeyConstraint(['created_by'], ['accounts.id'], ondelete='SET NULL'),
                    sa.ForeignKeyConstraint(['used_by'], ['accounts.id'], ondelete='SET NULL'),
                    sa.PrimaryKeyConstraint('token_hash'))
    op.create_table('oidc_identities',
                    sa.Column('issuer', sa.String(length=255), nullable=False),
                    sa.Column('subject', sa.String(length=255), nullable=False),
                    sa.Column('user_id', sa.Integer(), nullable=False),
                    sa.ForeignKeyConstraint(['user_id'], ['accounts.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('issuer', 'subject'))
    op.create_table('login_attempts',
                    sa.Column('key', sa.String(length=200), nullable=False),
                    sa.Column('window_start', sa.Float(), nullable=False),
                    sa.Column('failures', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('key'))


def downgrade() -> None:
    op.drop_table('login_attempts')
    op.drop_table('oidc_identities')
    op.drop_table('invitations')
    op.drop_index('ix_web_sessions_user_id', table_name='web_sessions')
    op.drop_table('web_sessions')
    op.drop_table('account_passwords')
