"""Alembic environment: run by hubd itself (hubd db upgrade, and at start) on the connection it passes."""

from __future__ import annotations

from alembic import context

from hubd.db.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
with context.begin_transaction():
    context.run_migrations()
