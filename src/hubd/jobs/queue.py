"""Jobs in SQL: enqueued inside the transaction that makes them necessary, claimed by one worker at a
time (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's single writer gives the same), leased, retried."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from hubd.db.engine import Database
from hubd.db.schema import jobs

LEASE_SECONDS = 300
MAX_ATTEMPTS = 5
# Finished jobs are kept a while for `hubd` operators to read, then pruned (by the hourly recount job):
# done ones after a week, failed ones (the record of what went wrong) after a month.
KEEP_DONE_SECONDS = 7 * 86400
KEEP_FAILED_SECONDS = 30 * 86400


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"  # leased by a worker until locked_until
    DONE = "done"
    FAILED = "failed"  # after MAX_ATTEMPTS: kept, never retried


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    repo_id: int | None
    payload: dict[str, Any]
    attempts: int


def enqueue(conn: Connection, kind: str, repo_id: int | None = None, payload: dict | None = None,
            run_after: float | None = None, dedup: bool = True) -> None:
    """Add a job unless the same one is already waiting (a repo derived once for many quick commits);
    `dedup=False` for jobs that are each distinct (one webhook delivery per event)."""
    now = time.time()
    waiting = None if not dedup else conn.execute(
        select(jobs.c.id).where(
            (jobs.c.kind == kind) & (jobs.c.state == JobState.QUEUED)
            & (jobs.c.repo_id.is_(None) if repo_id is None else jobs.c.repo_id == repo_id)
        ).limit(1)
    ).first()
    if waiting is None:
        conn.execute(insert(jobs).values(
            kind=kind, repo_id=repo_id, payload=payload or {}, state=JobState.QUEUED, attempts=0,
            run_after=run_after if run_after is not None else now, created_at=now,
        ))


def claim(db: Database, kinds: tuple[str, ...] | None = None) -> Job | None:
    """The next ready job, of `kinds` when given (webhook deliveries have workers of their own)."""
    now = time.time()
    ready = or_(
        and_(jobs.c.state == JobState.QUEUED, jobs.c.run_after <= now),
        and_(jobs.c.state == JobState.RUNNING, jobs.c.locked_until < now),  # a worker died holding it
    )
    if kinds is not None:
        ready = and_(ready, jobs.c.kind.in_(kinds))
    pick = select(jobs.c.id).where(ready).order_by(jobs.c.run_after, jobs.c.id).limit(1)
    if not db.is_sqlite:
        pick = pick.with_for_update(skip_locked=True)
    else:
        # SQLite has one writer: idle workers polling would take the write lock from commits several times
        # a second, so they look first with a read
        with db.read() as conn:
            if conn.execute(pick).scalar() is None:
                return None
    with db.write() as conn:
        job_id = conn.execute(pick).scalar()
        if job_id is None:
            return None
        row = conn.execute(
            update(jobs).where(jobs.c.id == job_id)
            .values(state=JobState.RUNNING, locked_until=now + LEASE_SECONDS, attempts=jobs.c.attempts + 1)
            .returning(jobs.c.id, jobs.c.kind, jobs.c.repo_id, jobs.c.payload, jobs.c.attempts)
        ).one()
    return Job(row.id, row.kind, row.repo_id, row.payload or {}, row.attempts)


class Postpone(Exception):  # noqa: N818 - a request to the worker, not an error
    """Raised by a job handler that cannot run this job now (not a failure: no attempt is counted)."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"postponed by {delay:g} s")
        self.delay = delay


def postpone(db: Database, job: Job, delay: float) -> None:
    with db.write() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job.id).values(
            state=JobState.QUEUED, attempts=jobs.c.attempts - 1, locked_until=None, run_after=time.time() + delay))


def finish(db: Database, job: Job) -> None:
    with db.write() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job.id).values(
            state=JobState.DONE, finished_at=time.time(), last_error=None, locked_until=None))


def fail(db: Database, job: Job, error: str) -> None:
    """Retry with exponential back-off; after MAX_ATTEMPTS the failure stays recorded, never a crash loop."""
    final = job.attempts >= MAX_ATTEMPTS
    with db.write() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job.id).values(
            state=JobState.FAILED if final else JobState.QUEUED, last_error=error[-4000:], locked_until=None,
            run_after=time.time() + min(600, 2 ** job.attempts), finished_at=time.time() if final else None,
        ))


def depth(db: Database) -> list[tuple[str, str, int]]:
    """(kind, state, count) of the jobs waiting or running: the queue gauges of /metrics."""
    with db.read() as conn:
        rows = conn.execute(select(jobs.c.kind, jobs.c.state, func.count()).where(
            jobs.c.state.in_([JobState.QUEUED, JobState.RUNNING])).group_by(jobs.c.kind, jobs.c.state)).all()
    return [(kind, state, int(n)) for kind, state, n in rows]


def prune(conn: Connection, now: float | None = None) -> int:
    """Delete jobs finished long enough ago (the table would otherwise grow with every commit)."""
    now = time.time() if now is None else now
    result = conn.execute(delete(jobs).where(
        ((jobs.c.state == JobState.DONE) & (jobs.c.finished_at < now - KEEP_DONE_SECONDS))
        | ((jobs.c.state == JobState.FAILED) & (jobs.c.finished_at < now - KEEP_FAILED_SECONDS))))
    return int(result.rowcount or 0)
