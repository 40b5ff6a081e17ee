"""Garbage collection: delete stored content that nothing can reach any more.

Live: every object reachable from any ref or from any commit a repo ever had (those stay readable by sha),
every large object linked to an existing repo (a pointer alone keeps nothing), the Xet files behind them
and every xorb those files use. Anything younger than the grace period is kept too, since an upload in
progress (xorbs before their shard, objects before their commit) is not referenced yet."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import delete, select

from hubd.db.schema import refs, repo_commits, repo_objects, xet_chunks
from hubd.hub.refs import TAG_OBJECTS
from hubd.hub.service import Hub
from hubd.storage.blobstore import BlobNotFound
from hubd.storage.gitwalk import walk


@dataclass
class GcReport:
    live_objects: int = 0
    deleted: int = 0
    deleted_bytes: int = 0
    kept_young: int = 0


def _live_git(hub: Hub) -> set[str]:
    """Git object ids reachable from every ref and recorded commit."""
    with hub.db.read() as conn:
        roots: set[str | tuple[str, str]] = {
            ("tag", r.target) if r.name.startswith(TAG_OBJECTS) else r.target
            for r in conn.execute(select(refs.c.name, refs.c.target))}
        roots |= {r[0] for r in conn.execute(select(repo_commits.c.sha))}
    seen: set[str] = set()

    def read(kind: str, sha: str) -> bytes | None:
        try:
            return hub.git.raw(kind, sha)
        except BlobNotFound:
            return None  # fsck reports missing objects; gc only decides what may go

    for _ in walk(read, roots, seen):
        pass
    return seen


def gc(hub: Hub, grace_seconds: float, dry_run: bool = False) -> GcReport:
    report = GcReport()
    git_live = _live_git(hub)
    with hub.db.read() as conn:
        linked = conn.execute(select(repo_objects.c.oid, repo_objects.c.xet_hash)).all()
    # Only links keep large objects: a pointer names bytes, it never grants or keeps them (invariant 7).
    oids = {r.oid for r in linked}
    xet_files = {r.xet_hash for r in linked if r.xet_hash}
    xorbs: set[str] = set()
    for h in xet_files:
        f = hub.xet.file(h)
        if f is not None:
            xorbs |= {t.xorb for t in f.terms}
    report.live_objects = len(git_live) + len(oids) + len(xet_files) + len(xorbs)
    cutoff = time.time() - grace_seconds

    def is_live(key: str) -> bool:
        name = key.rsplit("/", 1)[-1]
        if key.startswith("git/"):
            return key.split("/")[2] + name in git_live
        if key.startswith("lfs/"):
            return name in oids
        if key.startswith("xet/files/"):
            return name in xet_files
        if key.startswith(("xet/xorbs/", "xet/xorb-index/")):
            return name in xorbs
        return False  # uploads/ and tmp/: parts and staged writes of uploads that never finished

    deleted_xorbs = []
    # the index goes before the data, so a half-deleted xorb reads as absent, never as whole
    for prefix in ("git/", "lfs/", "xet/files/", "xet/xorb-index/", "xet/xorbs/", "uploads/", "tmp/"):
        for key in list(hub.blobs.iter_keys(prefix)):
            if is_live(key):
                continue
            try:
                if hub.blobs.modified(key) > cutoff:
                    report.kept_young += 1
                    continue
                size = hub.blobs.stat(key)
            except BlobNotFound:
                continue
            if not dry_run:
                hub.blobs.delete(key)
            report.deleted += 1
            report.deleted_bytes += size
            if key.startswith("xet/xorb-index/"):
                deleted_xorbs.append(key.rsplit("/", 1)[-1])
    if deleted_xorbs and not dry_run:
        with hub.db.write() as conn:
            conn.execute(delete(xet_chunks).where(xet_chunks.c.xorb.in_(deleted_xorbs)))
    return report
