"""Engine construction and the two kinds of transaction hubd uses (read, write)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from hubd.db.generation import ACCESS, CATALOG, GenerationReader, create_triggers
from hubd.db.search import create_search_index
from hubd.db.tagsort import create_tagsort_triggers


class Database:
    def __init__(self, url: str) -> None:
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]  # psycopg 3, not SQLAlchemy's psycopg2 default
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.has_trigram_index = False
        # read per request from the event loop: listing pages (catalogue) and hot-path access decisions
        self.generation = GenerationReader(url, self.is_sqlite, CATALOG)
        self.access_generation = GenerationReader(url, self.is_sqlite, ACCESS)
        if self.is_sqlite:
            if parsed.database:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                url, pool_size=16, max_overflow=32, connect_args={"check_same_thread": False, "timeout": 60}
            )
            _configure_sqlite(self.engine)
        else:
            # prepare_threshold=None: no server-side prepared statements, so PostgreSQL plans every listing
            # for its actual parameters (a generic plan is 100x slower for a big author or a rare tag)
            self.engine = create_engine(url, pool_size=16, max_overflow=32, pool_pre_ping=True,
                                        connect_args={"prepare_threshold": None})

    def create_schema(self) -> None:
        """Migrate to the newest schema, then the backend's search index (idempotent both)."""
        from hubd.db.migrate import upgrade

        upgrade(self)
        self.has_trigram_index = create_search_index(self.engine, self.is_sqlite)
        for counter in (CATALOG, ACCESS):
            create_triggers(self.engine, self.is_sqlite, counter)
        create_tagsort_triggers(self.engine, self.is_sqlite)
        self.analyze()

    def analyze(self) -> None:
        """Fresh planner statistics. PostgreSQL's autovacuum keeps its own; SQLite has none unless asked,
        and without them it drives rare-tag and search queries from the wrong index."""
        if self.is_sqlite:
            with self.write() as conn:
                conn.exec_driver_sql("ANALYZE")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that takes SQLite's write lock up front, so two writers never deadlock."""
        with self.engine.connect().execution_options(hubd_write=True) as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.generation.close()
        self.engine.dispose()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's implicit BEGIN is deferred only).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("hubd_write") else "BEGIN")
