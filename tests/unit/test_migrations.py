"""Migrations are complete: a database migrated from nothing matches the models, on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubd.db.engine import Database
from hubd.db.migrate import drift
from tests.backends import BACKEND, new_database


def test_migrated_schema_matches_models(tmp_path: Path) -> None:
    url = new_database() if BACKEND == "postgres-s3" else f"sqlite:///{tmp_path / 'm.db'}"
    db = Database(url)
    db.create_schema()
    assert drift(db) == []
    db.create_schema()  # a second start migrates nothing and fails nothing
    assert drift(db) == []


@pytest.mark.skipif(BACKEND != "sqlite",
                    reason="other backend: SQLite's table rebuild (PostgreSQL sequences never reuse ids)")
def test_sqlite_rebuild_keeps_rows_and_never_reuses_ids(tmp_path: Path) -> None:
    """0006 rebuilds parent tables on SQLite: children's rows survive, and a deleted repo's id stays unused."""
    from alembic import command
    from sqlalchemy import text

    from hubd.db.migrate import _config
    from hubd.db.search import create_search_index

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    with db.write() as conn:
        command.upgrade(_config(conn), "0005")
    create_search_index(db.engine, True)  # as a hub at 0005 had it: the rebuild must keep it consistent
    with db.write() as conn:
        conn.execute(text("INSERT INTO accounts (id, name, kind, fullname, is_admin, created_at) "
                          "VALUES (1, 'alice', 'user', 'Alice', 0, 0)"))
        for rid in (1, 2):
            conn.execute(text("INSERT INTO repos (id, type, namespace, name, private, gated, created_at, "
                              "last_modified, next_discussion, search_id, downloads, downloads_all_time, likes, "
                              f"trending_score, used_storage) VALUES ({rid}, 'model', 'alice', 'm{rid}', 0, '', 0, "
                              f"0, 1, 'alice/m{rid}', 0, 0, 0, 0, 0)"))
            conn.execute(text(f"INSERT INTO refs (repo_id, name, target) VALUES ({rid}, 'refs/heads/main', "
                              f"'{'a' * 40}')"))
        conn.execute(text("INSERT INTO likes (user_id, repo_id, created_at) VALUES (1, 2, 0)"))
    db.create_schema()
    assert drift(db) == []
    with db.write() as conn:
        assert conn.execute(text("SELECT count(*) FROM refs")).scalar() == 2
        assert conn.execute(text("SELECT count(*) FROM likes")).scalar() == 1
        ddl = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'repos'")).scalar()
        assert "AUTOINCREMENT" in ddl
        conn.execute(text("DELETE FROM repos WHERE id = 2"))
        assert conn.execute(text("SELECT count(*) FROM likes")).scalar() == 0  # cascades are back on
        conn.execute(text("INSERT INTO repos (type, namespace, name, private, gated, created_at, last_modified, "
                          "next_discussion, search_id, downloads, downloads_all_time, likes, trending_score, "
                          "used_storage) VALUES ('model', 'alice', 'new', 0, '', 0, 0, 1, 'alice/new', 0, 0, 0, 0, 0)"))
        new_id = conn.execute(text("SELECT id FROM repos WHERE name = 'new'")).scalar()
    assert new_id == 3
