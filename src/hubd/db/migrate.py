"""Schema migrations with Alembic, on SQLite and PostgreSQL alike; one process migrates at a time."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from hubd.db.schema import metadata

SCRIPTS = Path(__file__).parent / "migrations"
_LOCK_ID = 7243311  # any constant: the advisory lock every hubd process takes to migrate


def _config(conn: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.attributes["connection"] = conn
    return cfg


def upgrade(db) -> None:
    """Bring the schema to the newest revision (a no-op when it is there already)."""
    if db.is_sqlite:
        _upgrade_sqlite(db)
        return
    with db.write() as conn:
        if not db.is_sqlite:  # replicas starting together: the second waits, then finds nothing to do
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
        command.upgrade(_config(conn), "head")


def _upgrade_sqlite(db) -> None:
    """SQLite changes some tables by rebuilding them (create, copy, drop, rename). With foreign keys on,
    dropping a parent table would first cascade-delete its children's rows, so they are off while
    migrating — a setting SQLite only changes outside a transaction — and checked before they go back on."""
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            conn.execution_options(hubd_write=True)
            with conn.begin():
                command.upgrade(_config(conn), "head")
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"migration left dangling references: {broken[:5]}")
        finally:
            raw.execute("PRAGMA foreign_keys=ON")


def revision(db, message: str) -> None:
    """For developers: write a new migration from the difference between the models and the database."""
    with db.write() as conn:
        command.revision(_config(conn), message=message, autogenerate=True)


def _ours(name: str | None, kind: str, _parents: dict) -> bool:
    """Objects the models describe; the search index (db/search.py) is created beside them."""
    return not (name or "").startswith(("repo_fts", "ix_repos_search_trgm", "alembic_version"))


def drift(db) -> list:
    """Differences between the migrated database and the models: empty when migrations are complete."""
    with db.read() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_name": _ours, "compare_type": True})
        return compare_metadata(ctx, metadata)
