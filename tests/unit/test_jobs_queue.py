"""The job queue against a real database (SQLite, or PostgreSQL in the other pass): states, the
depth the metrics read, pruning of old finished jobs, and the ticker that keeps periodic work going."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update

from hubd.db.engine import Database
from hubd.db.schema import jobs
from hubd.jobs.queue import (
    KEEP_DONE_SECONDS,
    KEEP_FAILED_SECONDS,
    MAX_ATTEMPTS,
    Job,
    JobState,
    claim,
    depth,
    enqueue,
    fail,
    finish,
    prune,
)
from hubd.jobs.worker import Ticker
from tests.backends import BACKEND, new_database


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(new_database() if BACKEND == "postgres-s3" else f"sqlite:///{tmp_path / 'q.db'}")
    database.create_schema()
    return database


def states(db: Database) -> dict[int, str]:
    with db.read() as conn:
        return {r.id: r.state for r in conn.execute(select(jobs.c.id, jobs.c.state))}


def test_life_of_jobs_and_the_depth_metrics_read(db: Database) -> None:
    with db.write() as conn:
        enqueue(conn, "derive", None, {"n": 1})
        enqueue(conn, "derive", None, {"n": 2})  # the same job waiting: deduplicated
        enqueue(conn, "parquet", None)
    assert sorted(depth(db)) == [("derive", JobState.QUEUED, 1), ("parquet", JobState.QUEUED, 1)]
    job = claim(db, ("derive",))
    assert job is not None and job.kind == "derive" and job.attempts == 1
    assert sorted(depth(db)) == [("derive", JobState.RUNNING, 1), ("parquet", JobState.QUEUED, 1)]
    finish(db, job)
    other = claim(db)
    assert other is not None and other.kind == "parquet"
    fail(db, other, "boom")  # a first failure: queued again, with back-off
    assert states(db)[other.id] == "queued"
    fail(db, Job(other.id, other.kind, other.repo_id, other.payload, MAX_ATTEMPTS), "boom")  # the last attempt
    assert states(db) == {job.id: "done", other.id: "failed"}
    assert depth(db) == []


def test_prune_keeps_recent_and_unfinished_jobs(db: Database) -> None:
    now = time.time()
    with db.write() as conn:
        for kind in ["old-done", "new-done", "old-failed", "month-failed", "queued"]:
            enqueue(conn, kind)
        ages = {"old-done": (JobState.DONE, KEEP_DONE_SECONDS + 60), "new-done": (JobState.DONE, 60),
                "old-failed": (JobState.FAILED, KEEP_FAILED_SECONDS + 60),
                "month-failed": (JobState.FAILED, KEEP_DONE_SECONDS + 60)}
        for kind, (state, age) in ages.items():
            conn.execute(update(jobs).where(jobs.c.kind == kind).values(state=state, finished_at=now - age))
    with db.write() as conn:
        assert prune(conn, now) == 2
    with db.read() as conn:
        left = sorted(r.kind for r in conn.execute(select(jobs.c.kind)))
    assert left == ["month-failed", "new-done", "queued"]


def test_ticker_runs_while_nothing_else_does_and_stops() -> None:
    calls: list[float] = []
    ticked = threading.Event()

    def tick() -> None:
        calls.append(time.monotonic())
        if len(calls) == 3:
            ticked.set()
        if len(calls) == 2:
            raise RuntimeError("a failing tick is logged; the next one still comes")

    ticker = Ticker(tick, 0.05, "test-ticker")
    ticker.start()
    assert ticked.wait(10)
    ticker.stop()
    n = len(calls)
    time.sleep(0.2)
    assert len(calls) == n and not ticker.thread.is_alive()
