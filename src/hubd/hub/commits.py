"""Commits: a plan of file operations turned into git objects, then a ref moved by compare-and-swap."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dulwich.objects import Commit

from hubd.hub.access import Principal
from hubd.hub.errors import BadRequest, Conflict, PayloadTooLarge, PreconditionFailed
from hubd.hub.names import check_file_path
from hubd.hub.treeedit import TreeEditor
from hubd.storage.blobstore import is_sha256
from hubd.storage.gitstore import GitStore, ObjectBatch
from hubd.storage.lfspointer import MAX_POINTER_SIZE, parse_pointer, pointer_bytes

# Bounds of one commit (invariant 8): operations are kept until the ref moves, so their count is bounded;
# the body as a whole is bounded too, as it is streamed (each line separately by the LFS threshold).
MAX_COMMIT_OPS = 100_000
MAX_COMMIT_BYTES = 4 * 1024**3


@dataclass
class CommitPlan:
    """What one commit does, validated as it is built; blobs are already stored (content first)."""

    summary: str = ""
    description: str = ""
    parent_commit: str | None = None
    ops: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, path, blob sha or "")
    # the blobs of the ops, written together by `flush` (build_commit does it before any tree names them)
    objects: ObjectBatch | None = None

    def _objects(self, git: GitStore) -> ObjectBatch:
        if self.objects is None:
            self.objects = git.batch()
        return self.objects

    def flush(self) -> None:
        if self.objects is not None:
            self.objects.flush()

    def set_header(self, value: dict) -> None:
        summary = value.get("summary") or ""
        description = value.get("description") or ""
        parent = value.get("parentCommit")
        if not isinstance(summary, str) or not isinstance(description, str):
            raise BadRequest("Commit summary and description must be strings")
        if parent is not None and (not isinstance(parent, str) or not 5 <= len(parent) <= 40):
            raise BadRequest("Invalid parentCommit")
        self.summary, self.description, self.parent_commit = summary.strip(), description, parent

    def add_file(self, git: GitStore, path: object, content: bytes, linked_size: Callable[[str], int | None]) -> None:
        """A regular file. Bytes that read as an LFS pointer would make the tree name a large object, so they
        get exactly the checks of an `lfsFile` op: the object must be linked to this repo (`linked_size`)."""
        pointer = parse_pointer(content) if len(content) <= MAX_POINTER_SIZE else None
        if pointer is not None:
            self.add_lfs(git, path, pointer.oid, pointer.size, linked_size(pointer.oid))
            return
        self._add_op("add", check_file_path(path), self._objects(git).add_blob(content))

    def add_lfs(self, git: GitStore, path: object, oid: object, size: object, stored: int | None) -> None:
        """`stored` is the size of the object as uploaded for this repo, None when it was not."""
        path = check_file_path(path)
        if not is_sha256(oid):
            raise BadRequest(f"Invalid LFS oid for {path!r}")
        assert isinstance(oid, str)
        if stored is None:
            raise BadRequest(f"LFS object {oid} for {path!r} has not been uploaded to this repo")
        if size is not None and size != stored:
            raise BadRequest(f"LFS object {oid} for {path!r} has size {stored}, not {size}")
        self._add_op("add", path, self._objects(git).add_blob(pointer_bytes(oid, stored)))

    def delete_file(self, path: object) -> None:
        self._add_op("delete", check_file_path(path), "")

    def delete_folder(self, path: object) -> None:
        if not isinstance(path, str):
            raise BadRequest("Invalid folder path")
        self._add_op("delete_folder", check_file_path(path.rstrip("/")), "")

    def _add_op(self, kind: str, path: str, sha: str) -> None:
        if len(self.ops) >= MAX_COMMIT_OPS:
            raise PayloadTooLarge(f"A commit may hold at most {MAX_COMMIT_OPS} operations: split it")
        self.ops.append((kind, path, sha))

    def message(self) -> str:
        summary = self.summary or "Update files"
        return f"{summary}\n\n{self.description}".rstrip() + "\n"


def build_commit(git: GitStore, plan: CommitPlan, parent: str | None, author: Principal) -> str:
    """Write the new trees and the commit object on top of `parent`; returns the commit sha."""
    plan.flush()  # content first: every blob is stored before a tree names it
    root = git.commit(parent).tree.decode() if parent else None
    editor = TreeEditor(git, root)
    for kind, path, sha in plan.ops:
        if kind == "add":
            editor.add(path, sha)
        elif kind == "delete":
            editor.delete_file(path)
        else:
            editor.delete_folder(path)
    return git.add(new_commit(editor.write(), [parent] if parent else [], plan.message(), author))


def new_commit(tree: str, parents: list[str], message: str, author: Principal) -> Commit:
    c = Commit()
    c.tree = tree.encode()
    c.parents = [p.encode() for p in parents]
    # the user name, not the full name: the commits API reads it back as authors[].user, as on the Hub
    who = f"{author.name} <{author.email or author.name + '@users.noreply.hubd'}>"
    c.author = c.committer = who.encode()
    c.author_time = c.commit_time = int(time.time())
    c.author_timezone = c.commit_timezone = 0
    c.message = message.encode()
    return c


def check_parent(plan: CommitPlan, head: str) -> None:
    if plan.parent_commit is not None and not head.startswith(plan.parent_commit.lower()):
        # word for word as the Hub: clients show it as it is
        raise PreconditionFailed("The branch was updated since you opened this page. Please refresh and try again.")


def too_many_retries() -> Conflict:
    return Conflict("The branch kept moving while committing; try again")
