"""insert_if_absent on both engines (PostgreSQL is a real server, as everywhere in the suite)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, UniqueConstraint, create_engine, select

from hubd.db.inserts import insert_if_absent
from tests.backends import PG_ADMIN_URL


@pytest.mark.parametrize("url", ["sqlite://", PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://")])
def test_insert_if_absent_inserts_once_and_says_so(url: str) -> None:
    engine = create_engine(url)
    md = MetaData()
    table = Table(f"t_{uuid.uuid4().hex[:8]}", md, Column("id", Integer, primary_key=True),
                  Column("k", Integer), Column("v", Integer), UniqueConstraint("k"))
    md.create_all(engine)
    try:
        with engine.begin() as conn:
            assert insert_if_absent(conn, table, id=1, k=1, v=10) is True
            assert insert_if_absent(conn, table, id=2, k=1, v=20) is False  # the unique k, not the key
            assert insert_if_absent(conn, table, id=1, k=2, v=30) is False  # the primary key
            assert insert_if_absent(conn, table, id=3, k=3, v=40) is True
            assert conn.execute(select(table.c.id, table.c.v).order_by(table.c.id)).all() == [(1, 10), (3, 40)]
    finally:
        md.drop_all(engine)
        engine.dispose()
