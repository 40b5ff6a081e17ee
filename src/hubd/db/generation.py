"""The catalogue generation: a number in `catalog_state` that every committed change to the listed tables
bumps, by triggers (so no write path can forget it), and that a listing request reads once to know
whether a cached page is current — on every replica, since the number lives in the shared database.

SQLite bumps it per changed row (one writer at a time, an in-process UPDATE costs about a microsecond).
PostgreSQL bumps it once per transaction, at commit: a deferred constraint trigger queued only for the
first changed row (its WHEN marks the transaction in a transaction-local setting). Taking the row's lock
as the very last thing a transaction does means no writer waits on it while holding other row locks, so
it cannot deadlock with them, and the new number becomes visible together with the data it stands for.

A reader reads the number before it reads the data: a page built then is at least as new as the number it
is stored under (a write that commits in between makes the page newer, never staler).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

log = logging.getLogger("hubd.db")

# The columns a listing item shows (repos.next_discussion, created_by, derived_sha change nothing listed).
_REPO_COLUMNS = ("type", "namespace", "name", "private", "gated", "sdk", "created_at", "last_modified", "head_sha",
                 "search_id", "downloads", "downloads_all_time", "likes", "trending_score", "pipeline_tag",
                 "library_name", "used_storage")
_TABLES = {"repos": f"INSERT OR DELETE OR UPDATE OF {', '.join(_REPO_COLUMNS)}",
           "repo_meta": "INSERT OR DELETE OR UPDATE", "repo_tags": "INSERT OR DELETE OR UPDATE"}
_BUMP = "UPDATE catalog_state SET generation = generation + 1 WHERE id = 1"
_READ = "SELECT generation FROM catalog_state WHERE id = 1"

_PG_FUNCTIONS = (
    """CREATE OR REPLACE FUNCTION hubd_catalog_first() RETURNS boolean LANGUAGE plpgsql AS $$
    BEGIN
      IF current_setting('hubd.catalog_changed', true) = '1' THEN RETURN false; END IF;
      PERFORM set_config('hubd.catalog_changed', '1', true);
      RETURN true;
    END $$""",
    f"""CREATE OR REPLACE FUNCTION hubd_catalog_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN {_BUMP}; RETURN NULL; END $$""",
)


def trigger_names(is_sqlite: bool) -> list[str]:
    if is_sqlite:
        return [f"catalog_gen_{table}_{event}" for table in _TABLES for event in ("insert", "delete", "update")]
    return [f"hubd_catalog_{table}" for table in _TABLES]


def _sqlite_triggers() -> list[str]:
    out = []
    for table, events in _TABLES.items():
        update = events.split("UPDATE", 1)[1]  # "" or " OF col, ..."
        for event, clause in (("insert", "INSERT"), ("delete", "DELETE"), ("update", "UPDATE" + update)):
            out.append(f"DROP TRIGGER IF EXISTS catalog_gen_{table}_{event}")
            out.append(f"CREATE TRIGGER catalog_gen_{table}_{event} AFTER {clause} ON {table} BEGIN {_BUMP}; END")
    return out


def create_generation_triggers(engine: Engine, is_sqlite: bool) -> None:
    """Idempotent; run at every start after the migrations (a SQLite table rebuild drops its triggers). SQLite's
    are recreated each time (cheap, one transaction), so a hub always runs the current trigger bodies."""
    with engine.begin() as conn:
        if is_sqlite:
            for stmt in _sqlite_triggers():
                conn.exec_driver_sql(stmt)
            return
        present = {name for (name,) in conn.exec_driver_sql(
            "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'hubd_catalog_%%'").all()}
        if present >= set(trigger_names(False)):
            return
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7243312)")  # replicas starting together
        present = {name for (name,) in conn.exec_driver_sql(
            "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'hubd_catalog_%%'").all()}
        for stmt in _PG_FUNCTIONS:
            conn.exec_driver_sql(stmt)
        for table, events in _TABLES.items():
            name = f"hubd_catalog_{table}"
            if name not in present:
                conn.exec_driver_sql(
                    f"CREATE CONSTRAINT TRIGGER {name} AFTER {events} "
                    f"ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (hubd_catalog_first()) "
                    "EXECUTE FUNCTION hubd_catalog_bump()")


class GenerationReader:
    """Reads the generation from the event loop without a thread hop: SQLite through a connection of its
    own (a WAL read never waits for the writer), PostgreSQL through one asyncio connection per process.
    None when it cannot be read: the caller then builds the page without the cache."""

    def __init__(self, url: str, is_sqlite: bool) -> None:
        self.url, self.is_sqlite = url, is_sqlite
        self._sqlite: sqlite3.Connection | None = None
        self._pg: Any = None
        self._next: asyncio.Future[int | None] | None = None  # the read the requests arriving now will share
        self._runner: asyncio.Task[None] | None = None

    async def read(self) -> int | None:
        try:
            return self._read_sqlite() if self.is_sqlite else await self._read_pg()
        except Exception as exc:  # noqa: BLE001 - a broken connection: retried on the next request
            log.warning("catalogue generation unreadable (%s): listing without the page cache", exc)
            self.close()
            return None

    def _read_sqlite(self) -> int | None:
        if self._sqlite is None:
            path = make_url(self.url).database or ""
            if path in ("", ":memory:"):
                return None  # a private in-memory database: nothing to share, nothing to cache by
            # as_uri percent-encodes what a URI would misread in a path ('?', '#', '%')
            self._sqlite = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True,
                                           isolation_level=None, check_same_thread=False, timeout=5)
        row = self._sqlite.execute(_READ).fetchone()
        return None if row is None else int(row[0])

    async def _read_pg(self) -> int | None:
        """Requests that arrive while a read is on its way share the next one, which starts after they all
        arrived: each sees every write committed before it came, and one connection serves any request rate
        (one round trip at a time, however many requests wait)."""
        loop = asyncio.get_running_loop()
        if self._next is None:
            self._next = loop.create_future()
            if self._runner is None or self._runner.done():
                self._runner = loop.create_task(self._run_reads())
        # shielded: a request that goes away must not cancel the read the others wait for
        return await asyncio.shield(self._next)

    async def _run_reads(self) -> None:
        while self._next is not None:
            waiting, self._next = self._next, None  # who arrives from here on waits for the next read
            try:
                value = await self._query_pg()
            except Exception as exc:  # noqa: BLE001 - handed to the waiting requests
                self._close_pg()
                waiting.set_exception(exc)
            else:
                waiting.set_result(value)

    async def _query_pg(self) -> int | None:
        import psycopg

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
        self._close_pg()

    def _close_pg(self) -> None:
        if self._pg is not None:
            pg, self._pg = self._pg, None
            with contextlib.suppress(RuntimeError):  # outside the loop (shutdown): the process is ending
                asyncio.get_running_loop().create_task(pg.close())
