"""Backend-specific substring search over repo ids: SQLite FTS5 trigram table, PostgreSQL pg_trgm."""

from __future__ import annotations

import logging

from sqlalchemy import ColumnElement, Engine, Integer, bindparam, column, text

from hubd.db.schema import repos

log = logging.getLogger("hubd.db")
MIN_TRIGRAM = 3

_SQLITE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS repo_fts USING fts5(search_id, content='repos', content_rowid='id', "
    "tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS repos_fts_insert AFTER INSERT ON repos BEGIN "
    "INSERT INTO repo_fts(rowid, search_id) VALUES (new.id, new.search_id); END",
    "CREATE TRIGGER IF NOT EXISTS repos_fts_delete AFTER DELETE ON repos BEGIN "
    "INSERT INTO repo_fts(repo_fts, rowid, search_id) VALUES ('delete', old.id, old.search_id); END",
    "CREATE TRIGGER IF NOT EXISTS repos_fts_update AFTER UPDATE OF search_id ON repos BEGIN "
    "INSERT INTO repo_fts(repo_fts, rowid, search_id) VALUES ('delete', old.id, old.search_id); "
    "INSERT INTO repo_fts(rowid, search_id) VALUES (new.id, new.search_id); END",
)


def create_search_index(engine: Engine, is_sqlite: bool) -> bool:
    """True when a trigram index backs substring search; without one, search scans."""
    with engine.begin() as conn:
        if is_sqlite:
            for stmt in _SQLITE:
                conn.exec_driver_sql(stmt)
            return True
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_repos_search_trgm ON repos "
                                 "USING gin (search_id gin_trgm_ops)")
        return True
    except Exception as exc:  # noqa: BLE001 - the extension needs rights the hub's role may lack
        log.warning("pg_trgm unavailable (%s): search falls back to scanning", exc)
        return False


def matching_ids(term: str, is_sqlite: bool) -> ColumnElement[bool]:
    """A condition on repos.id true for ids containing `term` (lower-cased), answered by the index."""
    if is_sqlite:
        phrase = '"' + term.replace('"', '""') + '"'
        # unique: several terms in one query each keep their own value
        match = text("SELECT rowid FROM repo_fts WHERE repo_fts MATCH :q").bindparams(
            bindparam("q", phrase, unique=True))
        return repos.c.id.in_(match.columns(column("rowid", Integer)))
    return repos.c.search_id.contains(term, autoescape=True)
