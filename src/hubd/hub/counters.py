"""Downloads, likes and trending: counted cheaply on the hot path, summed into listing columns."""

from __future__ import annotations

import threading
import time
from collections import Counter

from sqlalchemy import delete, func, insert, or_, select, update

from hubd.db.engine import Database
from hubd.db.inserts import insert_if_absent
from hubd.db.schema import accounts, downloads_daily, likes, repos
from hubd.hub.errors import Conflict
from hubd.jobs.queue import enqueue, prune

DAY = 86400
RECOUNT_EVERY = 3600
# paths never counted as a download: metadata every client fetches alongside the real thing
_NOT_DOWNLOADS = ("README.md", ".gitattributes")


def counts_as_download(path: str, repo_has_config: bool) -> bool:
    """config.json when the repo has one (as the Hub counts transformers models), else any content file."""
    if repo_has_config:
        return path == "config.json"
    return path not in _NOT_DOWNLOADS


class DownloadCounter:
    """Counts in memory and adds them to the database every few seconds: a resolve GET never writes SQL.
    A crash loses at most the counts of the last flush interval."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.pending: Counter[int] = Counter()
        self.lock = threading.Lock()

    def hit(self, repo_id: int) -> None:
        with self.lock:
            self.pending[repo_id] += 1

    def flush(self) -> None:
        with self.lock:
            pending, self.pending = self.pending, Counter()
        if not pending:
            return
        day = int(time.time() // DAY)
        with self.db.write() as conn:
            for repo_id, n in pending.items():
                updated = conn.execute(update(downloads_daily).where(
                    (downloads_daily.c.repo_id == repo_id) & (downloads_daily.c.day == day))
                    .values(count=downloads_daily.c.count + n)).rowcount
                if not updated:
                    if conn.execute(select(repos.c.id).where(repos.c.id == repo_id)).first() is None:
                        continue  # deleted meanwhile
                    conn.execute(insert(downloads_daily).values(repo_id=repo_id, day=day, count=n))
                conn.execute(update(repos).where(repos.c.id == repo_id).values(
                    downloads=repos.c.downloads + n, downloads_all_time=repos.c.downloads_all_time + n))


def recount(db: Database) -> None:
    """Recompute the 30-day downloads and the trending score (one set-based UPDATE, touching only repos
    whose values change), prune finished jobs, then schedule the next recount."""
    today = int(time.time() // DAY)
    now = time.time()
    recent = downloads_daily.alias("recent")
    month = (select(func.coalesce(func.sum(recent.c.count), 0))
             .where((recent.c.repo_id == repos.c.id) & (recent.c.day > today - 30)).scalar_subquery())
    week = (select(func.coalesce(func.sum(recent.c.count * (7 - (today - recent.c.day)) / 7.0), 0.0))
            .where((recent.c.repo_id == repos.c.id) & (recent.c.day > today - 7)).scalar_subquery())
    fresh_likes = (select(func.count()).select_from(likes)
                   .where((likes.c.repo_id == repos.c.id) & (likes.c.created_at > now - 7 * DAY)).scalar_subquery())
    active = or_(repos.c.downloads > 0, repos.c.trending_score > 0,
                 repos.c.id.in_(select(downloads_daily.c.repo_id).where(downloads_daily.c.day > today - 30)),
                 repos.c.id.in_(select(likes.c.repo_id).where(likes.c.created_at > now - 7 * DAY)))
    trending = week + 10 * fresh_likes
    with db.write() as conn:
        conn.execute(update(repos).where(active & or_(repos.c.downloads != month, repos.c.trending_score != trending))
                     .values(downloads=month, trending_score=trending))
        conn.execute(delete(downloads_daily).where(downloads_daily.c.day <= today - 366))
        prune(conn, now)  # hourly is often enough for finished jobs, and this job already runs hourly
        enqueue(conn, "recount", None, run_after=now + RECOUNT_EVERY)
    db.analyze()


class Likes:
    """Who likes which repo; each repo's like count is kept beside it for listings."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def like(self, user_id: int, repo_id: int) -> None:
        with self.db.write() as conn:
            if not insert_if_absent(conn, likes, user_id=user_id, repo_id=repo_id, created_at=time.time()):
                raise Conflict("You already liked this repo")
            conn.execute(update(repos).where(repos.c.id == repo_id).values(likes=repos.c.likes + 1))

    def unlike(self, user_id: int, repo_id: int) -> None:
        with self.db.write() as conn:
            gone = conn.execute(delete(likes).where((likes.c.user_id == user_id) & (likes.c.repo_id == repo_id))
                                ).rowcount
            if gone:
                conn.execute(update(repos).where(repos.c.id == repo_id).values(likes=repos.c.likes - 1))

    def likes(self, user_id: int, repo_id: int) -> bool:
        with self.db.read() as conn:
            return conn.execute(select(likes.c.repo_id).where(
                (likes.c.repo_id == repo_id) & (likes.c.user_id == user_id))).first() is not None

    def likers(self, repo_id: int) -> list[dict]:
        with self.db.read() as conn:
            rows = conn.execute(select(accounts.c.name, accounts.c.fullname)
                                .join(likes, likes.c.user_id == accounts.c.id)
                                .where(likes.c.repo_id == repo_id).order_by(likes.c.created_at.desc())).mappings()
            return [dict(r) for r in rows]

    def liked_by(self, user_id: int) -> list[dict]:
        with self.db.read() as conn:
            rows = conn.execute(select(repos.c.type, repos.c.namespace, repos.c.name, likes.c.created_at)
                                .join(likes, likes.c.repo_id == repos.c.id).where(likes.c.user_id == user_id)
                                .order_by(likes.c.created_at.desc())).mappings()
            return [dict(r) for r in rows]
