"""Integrity check: every object reachable from every ref is present and hashes to its id."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from hubd.db.schema import refs, repos
from hubd.hub.refs import TAG_OBJECTS
from hubd.hub.service import Hub
from hubd.storage.blobstore import BlobNotFound, lfs_key, sha256_of
from hubd.storage.gitstore import git_sha
from hubd.storage.gitwalk import walk
from hubd.storage.lfspointer import MAX_POINTER_SIZE, LfsPointer, parse_pointer


@dataclass
class FsckReport:
    problems: list[str] = field(default_factory=list)
    objects: int = 0
    lfs_objects: int = 0
    xet_files: int = 0
    refs: int = 0
    deleted_objects: int = 0  # pointers to large objects their repo deleted for good (not problems)


def _read_verified(hub: Hub, kind: str, sha: str, report: FsckReport) -> bytes | None:
    try:
        raw = hub.git.raw(kind, sha)
    except BlobNotFound:
        report.problems.append(f"missing {kind} {sha}")
        return None
    if git_sha(kind, raw) != sha:
        report.problems.append(f"corrupt {kind} {sha}: content hashes to {git_sha(kind, raw)}")
        return None
    report.objects += 1
    return raw


def _all_refs(hub: Hub) -> Iterator[tuple[int, str, str, str]]:
    with hub.db.read() as conn:
        rows = conn.execute(
            repos.select().with_only_columns(repos.c.id, repos.c.type, repos.c.namespace, repos.c.name,
                                             refs.c.name, refs.c.target)
            .join(refs, refs.c.repo_id == repos.c.id)
        ).all()
    for r in rows:
        yield r[0], f"{r[1]}:{r[2]}/{r[3]}", r[4], r[5]


def _deliberately_deleted(hub: Hub, repo_id: int, oid: str) -> bool:
    from hubd.db.schema_social import deleted_objects

    with hub.db.read() as conn:
        return conn.execute(deleted_objects.select().where(
            (deleted_objects.c.repo_id == repo_id) & (deleted_objects.c.oid == oid))).first() is not None


def _check_large_object(hub: Hub, repo_id: int, pointer: LfsPointer, where: str, report: FsckReport,
                        xorbs_seen: set[str]) -> None:
    """The bytes behind a pointer: one LFS blob, or a Xet file whose xorbs are intact."""
    linked = hub.objects.get(repo_id, pointer.oid)
    if linked is None and _deliberately_deleted(hub, repo_id, pointer.oid):
        report.deleted_objects += 1  # permanently_delete_lfs_files: the pointer reads as absent, by design
        return
    if linked is None:
        # unreadable through this repo (invariant 7), whatever the store holds
        report.problems.append(f"LFS object {pointer.oid} is not linked to the repo (in {where})")
        return
    if linked.xet_hash is None:
        try:
            digest, size = sha256_of(hub.blobs, lfs_key(pointer.oid))
        except BlobNotFound:
            report.problems.append(f"missing LFS object {pointer.oid} (in {where})")
            return
        report.lfs_objects += 1
        if digest != pointer.oid or size != pointer.size:
            report.problems.append(f"corrupt LFS object {pointer.oid}: sha256 {digest}, size {size}")
        return
    f = hub.xet.file(linked.xet_hash)
    if f is None:
        report.problems.append(f"missing Xet file {linked.xet_hash} for {pointer.oid} (in {where})")
        return
    for term in f.terms:
        if term.xorb not in xorbs_seen:
            xorbs_seen.add(term.xorb)
            problem = hub.xet.verify_xorb(term.xorb)
            if problem:
                report.problems.append(f"{problem} (in {where})")
                return
    digest_h = hashlib.sha256()
    for data in hub.xet.iter_bytes(f, 0, f.size):
        digest_h.update(data)
    report.xet_files += 1
    if digest_h.hexdigest() != pointer.oid or f.size != pointer.size:
        report.problems.append(f"Xet file {f.hash} does not rebuild {pointer.oid} (in {where})")


def fsck(hub: Hub) -> FsckReport:
    report = FsckReport()
    seen: set[str] = set()
    lfs_seen: set[tuple[int, str]] = set()
    xorbs_seen: set[str] = set()
    for repo_id, repo, ref, target in _all_refs(hub):
        report.refs += 1
        where = f"{repo} {ref}"
        root = ("tag", target) if ref.startswith(TAG_OBJECTS) else target
        for _kind, _sha, raw in walk(lambda k, h: _read_verified(hub, k, h, report), [root], seen):
            if raw is None:
                report.problems[-1] += f" (reachable from {where})"
                continue
            pointer = parse_pointer(raw) if _kind == "blob" and len(raw) <= MAX_POINTER_SIZE else None
            if pointer is None or (repo_id, pointer.oid) in lfs_seen:
                continue
            lfs_seen.add((repo_id, pointer.oid))
            _check_large_object(hub, repo_id, pointer, where, report, xorbs_seen)
    return report
