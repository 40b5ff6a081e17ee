"""One repo's view of the hub-wide git object store, as dulwich's server code reads it.

Git objects are stored once for the whole hub (invariant 7), so the view must never let a client of one repo
name another repo's objects: commits exist for it only when `repo_commits` lists them for this repo, trees and
blobs only when they are reachable from this repo's commits. dulwich only ever wants the tips it advertised and
walks down from there; the checks here cover what a client names itself (`have` lines, shallow commits, the
objects a pushed pack refers to without carrying them)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, cast

from dulwich.object_store import BaseObjectStore
from dulwich.objects import Blob, Commit, ShaFile, Tag, Tree
from dulwich.refs import DictRefsContainer
from dulwich.repo import BaseRepo
from sqlalchemy import select

from hubd.db.schema import repo_commits
from hubd.hub.models import Repo
from hubd.hub.service import Hub
from hubd.storage.blobstore import BlobNotFound

if TYPE_CHECKING:
    from dulwich.objects import ObjectID
    from dulwich.refs import Ref

TYPE_NUMS = {"commit": Commit.type_num, "tree": Tree.type_num, "blob": Blob.type_num, "tag": Tag.type_num}
KIND_OF_MODE = {0o040000: "tree", 0o100644: "blob", 0o100755: "blob", 0o120000: "blob"}


def _hex(sha: bytes) -> str:
    if len(sha) == 20:  # dulwich passes raw 20-byte ids in a few places
        return sha.hex()
    return sha.decode("ascii")


def repo_commit_shas(hub: Hub, repo_id: int) -> set[str]:
    with hub.db.read() as conn:
        return set(conn.execute(select(repo_commits.c.sha).where(repo_commits.c.repo_id == repo_id)).scalars())


class RepoObjects(BaseObjectStore):
    """Read-only object store over one repo's objects."""

    def __init__(self, hub: Hub, repo: Repo, commits: set[str] | None = None) -> None:
        super().__init__()
        self.hub = hub
        self.repo = repo
        self.commits = repo_commit_shas(hub, repo.id) if commits is None else commits
        # kinds learned from the commits and trees read so far: a lookup then costs one key, not three probes
        self._kinds: dict[str, str] = {}
        self._reachable: set[str] | None = None
        self._frontier: Iterator[str] | None = None
        self.tags: dict[str, Tag] = {}  # the annotated tag objects this repo's tags keep (RepoView fills it)

    # --- what dulwich asks ------------------------------------------------------------------------------
    def contains_loose(self, sha: bytes) -> bool:
        return _hex(sha) in self.commits or _hex(sha) in self.tags

    def __contains__(self, sha: object) -> bool:
        # Only commits (and the tags the refs name) are ever asked about by a client (`have` lines): answering
        # for this repo's own alone means a probe can never confirm that another repo holds an object.
        return isinstance(sha, bytes) and (_hex(sha) in self.commits or _hex(sha) in self.tags)

    def get_raw(self, name: bytes) -> tuple[int, bytes]:
        sha = _hex(name)
        kind = self._kind(sha)
        raw = self._read(kind, sha)
        return TYPE_NUMS[kind], raw

    def __getitem__(self, name: bytes) -> ShaFile:
        sha = _hex(name)
        kind = self._kind(sha)
        obj = ShaFile.from_raw_string(TYPE_NUMS[kind], self._read(kind, sha), sha=cast("ObjectID", sha.encode()))
        if isinstance(obj, Commit):
            self._kinds[obj.tree.decode()] = "tree"
        elif isinstance(obj, Tree):
            for entry in obj.iteritems():
                self._kinds[entry.sha.decode()] = KIND_OF_MODE.get(entry.mode, "blob")
        return obj

    def __iter__(self) -> Iterator[ObjectID]:
        return (cast("ObjectID", sha.encode()) for sha in self.commits)

    # --- helpers ----------------------------------------------------------------------------------------
    def kind(self, sha: str) -> str:
        """commit, tag, tree or blob, for an object of this repo (KeyError for any other)."""
        return self._kind(sha)

    def blob_size(self, sha: str) -> int:
        """The size of a blob of this repo (a stat, not a read: partial clone's blob:limit)."""
        if self._kind(sha) != "blob":
            raise KeyError(sha)
        return self.hub.git.blob_info(sha).blob_size

    def _kind(self, sha: str) -> str:
        if sha in self.commits:
            return "commit"
        if sha in self.tags:
            return "tag"
        kind = self._kinds.get(sha)
        if kind is not None:
            return kind
        # Neither one of this repo's commits nor met below one of them in this request: only objects
        # reachable from the repo's commits may be read through it.
        if not self.is_reachable(sha):
            raise KeyError(sha)
        kind = self._kinds.get(sha)
        if kind is None:
            raise KeyError(sha)
        return kind

    def _read(self, kind: str, sha: str) -> bytes:
        try:
            return self.hub.git.raw(kind, sha)
        except BlobNotFound:
            raise KeyError(sha) from None

    def is_reachable(self, sha: str) -> bool:
        """Is the tree or blob `sha` reachable from one of this repo's commits? The walk is lazy: it stops as
        soon as `sha` is met, and what it saw is kept for the next question of the same request."""
        if sha in self.commits:
            return True
        if self._reachable is None:
            self._reachable = set()
            self._frontier = self._walk(self._ordered_commits())
        if sha in self._reachable:
            return True
        assert self._frontier is not None
        return any(seen == sha for seen in self._frontier)

    def _ordered_commits(self) -> list[str]:
        # the tips first: what a client leaves out of a pack is almost always in the trees of the refs it saw
        tips = [target for _name, target in self.hub.refs.all(self.repo)]
        return tips + sorted(self.commits - set(tips))

    def _walk(self, commits: Iterable[str]) -> Iterator[str]:
        assert self._reachable is not None
        seen = self._reachable
        for commit_sha in commits:
            try:
                tree = self.hub.git.commit(commit_sha).tree.decode()
            except BlobNotFound:
                continue
            stack = [tree]
            while stack:
                t = stack.pop()
                if t in seen:
                    continue
                seen.add(t)
                self._kinds[t] = "tree"
                yield t
                for entry in self.hub.git.tree(t):
                    if entry.sha in seen:
                        continue
                    if entry.is_dir:
                        stack.append(entry.sha)
                    else:
                        seen.add(entry.sha)
                        self._kinds[entry.sha] = KIND_OF_MODE.get(entry.mode, "blob")
                        yield entry.sha


