"""The access generation: a number that every committed change deciding who may read what bumps, by
triggers (no write path can forget it). Hot read paths cache principals and access decisions under it, and
one read of the number per request tells every replica whether those are still current: a repo made
private, a token revoked or a membership removed take effect on the very next request.

The number is the one row of `access_state` (a table of its own: the catalogue generation of db/generation.py
moves with every download count). What bumps it: repos (created, deleted, renamed, moved, made private or
public, gated), their redirects, accounts (renamed, admin, disabled, deleted), memberships, tokens (anything
but `last_used_at`), access requests. SQLite bumps it per changed row; PostgreSQL once per transaction, at
commit (a deferred constraint trigger), so the new number becomes visible together with the change and no
writer holds the row's lock while it takes others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

log = logging.getLogger("hubd.db")

_TABLES = {
    "repos": "INSERT OR DELETE OR UPDATE OF type, namespace, name, private, gated, search_id",
    "repo_redirects": "INSERT OR DELETE OR UPDATE",
    "accounts": "DELETE OR UPDATE OF name, kind, is_admin, disabled",
    "memberships": "INSERT OR DELETE OR UPDATE",
    "tokens": "DELETE OR UPDATE OF user_id, role, token_hash, scopes, expires_at",
    "access_requests": "INSERT OR DELETE OR UPDATE",
}
_BUMP = "UPDATE access_state SET generation = generation + 1 WHERE id = 1"
_READ = "SELECT generation FROM access_state WHERE id = 1"
_ENSURE = "INSERT INTO access_state (id, generation) VALUES (1, 0) ON CONFLICT (id) DO NOTHING"

_PG_FUNCTIONS = (
    """CREATE OR REPLACE FUNCTION hubd_access_first() RETURNS boolean LANGUAGE plpgsql AS $$
    BEGIN
      IF current_setting('hubd.access_changed', true) = '1' THEN RETURN false; END IF;
      PERFORM set_config('hubd.access_changed', '1', true);
      RETURN true;
    END $$""",
    f"""CREATE OR REPLACE FUNCTION hubd_access_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN {_BUMP}; RETURN NULL; END $$""",
)


def _sqlite_triggers() -> list[str]:
    out = []
    for table, events in _TABLES.items():
        for clause in events.split(" OR "):
            event = clause.split()[0].lower()
            out.append(f"DROP TRIGGER IF EXISTS access_gen_{table}_{event}")  # replaced: always the current body
            out.append(f"CREATE TRIGGER access_gen_{table}_{event} AFTER {clause} ON {table} BEGIN {_BUMP}; END")
    return out


def create_access_triggers(engine: Engine, is_sqlite: bool) -> None:
    """Idempotent; run at every start after the migrations (a SQLite table rebuild drops its triggers)."""
    with engine.begin() as conn:
        conn.exec_driver_sql(_ENSURE)
        if is_sqlite:
            for stmt in _sqlite_triggers():
                conn.exec_driver_sql(stmt)
            return
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7243313)")  # replicas starting together
        present = {name for (name,) in conn.exec_driver_sql(
            "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'hubd_access_%%'").all()}
        for stmt in _PG_FUNCTIONS:
            conn.exec_driver_sql(stmt)
        for table, events in _TABLES.items():
            if f"hubd_access_{table}" not in present:
                conn.exec_driver_sql(
                    f"CREATE CONSTRAINT TRIGGER hubd_access_{table} AFTER {events} ON {table} "
                    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (hubd_access_first()) "
                    "EXECUTE FUNCTION hubd_access_bump()")


class AccessGeneration:
    """Reads the number from the event loop without a thread hop: SQLite through a read-only connection of
    its own (a WAL read never waits for the writer), PostgreSQL through one asyncio connection per process.
    None when it cannot be read: callers then take the uncached path."""

    def __init__(self, url: str, is_sqlite: bool) -> None:
        self.url, self.is_sqlite = url, is_sqlite
        self._sqlite: sqlite3.Connection | None = None
        self._pg: Any = None
        self._lock: asyncio.Lock | None = None

    async def read(self) -> int | None:
        try:
            return self._read_sqlite() if self.is_sqlite else await self._read_pg()
        except Exception as exc:  # noqa: BLE001 - a broken connection: retried on the next request
            log.warning("access generation unreadable (%s): requests take the uncached path", exc)
            self.close()
            return None

    def _read_sqlite(self) -> int | None:
        if self._sqlite is None:
            path = make_url(self.url).database or ""
            if path in ("", ":memory:"):
                return None
            self._sqlite = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                                           check_same_thread=False, timeout=5)
        row = self._sqlite.execute(_READ).fetchone()
        return None if row is None else int(row[0])

    async def _read_pg(self) -> int | None:
        import psycopg

        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._pg is None or self._pg.closed:
                conninfo = make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
                self._pg = await psycopg.AsyncConnection.connect(conninfo, autocommit=True, prepare_threshold=0)
            cur = await self._pg.execute(_READ)
            row = await cur.fetchone()
        return None if row is None else int(row[0])

    def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
        if self._pg is not None:
            pg, self._pg = self._pg, None
            with contextlib.suppress(RuntimeError):  # outside the loop (shutdown): the process is ending
                asyncio.get_running_loop().create_task(pg.close())
