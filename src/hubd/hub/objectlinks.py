"""Which large objects each repo links: the record that makes stored content readable through a repo
(ARCHITECTURE note 7: bytes are stored once for everyone, read only through a repo that links them)."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select, update

from hubd.db.engine import Database
from hubd.db.inserts import insert_if_absent
from hubd.db.schema import repo_objects
from hubd.hub.models import Repo


class LinkedObject(NamedTuple):
    """A large object as linked to one repo: its size, and its Xet file hash when Xet keeps its bytes."""

    size: int
    xet_hash: str | None


class ObjectLinks:
    def __init__(self, db: Database) -> None:
        self.db = db

    def link(self, repo_id: int, oid: str, size: int, xet_hash: str | None = None) -> None:
        """Record that `oid` was uploaded for this repo (its bytes are already stored)."""
        with self.db.write() as conn:
            inserted = insert_if_absent(conn, repo_objects, repo_id=repo_id, oid=oid, size=size, xet_hash=xet_hash)
            if not inserted and xet_hash is not None:
                conn.execute(update(repo_objects).where(
                    (repo_objects.c.repo_id == repo_id) & (repo_objects.c.oid == oid)).values(xet_hash=xet_hash))

    def linked(self, repo_id: int, oids: list[str]) -> dict[str, LinkedObject]:
        """oid → (size, xet hash or None) for those of `oids` linked to the repo, in one query."""
        if not oids:
            return {}
        with self.db.read() as conn:
            rows = conn.execute(select(repo_objects.c.oid, repo_objects.c.size, repo_objects.c.xet_hash).where(
                (repo_objects.c.repo_id == repo_id) & repo_objects.c.oid.in_(oids))).all()
        return {r.oid: LinkedObject(int(r.size), r.xet_hash) for r in rows}

    def get(self, repo_id: int, oid: str) -> LinkedObject | None:
        """(size, xet hash or None) of a large object linked to the repo, or None."""
        return self.linked(repo_id, [oid]).get(oid)

    def copy(self, source: Repo, target: Repo, oids: list[str]) -> list[str]:
        """Link to `target` the large objects `source` links (the caller may download `source` and write to
        `target`); returns the oids `source` does not link, which are not copied."""
        known = self.linked(source.id, oids)
        for oid, linked in known.items():
            self.link(target.id, oid, linked.size, linked.xet_hash)
        return [oid for oid in oids if oid not in known]

    def has_xet_file(self, repo_id: int, xet_hash: str) -> bool:
        with self.db.read() as conn:
            row = conn.execute(select(repo_objects.c.oid).where(
                (repo_objects.c.repo_id == repo_id) & (repo_objects.c.xet_hash == xet_hash)).limit(1)).first()
        return row is not None

    def xet_hashes(self, repo_id: int, oids: list[str]) -> dict[str, str]:
        """sha256 → xet file hash for those of `oids` whose bytes this repo keeps in Xet."""
        return {oid: xet for oid, (_size, xet) in self.linked(repo_id, oids).items() if xet}
