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


def test_0013_tag_rows_take_their_repos_sort_keys(tmp_path: Path) -> None:
    """Tags written before 0013 get their repo's type, visibility and sort keys; later writes keep them."""
    from alembic import command
    from sqlalchemy import text

    from hubd.db.migrate import _config

    url = new_database() if BACKEND == "postgres-s3" else f"sqlite:///{tmp_path / 'old.db'}"
    db = Database(url)
    with db.write() as conn:
        command.upgrade(_config(conn), "0012")
        for rid, private in ((1, False), (2, True)):
            conn.execute(text(
                "INSERT INTO repos (id, type, namespace, name, private, gated, created_at, last_modified, "
                "next_discussion, search_id, downloads, downloads_all_time, likes, trending_score, used_storage) "
                f"VALUES ({rid}, 'dataset', 'alice', 'd{rid}', :private, '', {rid}.5, {rid * 10}.0, 1, 'alice/d{rid}', "
                f"{rid * 100}, 0, {rid * 3}, {rid}.25, 0)"), {"private": private})
            conn.execute(text(f"INSERT INTO repo_tags (repo_id, tag) VALUES ({rid}, 'a'), ({rid}, 'b')"))
    db.create_schema()
    assert drift(db) == []
    query = text("SELECT repo_id, tag, type, private, created_at, last_modified, downloads, likes, trending_score "
                 "FROM repo_tags ORDER BY repo_id, tag")
    with db.read() as conn:
        assert [tuple(r) for r in conn.execute(query)] == [
            (1, "a", "dataset", False, 1.5, 10.0, 100, 3, 1.25), (1, "b", "dataset", False, 1.5, 10.0, 100, 3, 1.25),
            (2, "a", "dataset", True, 2.5, 20.0, 200, 6, 2.25), (2, "b", "dataset", True, 2.5, 20.0, 200, 6, 2.25)]
    with db.write() as conn:
        conn.execute(text("UPDATE repos SET likes = likes + 1, private = NOT private"))
        conn.execute(text("INSERT INTO repo_tags (repo_id, tag) VALUES (1, 'c')"))
    with db.read() as conn:
        assert [tuple(r) for r in conn.execute(query)][:3] == [
            (1, "a", "dataset", True, 1.5, 10.0, 100, 4, 1.25), (1, "b", "dataset", True, 1.5, 10.0, 100, 4, 1.25),
            (1, "c", "dataset", True, 1.5, 10.0, 100, 4, 1.25)]
    with db.write() as conn:  # down and up again: the triggers go with the columns, then come back
        command.downgrade(_config(conn), "0012")
        conn.execute(text("UPDATE repos SET likes = 0"))
        conn.execute(text("INSERT INTO repo_tags (repo_id, tag) VALUES (2, 'd')"))
    db.create_schema()
    assert drift(db) == []
    with db.read() as conn:
        assert conn.execute(text("SELECT DISTINCT likes FROM repo_tags")).scalars().all() == [0]
    db.dispose()