class RepoView(BaseRepo):
    """What dulwich's UploadPackHandler and ReceivePackHandler call a repository: this repo's refs (read once
    per request, so one request sees one consistent state) over `RepoObjects`."""

    def __init__(self, hub: Hub, repo: Repo) -> None:
        self.hub_repo = repo
        ref_rows = hub.refs.all(repo)
        objects = RepoObjects(hub, repo)
        refs: dict[Ref, bytes] = {cast("Ref", name.encode()): target.encode() for name, target in ref_rows}
        self.peeled: dict[bytes, bytes] = {}  # ref → commit, for the refs that name an annotated tag
        for name, tag_sha in hub.refs.tag_objects(repo).items():
            tag = _read_tag(hub, tag_sha)
            ref = cast("Ref", name.encode())
            # kept only while the tag still peels to the ref's commit (cas_ref drops it otherwise)
            if tag is not None and refs.get(ref) == tag.object[1]:
                objects.tags[tag_sha] = tag
                self.peeled[ref] = refs[ref]
                refs[ref] = tag_sha.encode()
        if b"refs/heads/main" in refs:
            refs[cast("Ref", b"HEAD")] = b"ref: refs/heads/main"
        # dulwich annotates a PackCapableObjectStore; the server paths that RepoView serves only read objects
        super().__init__(objects, DictRefsContainer(refs))  # type: ignore[arg-type]
        self.objects = objects

    @property
    def tag_objects(self) -> set[bytes]:
        return {sha.encode() for sha in self.objects.tags}

    def peel_object(self, sha: bytes) -> bytes:
        """A commit id, or the commit an annotated tag of this repo names."""
        tag = self.objects.tags.get(sha.decode())
        return tag.object[1] if tag is not None else sha

    def tagged(self) -> dict[ObjectID, ObjectID]:
        """commit → annotated tag naming it (include-tag sends the tag along with the commit)."""
        return {cast("ObjectID", t.object[1]): cast("ObjectID", sha.encode()) for sha, t in self.objects.tags.items()}

    def get_refs(self) -> dict[Ref, ObjectID]:
        return self.refs.as_dict()

    def get_peeled(self, ref: Ref) -> ObjectID:
        peeled = self.peeled.get(ref)
        return cast("ObjectID", peeled) if peeled is not None else self.refs[ref]

    def get_named_file(self, path: str, basedir: str | None = None) -> None:
        return None

    def get_config(self):
        from dulwich.config import ConfigFile

        return ConfigFile()


def _read_tag(hub: Hub, sha: str) -> Tag | None:
    try:
        obj = ShaFile.from_raw_string(Tag.type_num, hub.git.raw("tag", sha), sha=cast("ObjectID", sha.encode()))
    except BlobNotFound:
        return None
    return obj if isinstance(obj, Tag) else None
