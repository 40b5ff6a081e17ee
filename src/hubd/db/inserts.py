"""INSERT … ON CONFLICT DO NOTHING on both engines: a row that may already exist is inserted in one
statement, so two writers racing on it never turn into an IntegrityError (select-then-insert did)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, literal_column
from sqlalchemy.dialects import postgresql, sqlite


def insert_if_absent(conn: Connection, table: Table, **values: Any) -> bool:
    """Insert the row unless one with the same key (any unique constraint) exists; True when inserted."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    # RETURNING, not rowcount: psycopg 3 reports -1 for an INSERT … ON CONFLICT through SQLAlchemy
    stmt = dialect.insert(table).values(**values).on_conflict_do_nothing().returning(literal_column("1"))
    return conn.execute(stmt).first() is not None
