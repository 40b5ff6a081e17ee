"""Generation counters: a number in a one-row table that every committed change to some tables bumps, by
triggers (so no write path can forget it), and that a request reads once to know whether what it cached
under the number is current — on every replica, since the number lives in the shared database. Two
counters use it: the catalogue (listing pages, hub/listing cache) and access (principals and access
decisions of the hot read paths, hub/accesscache.py).

SQLite bumps a counter per changed row (one writer at a time, an in-process UPDATE costs about a
microsecond). PostgreSQL bumps it once per transaction, at commit: a deferred constraint trigger queued
only for the first changed row (its WHEN marks the transaction in a transaction-local setting). Taking the
row's lock as the very last thing a transaction does means no writer waits on it while holding other row
locks, so it cannot deadlock with them, and the new number becomes visible together with the data it
stands for.

A reader reads the number before it reads the data: what it builds then is at least as new as the number
it is stored under (a write that commits in between makes it newer, never staler).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

log = logging.getLogger("hubd.db")


@dataclass(frozen=True)
class Counter:
    """One counter: the row of `{name}_state`, the tables (and events) that bump it, triggers named after it."""

    name: str
    tables: dict[str, str]  # table -> its events, as PostgreSQL writes them ("INSERT OR UPDATE OF a, b")
    lock_id: int  # advisory lock serialising replicas that create the PostgreSQL triggers together

    @property
    def bump_sql(self) -> str:
        return f"UPDATE {self.name}_state SET generation = generation + 1 WHERE id = 1"

    @property
    def read_sql(self) -> str:
        return f"SELECT generation FROM {self.name}_state WHERE id = 1"

    def trigger_names(self, is_sqlite: bool) -> list[str]:
        if is_sqlite:
            return [f"{self.name}_gen_{table}_{clause.split()[0].lower()}"
                    for table, events in self.tables.items() for clause in events.split(" OR ")]
        return [f"hubd_{self.name}_{table}" for table in self.tables]


# What a listing item shows (repos.next_discussion, created_by, derived_sha change nothing listed).
_REPO_COLUMNS = ("type", "namespace", "name", "private", "gated", "sdk", "created_at", "last_modified", "head_sha",
                 "search_id", "downloads", "downloads_all_time", "likes", "trending_score", "pipeline_tag",
                 "library_name", "used_storage")
CATALOG = Counter("catalog", {
    "repos": f"INSERT OR DELETE OR UPDATE OF {', '.join(_REPO_COLUMNS)}",
    "repo_meta": "INSERT OR DELETE OR UPDATE", "repo_tags": "INSERT OR DELETE OR UPDATE"}, 7243312)
# Who may read what: repos (created, deleted, renamed, moved, made private or public, gated), their
# redirects, accounts (renamed, admin, disabled, deleted), memberships, tokens (anything but last_used_at),
# access requests. A table of its own: the catalogue moves with every download count.
ACCESS = Counter("access", {
    "repos": "INSERT OR DELETE OR UPDATE OF type, namespace, name, private, gated, search_id",
    "repo_redirects": "INSERT OR DELETE OR UPDATE",
    "accounts": "DELETE OR UPDATE OF name, kind, is_admin, disabled",
    "memberships": "INSERT OR DELETE OR UPDATE",
    "tokens": "DELETE OR UPDATE OF user_id, role, token_hash, scopes, expires_at",
    "access_requests": "INSERT OR DELETE OR UPDATE",
}, 7243313)


def _sqlite_triggers(counter: Counter) -> list[str]:
    out = []
    for table, events in counter.tables.items():
        for clause in events.split(" OR "):
            name = f"{counter.name}_gen_{table}_{clause.split()[0].lower()}"
            out.append(f"DROP TRIGGER IF EXISTS {name}")  # replaced: always the current body
            out.append(f"CREATE TRIGGER {name} AFTER {clause} ON {table} BEGIN {counter.bump_sql}; END")
    return out


def _pg_functions(counter: Counter) -> tuple[str, str]:
    n = counter.name
    return (
        f"""CREATE OR REPLACE FUNCTION hubd_{n}_first() RETURNS boolean LANGUAGE plpgsql AS $$
    BEGIN
      IF current_setting('hubd.{n}_changed', true) = '1' THEN RETURN false; END IF;
      PERFORM set_config('hubd.{n}_changed', '1', true);
      RETURN true;
    END $$""",
        f"""CREATE OR REPLACE FUNCTION hubd_{n}_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN {counter.bump_sql}; RETURN NULL; END $$""",
    )


def create_triggers(engine: Engine, is_sqlite: bool, counter: Counter) -> None:
    """Idempotent; run at every start after the migrations (a SQLite table rebuild drops its triggers). SQLite's
    are recreated each time (cheap, one transaction), so a hub always runs the current trigger bodies."""
    with engine.begin() as conn:
        conn.exec_driver_sql(f"INSERT INTO {counter.name}_state (id, generation) VALUES (1, 0) "
                             "ON CONFLICT (id) DO NOTHING")
        if is_sqlite:
            for stmt in _sqlite_triggers(counter):
                conn.exec_driver_sql(stmt)
            return
        wanted = set(counter.trigger_names(False))

        def present() -> set[str]:
            return {name for (name,) in conn.exec_driver_sql(
                f"SELECT tgname FROM pg_trigger WHERE tgname LIKE 'hubd_{counter.name}_%%'").all()}

        if present() >= wanted:
            return
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({counter.lock_id})")  # replicas starting together
        have = present()
        for stmt in _pg_functions(counter):
            conn.exec_driver_sql(stmt)
        for table, events in counter.tables.items():
            name = f"hubd_{counter.name}_{table}"
            if name not in have:
                conn.exec_driver_sql(
                    f"CREATE CONSTRAINT TRIGGER {name} AFTER {events} ON {table} DEFERRABLE INITIALLY DEFERRED "
                    f"FOR EACH ROW WHEN (hubd_{counter.name}_first()) EXECUTE FUNCTION hubd_{counter.name}_bump()")


class GenerationReader:
    """Reads the generation from the event loop without a thread hop: SQLite through a connection of its
    own (a WAL read never waits for the writer), PostgreSQL through one asyncio connection per process.
    None when it cannot be read: the caller then bypasses what it caches under the number."""

    def __init__(self, url: str, is_sqlite: bool, counter: Counter) -> None:
        self.url, self.is_sqlite, self.counter = url, is_sqlite, counter
        self._sqlite: sqlite3.Connection | None = None
        self._sqlite_version: int | None = None
        self._sqlite_generation: int | None = None
        self._pg: Any = None
        self._next: asyncio.Future[int | None] | None = None  # the read the requests arriving now will share
        self._runner: asyncio.Task[None] | None = None

    async def read(self) -> int | None:
        try:
            return self._read_sqlite() if self.is_sqlite else await self._read_pg()
        except Exception as exc:  # noqa: BLE001 - a broken connection: retried on the next request
            log.warning("%s generation unreadable (%s): its caches are bypassed", self.counter.name, exc)
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
        # data_version changes whenever another connection has committed: while it stands still, the number
        # read last is still the number (half the cost of the query, a sixth of a cached listing's Python time)
        version = self._sqlite.execute("PRAGMA data_version").fetchone()[0]
        if version == self._sqlite_version and self._sqlite_generation is not None:
            return self._sqlite_generation
        row = self._sqlite.execute(self.counter.read_sql).fetchone()
        self._sqlite_version, self._sqlite_generation = version, None if row is None else int(row[0])
        return self._sqlite_generation

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
        cur = await self._pg.execute(self.counter.read_sql)
        row = await cur.fetchone()
        return None if row is None else int(row[0])

    def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = self._sqlite_version = self._sqlite_generation = None
        self._close_pg()

    def _close_pg(self) -> None:
        if self._pg is not None:
            pg, self._pg = self._pg, None
            with contextlib.suppress(RuntimeError):  # outside the loop (shutdown): the process is ending
                asyncio.get_running_loop().create_task(pg.close())
