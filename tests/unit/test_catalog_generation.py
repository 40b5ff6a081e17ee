"""The catalogue generation against a real database: every committed change to what a listing shows bumps
it (through triggers), a change to nothing listed does not, and a rolled-back one leaves it alone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import insert, update

from hubd.db.engine import Database
from hubd.db.schema import repo_meta, repo_tags, repos
from tests.backends import BACKEND, new_database


@pytest.fixture
def db(tmp_path: Path) -> Database:
    url = new_database() if BACKEND == "postgres-s3" else f"sqlite:///{tmp_path / 'g.db'}"
    database = Database(url)
    database.create_schema()
    yield database
    database.dispose()


def _row(i: int) -> dict:
    return {"id": i, "type": "model", "namespace": "u", "name": f"m{i}", "search_id": f"u/m{i}", "private": False,
            "gated": "", "created_at": 0.0, "last_modified": 0.0, "next_discussion": 1}


def test_changes_to_listed_tables_bump_the_generation(db: Database) -> None:
    async def scenario() -> None:
        read = db.generation.read
        start = await read()
        assert start is not None
        with db.write() as conn:
            conn.execute(insert(repos), [_row(1), _row(2)])
        after_insert = await read()
        assert after_insert is not None and after_insert > start
        with db.write() as conn:
            conn.execute(update(repos).where(repos.c.id == 1).values(next_discussion=2))  # listed nowhere
        assert await read() == after_insert
        for change in (update(repos).where(repos.c.id == 1).values(private=True),
                       update(repos).values(downloads=repos.c.downloads + 1),
                       insert(repo_tags).values(repo_id=2, tag="t"),
                       insert(repo_meta).values(repo_id=2, tags=["t"], listing='"tags":["t"]')):
            before = await read()
            with db.write() as conn:
                conn.execute(change)
            now = await read()
            assert now is not None and before is not None and now > before, change
        before = await read()
        with pytest.raises(RuntimeError), db.write() as conn:
            conn.execute(update(repos).values(likes=5))
            raise RuntimeError("rolled back")
        assert await read() == before

    asyncio.run(scenario())


@pytest.mark.skipif(BACKEND != "postgres-s3", reason="other backend: PostgreSQL bumps once per transaction")
def test_postgres_bumps_once_per_transaction(db: Database) -> None:
    async def scenario() -> None:
        before = await db.generation.read()
        with db.write() as conn:
            conn.execute(insert(repos), [_row(i) for i in range(10, 60)])
            conn.execute(update(repos).values(likes=1))
        assert await db.generation.read() == (before or 0) + 1
        db.generation.close()

    asyncio.run(scenario())


def test_concurrent_reads_see_writes_committed_before_them(db: Database) -> None:
    """Concurrent requests share generation reads (PostgreSQL): never one that started before they arrived."""
    async def scenario() -> None:
        first = await asyncio.gather(*(db.generation.read() for _ in range(50)))
        assert len(set(first)) == 1 and first[0] is not None
        with db.write() as conn:
            conn.execute(insert(repos), [_row(100)])
        after = await asyncio.gather(*(db.generation.read() for _ in range(50)))
        assert all(g is not None and g > first[0] for g in after)
        db.generation.close()

    asyncio.run(scenario())
