"""History tools: super-squash a ref into one commit; list and permanently delete a repo's LFS files.

Permanently deleting a large object unlinks it from the repo (so every pointer to it in the repo's history
reads as absent, 404, through `hub.content.linked_object`), records the deletion in `deleted_objects` (so
`hubd fsck` accepts those pointers), and removes the stored bytes when no other repo links them. History is
not rewritten: commit ids stay what clients and clones already hold."""

from __future__ import annotations

import contextlib
import re
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select

from hubd.db.schema import repo_objects
from hubd.db.schema_social import deleted_objects
from hubd.hub.access import Principal
from hubd.hub.commits import new_commit, too_many_retries
from hubd.hub.errors import BadRequest, RevisionNotFound
from hubd.hub.models import Repo, iso
from hubd.hub.refs import MAIN, RefConflict, cas_ref
from hubd.hub.webhooks import emit_repo_event, ref_update
from hubd.jobs.queue import enqueue
from hubd.storage.blobstore import BlobNotFound, lfs_key

if TYPE_CHECKING:
    from hubd.hub.service import Hub

_OID = re.compile(r"^[0-9a-f]{64}$")
MAX_DELETIONS = 1000  # per request, as the client batches them
MAX_MESSAGE = 64 * 1024
MAX_LISTED = 100_000  # LFS files listed per repo (bounded work per request)


def _ref_name(rev: str) -> str:
    rev = "main" if rev == "HEAD" else rev
    return rev if rev.startswith("refs/") else f"refs/heads/{rev}"


class HistoryTools:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def super_squash(self, p: Principal, repo: Repo, rev: str, message: Any) -> str:
        """Replace the history of a branch (or a special ref: refs/convert/parquet, refs/pr/N) by one commit
        holding its current tree. The old commits stay readable by sha (they are in repo_commits)."""
        hub = self.hub
        if message is None:
            message = f"Super-squash branch '{rev}'"
        if not isinstance(message, str) or len(message) > MAX_MESSAGE:
            raise BadRequest(f"message must be a string of at most {MAX_MESSAGE} characters")
        name = _ref_name(rev)
        for _ in range(5):
            head = hub.refs.get(repo, name)
            if head is None:
                raise RevisionNotFound(f"Invalid rev id: {rev}")
            tree = hub.git.commit(head).tree.decode()
            sha = hub.git.add(new_commit(tree, [], message if message.endswith("\n") else message + "\n", p))
            try:
                with hub.db.write() as conn:
                    cas_ref(conn, repo.id, name, head, sha)
                    emit_repo_event(conn, repo, "repo.content", "update", head_sha=sha if name == MAIN else None,
                                    updated_refs=[ref_update(name, head, sha)])
                    if name == MAIN:
                        enqueue(conn, "derive", repo.id)
                return sha
            except RefConflict:
                continue
        raise too_many_retries()

    def lfs_files(self, repo: Repo) -> list[dict]:
        """Every large object the repo links that its history names: sha256, a path and the pointer's blob id
        where it was found, the ref it was found from, and the date of the newest commit naming it."""
        hub = self.hub
        with hub.db.read() as conn:
            linked = {r.oid: int(r.size) for r in conn.execute(
                select(repo_objects.c.oid, repo_objects.c.size).where(repo_objects.c.repo_id == repo.id))}
        found: dict[str, dict] = {}
        if not linked:
            return []
        seen_trees: set[str] = set()
        seen_commits: set[str] = set()
        for ref, target in sorted(hub.refs.all(repo), key=lambda rt: rt[0] != MAIN):
            for sha, commit in hub.browse.history(target):
                if sha in seen_commits:
                    continue
                seen_commits.add(sha)
                stack = [(commit.tree.decode(), "")]
                while stack:
                    tree_sha, prefix = stack.pop()
                    if tree_sha in seen_trees:
                        continue
                    seen_trees.add(tree_sha)
                    for e in hub.git.tree(tree_sha):
                        path = f"{prefix}/{e.name}" if prefix else e.name
                        if e.is_dir:
                            stack.append((e.sha, path))
                            continue
                        pointer = hub.git.blob_info(e.sha).lfs
                        if pointer is None or pointer.oid not in linked or pointer.oid in found:
                            continue
                        found[pointer.oid] = {"fileOid": pointer.oid, "filename": path, "oid": e.sha, "ref": ref,
                                              "pushedAt": iso(commit.commit_time), "size": linked[pointer.oid]}
                        if len(found) >= MAX_LISTED:
                            return list(found.values())
        return list(found.values())

    def delete_lfs_files(self, p: Principal, repo: Repo, body: dict) -> int:
        hub = self.hub
        deletions = body.get("deletions")
        shas = deletions.get("sha") if isinstance(deletions, dict) else None
        if not isinstance(shas, list) or not shas or len(shas) > MAX_DELETIONS \
                or not all(isinstance(s, str) and _OID.match(s) for s in shas):
            raise BadRequest(f"deletions.sha must be a list of 1 to {MAX_DELETIONS} sha256 ids")
        assert isinstance(deletions, dict)  # shas came from it
        if not isinstance(deletions.get("rewriteHistory", True), bool):
            raise BadRequest("deletions.rewriteHistory must be a boolean")
        oids = sorted(set(shas))
        now = time.time()
        with hub.db.write() as conn:
            rows = conn.execute(select(repo_objects.c.oid, repo_objects.c.xet_hash).where(
                (repo_objects.c.repo_id == repo.id) & repo_objects.c.oid.in_(oids))).all()
            gone = [r.oid for r in rows]
            if gone:
                conn.execute(delete(repo_objects).where(
                    (repo_objects.c.repo_id == repo.id) & repo_objects.c.oid.in_(gone)))
                known = {r.oid for r in conn.execute(select(deleted_objects.c.oid).where(
                    (deleted_objects.c.repo_id == repo.id) & deleted_objects.c.oid.in_(gone)))}
                new = [{"repo_id": repo.id, "oid": o, "deleted_at": now, "deleted_by": p.user_id} for o in gone
                       if o not in known]
                if new:
                    conn.execute(insert(deleted_objects), new)
            still = {r.oid for r in conn.execute(select(repo_objects.c.oid).where(repo_objects.c.oid.in_(gone)))}
        # the bytes go now when no other repo links them (Xet chunks are shared: gc removes unused xorbs)
        for r in rows:
            if r.oid not in still and r.xet_hash is None:
                with contextlib.suppress(BlobNotFound):
                    hub.blobs.delete(lfs_key(r.oid))
        return len(gone)
