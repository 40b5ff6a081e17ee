"""Revisions and refs: resolving a revision to a commit, and moving refs by compare-and-swap only."""

from __future__ import annotations

import re
import time

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from hubd.db.engine import Database
from hubd.db.inserts import insert_if_absent
from hubd.db.schema import refs, repo_commits, repos
from hubd.hub.errors import RevisionNotFound
from hubd.hub.models import Repo

MAIN = "refs/heads/main"
# An annotated tag pushed with git: `refs/tags/NAME` targets the commit it peels to (what every API reader
# expects of a ref), and a row under this prefix keeps the tag object itself for git. Users cannot make refs
# here (pushes and the API only make branches, tags and refs/pr/N), and Refs.all hides them.
TAG_OBJECTS = "refs/tag-objects/"
_SHORT_SHA = re.compile(r"^[0-9a-f]{5,39}$")
_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")


class RefConflict(Exception):
    """The ref was not at the expected commit: somebody else moved it first."""


# Revision names the clients send that are not refs: HEAD is the default branch (the JS client's default),
# ~parquet the parquet export (DuckDB's and fsspec's hf://…@~parquet).
ALIASES = {"HEAD": MAIN, "~parquet": "refs/convert/parquet"}


def ref_candidates(rev: str) -> list[str]:
    rev = ALIASES.get(rev, rev)
    if rev.startswith("refs/"):
        return [rev]
    return [f"refs/heads/{rev}", f"refs/tags/{rev}"]


class Refs:
    def __init__(self, db: Database) -> None:
        self.db = db

    def resolve(self, repo: Repo, rev: str) -> str:
        """Branch, tag, full ref name, full or short commit sha → the commit's full sha."""
        with self.db.read() as conn:
            for name in ref_candidates(rev):
                target = conn.execute(
                    select(refs.c.target).where((refs.c.repo_id == repo.id) & (refs.c.name == name))
                ).scalar()
                if target:
                    return str(target)
            if _FULL_SHA.match(rev):
                found = conn.execute(
                    select(repo_commits.c.sha).where(
                        (repo_commits.c.repo_id == repo.id) & (repo_commits.c.sha == rev)
                    )
                ).scalar()
                if found:
                    return rev
            elif _SHORT_SHA.match(rev):
                found_all = conn.execute(
                    select(repo_commits.c.sha)
                    .where((repo_commits.c.repo_id == repo.id) & (repo_commits.c.sha.startswith(rev)))
                    .limit(2)
                ).scalars().all()
                if len(found_all) == 1:
                    return str(found_all[0])
        raise RevisionNotFound(f"Invalid rev id: {rev}")

    def get(self, repo: Repo, name: str) -> str | None:
        with self.db.read() as conn:
            return conn.execute(
                select(refs.c.target).where((refs.c.repo_id == repo.id) & (refs.c.name == name))
            ).scalar()

    def all(self, repo: Repo) -> list[tuple[str, str]]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(refs.c.name, refs.c.target).where(refs.c.repo_id == repo.id).order_by(refs.c.name)
            ).all()
        return [(r.name, r.target) for r in rows if not r.name.startswith(TAG_OBJECTS)]

    def tag_objects(self, repo: Repo) -> dict[str, str]:
        """Tag name (refs/tags/NAME) → the annotated tag object pushed for it."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(refs.c.name, refs.c.target).where(
                    (refs.c.repo_id == repo.id) & refs.c.name.startswith(TAG_OBJECTS))
            ).all()
        return {"refs/tags/" + r.name[len(TAG_OBJECTS):]: r.target for r in rows}

    def branch_ref(self, repo: Repo, rev: str) -> str:
        """The ref a commit to `rev` moves: an existing branch or refs/pr/N."""
        rev = "main" if rev == "HEAD" else rev
        name = rev if rev.startswith("refs/pr/") else f"refs/heads/{rev}"
        if rev.startswith("refs/heads/"):
            name = rev
        if self.get(repo, name) is None:
            raise RevisionNotFound(f"Invalid rev id: {rev}")
        return name


def set_tag_object(conn: Connection, repo_id: int, tag_ref: str, tag_sha: str) -> None:
    """Keep the annotated tag object of `tag_ref` (after cas_ref created the ref itself at its commit)."""
    conn.execute(insert(refs).values(repo_id=repo_id, name=TAG_OBJECTS + tag_ref[len("refs/tags/"):],
                                     target=tag_sha))


def add_if_new(conn: Connection, repo_id: int, name: str, new: str) -> None:
    """Create ref `name` at `new` inside the caller's transaction, or raise RefConflict if it exists."""
    cas_ref(conn, repo_id, name, None, new)


def set_if_equals(conn: Connection, repo_id: int, name: str, old: str, new: str) -> None:
    """Move ref `name` from `old` to `new`, or raise RefConflict if it is not at `old` any more."""
    cas_ref(conn, repo_id, name, old, new)


def remove_if_equals(conn: Connection, repo_id: int, name: str, old: str) -> None:
    """Delete ref `name` if it is still at `old`, or raise RefConflict."""
    cas_ref(conn, repo_id, name, old, None)


def cas_ref(conn: Connection, repo_id: int, name: str, old: str | None, new: str | None) -> None:
    """Compare-and-swap of one ref inside the caller's transaction, for callers whose `old` and `new` may
    each be absent (a pushed ref update, a mirrored ref): None for `old` means "must not exist", None for
    `new` means "delete". Raises RefConflict when the ref is not at `old`."""
    if old is None:
        try:
            with conn.begin_nested():
                conn.execute(insert(refs).values(repo_id=repo_id, name=name, target=new))
        except IntegrityError:
            raise RefConflict(name) from None
    elif new is None:
        res = conn.execute(
            refs.delete().where((refs.c.repo_id == repo_id) & (refs.c.name == name) & (refs.c.target == old))
        )
        if res.rowcount != 1:
            raise RefConflict(name)
    else:
        res = conn.execute(
            update(refs)
            .where((refs.c.repo_id == repo_id) & (refs.c.name == name) & (refs.c.target == old))
            .values(target=new)
        )
        if res.rowcount != 1:
            raise RefConflict(name)
    if name.startswith("refs/tags/"):
        # whatever moves or deletes a tag (a push, the API) drops the annotated tag object kept for it
        conn.execute(refs.delete().where(
            (refs.c.repo_id == repo_id) & (refs.c.name == TAG_OBJECTS + name[len("refs/tags/"):])))
    if new is not None:
        record_commit(conn, repo_id, new)
        if name == MAIN:
            conn.execute(update(repos).where(repos.c.id == repo_id).values(head_sha=new))
    conn.execute(update(repos).where(repos.c.id == repo_id).values(last_modified=time.time()))


def record_commit(conn: Connection, repo_id: int, sha: str) -> None:
    insert_if_absent(conn, repo_commits, repo_id=repo_id, sha=sha)

