"""The mirror's cache as an operator sees it: pinned snapshots, sizes per repo, LRU eviction."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, func, insert, select

from hubd.db.schema import mirror_objects, mirror_pins, mirror_repos, repo_objects, repos
from hubd.hub.names import TYPE_PREFIX
from hubd.storage.blobstore import lfs_key


def _pinned_oids(hub: Any) -> set[str]:
    """LFS oids of the files of pinned commits: kept through eviction."""
    with hub.db.read() as conn:
        shas = [r.sha for r in conn.execute(select(mirror_pins.c.sha))]
    return {f.lfs.oid for sha in shas for f in hub.browse.files(sha) if f.lfs is not None}


def evict(hub: Any, limit: int) -> tuple[int, int]:
    """Least recently used unpinned objects go until the filled total fits `limit` bytes. An object a local
    repo also links (uploaded here) is only unlinked from mirrored repos, never deleted."""
    with hub.db.read() as conn:
        total = int(conn.execute(select(func.coalesce(func.sum(mirror_objects.c.size), 0))).scalar_one())
        if total <= limit:
            return 0, 0
        rows = conn.execute(select(mirror_objects.c.oid, mirror_objects.c.size)
                            .order_by(mirror_objects.c.last_used)).all()
    pinned = _pinned_oids(hub)
    dropped = freed = 0
    for row in rows:
        if total <= limit:
            break
        if row.oid in pinned:
            continue
        with hub.db.write() as conn:
            mirrored = select(mirror_repos.c.repo_id)
            conn.execute(delete(repo_objects).where(
                (repo_objects.c.oid == row.oid) & repo_objects.c.repo_id.in_(mirrored)))
            local = conn.execute(select(repo_objects.c.repo_id).where(repo_objects.c.oid == row.oid)).first()
            conn.execute(delete(mirror_objects).where(mirror_objects.c.oid == row.oid))
        if local is None:  # unlinked first, deleted after: a reader never finds a link without bytes
            hub.blobs.delete(lfs_key(row.oid))
        total -= int(row.size)
        dropped += 1
        freed += int(row.size)
    return dropped, freed


def pin(hub: Any, repo: Any, revision: str, sha: str) -> None:
    with hub.db.write() as conn:
        exists = conn.execute(select(mirror_pins.c.sha).where(
            (mirror_pins.c.repo_id == repo.id) & (mirror_pins.c.sha == sha))).first()
        if exists is None:
            conn.execute(insert(mirror_pins).values(repo_id=repo.id, sha=sha, revision=revision, pinned_at=time.time()))


def status(hub: Any) -> list[dict]:
    """One row per mirrored repo: its id, head, pins, cached bytes and last use."""
    with hub.db.read() as conn:
        rows = conn.execute(select(repos.c.id, repos.c.type, repos.c.namespace, repos.c.name, repos.c.head_sha,
                                   mirror_repos.c.last_used, mirror_repos.c.synced_at)
                            .join(mirror_repos, mirror_repos.c.repo_id == repos.c.id).order_by(repos.c.id)).all()
        sizes = dict(conn.execute(
            select(repo_objects.c.repo_id, func.sum(mirror_objects.c.size))
            .join(mirror_objects, mirror_objects.c.oid == repo_objects.c.oid)
            .group_by(repo_objects.c.repo_id)).all())
        pins: dict[int, list[str]] = {}
        for p in conn.execute(select(mirror_pins.c.repo_id, mirror_pins.c.revision, mirror_pins.c.sha)):
            pins.setdefault(p.repo_id, []).append(f"{p.revision}@{p.sha[:12]}")
    return [{"id": f"{TYPE_PREFIX[r.type]}{r.namespace}/{r.name}",
             "type": r.type, "head": r.head_sha, "cached_bytes": int(sizes.get(r.id) or 0),
             "pins": pins.get(r.id, []), "last_used": r.last_used, "synced_at": r.synced_at} for r in rows]


def pin_snapshot(hub: Any, repo_type: str, repo_id: str, revision: str) -> tuple[str, int, int]:
    """Prefetch every file of one commit (the revision is resolved once, so the snapshot cannot mix
    revisions) and pin it: kept through gc and eviction. Returns (commit, files filled, bytes filled)."""
    mirror = hub.mirror
    ns, _, name = repo_id.partition("/")
    repo = mirror.system_repo(repo_type, ns, name)
    sha = hub.refs.resolve(repo, revision)
    filled = nbytes = 0
    for entry in hub.browse.files(sha):
        if entry.lfs is not None and not mirror.cached(repo.id, entry):
            xet_hash = mirror.xet.xet_hash(repo, sha, entry.path, entry.lfs.oid, entry.lfs.size)
            if xet_hash is not None:
                mirror.xet.ensure(repo, xet_hash)  # kept in Xet upstream: pinned as Xet, for Xet clients
            else:
                mirror.fill(repo, entry).wait_done()
            filled += 1
            nbytes += entry.lfs.size
    pin(hub, repo, revision, sha)
    return sha, filled, nbytes
