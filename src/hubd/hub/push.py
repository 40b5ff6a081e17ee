"""git push: a pushed pack validated exactly as an API commit is, then adopted content-first.

Order (invariant 2): the pack is scanned with bounds (`git.packscan`), its objects are inflated once to
check them (paths, sizes, LFS pointers, connectivity — only objects of *this* repo may be named without being
sent, invariant 7), inflated again to store them, and only then are the refs moved by compare-and-swap in one
transaction that also records every new commit in `repo_commits` and enqueues the jobs an API commit enqueues.
A push that fails any check leaves nothing but unreferenced objects behind (none, when it fails validation)."""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from dulwich.errors import ObjectFormatException
from dulwich.object_format import DEFAULT_OBJECT_FORMAT
from dulwich.objects import Blob, Commit, ShaFile, Tag, Tree
from dulwich.pack import PackData, PackInflater

from hubd.git.objects import KIND_OF_MODE, RepoObjects
from hubd.git.packscan import PackLimits, PackRefused, scan_pack
from hubd.hub import access
from hubd.hub.access import Principal
from hubd.hub.commits import CommitPlan
from hubd.hub.errors import HubError
from hubd.hub.models import Repo
from hubd.hub.names import MAX_PATH_BYTES, check_file_path, check_ref_name
from hubd.hub.refs import MAIN, RefConflict, cas_ref, record_commit, set_tag_object
from hubd.hub.service import Hub
from hubd.hub.webhooks import emit_repo_event, ref_update
from hubd.jobs.queue import enqueue
from hubd.storage.gitstore import git_sha
from hubd.storage.lfspointer import MAX_POINTER_SIZE, parse_pointer

log = logging.getLogger("hubd.git")
ZERO = "0" * 40
MAX_PUSH_OBJECTS = 500_000
MAX_PUSH_INFLATED = 8 * 1024**3
MAX_REF_UPDATES = 1000
MAX_TREE_BYTES = 64 * 1024**2
ALLOWED_MODES = {0o100644, 0o100755, 0o040000}
FETCH_FIRST = "fetch first: the branch moved since you fetched it (git pull, then push again)"


def lfs_advice(size_limit: int) -> str:
    mib = size_limit / 1024**2
    return (f"Your push was rejected because it contains files larger than {mib:g} MiB. Please use "
            "https://git-lfs.github.com/ to store large files (git lfs track, then commit them again).")


@dataclass
class RefUpdate:
    name: str
    old: str | None  # None: the ref is created
    new: str | None  # None: the ref is deleted
    error: str | None = None


@dataclass
class PushOutcome:
    unpack_error: str | None = None
    updates: list[RefUpdate] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


class _NoWrite:
    """What CommitPlan's pointer checks need from a GitStore, without storing anything: validation runs
    before any write, so a refused push leaves nothing behind."""

    @staticmethod
    def add_blob(data: bytes) -> str:
        return git_sha("blob", data)

    def batch(self) -> _NoWrite:  # CommitPlan collects its blobs in a batch: this one stores nothing either
        return self


def _pack_objects(path: str) -> Iterator[ShaFile]:
    data = PackData(path, object_format=DEFAULT_OBJECT_FORMAT)
    try:
        yield from PackInflater.for_pack_data(data)
    finally:
        data.close()


@dataclass
class _Pack:
    commits: dict[str, Commit] = field(default_factory=dict)
    trees: dict[str, Tree] = field(default_factory=dict)
    blobs: dict[str, tuple[int, bytes | None]] = field(default_factory=dict)  # sha → (size, pointer bytes)
    tags: dict[str, Tag] = field(default_factory=dict)  # annotated tags, each naming a commit


class Push:
    def __init__(self, hub: Hub, repo: Repo, principal: Principal | None, objects: RepoObjects) -> None:
        self.hub = hub
        self.repo = repo
        self.p = principal
        self.objects = objects
        self.pack = _Pack()
        self.paths: dict[str, str] = {}  # blob sha → a path it is at, for messages
        self._max_len: dict[str, int] = {}

    # --- entry point ------------------------------------------------------------------------------------
    def run(self, updates: list[RefUpdate], pack_path: str | None) -> PushOutcome:
        out = PushOutcome(updates=updates)
        if len(updates) > MAX_REF_UPDATES:
            return self._fail_all(out, f"a push may update at most {MAX_REF_UPDATES} refs")
        if pack_path is not None:
            try:
                with open(pack_path, "rb") as f:
                    scan_pack(f, PackLimits(
                        MAX_PUSH_OBJECTS, max(self.hub.settings.lfs_threshold, MAX_TREE_BYTES), MAX_PUSH_INFLATED,
                        large_blob_hint=lfs_advice(self.hub.settings.lfs_threshold)))
                self._read(pack_path)
            except PackRefused as exc:
                out.unpack_error = str(exc)
                return self._fail_all(out, str(exc))
            except (KeyError, ValueError, AssertionError, OSError) as exc:  # dulwich: bases outside the pack
                log.info("refused pack: %r", exc)
                out.unpack_error = "the pack could not be read (thin packs are not accepted)"
                return self._fail_all(out, out.unpack_error)
        try:
            self._check_objects()
        except HubError as exc:
            return self._fail_all(out, exc.message)
        for u in updates:
            if u.error is None:
                u.error = self._check_update(u)
        accepted = [u for u in updates if u.error is None]
        if not accepted:
            return out
        if pack_path is not None:
            for obj in _pack_objects(pack_path):  # content first: every object, then the refs
                self.hub.git.add(obj)
        try:
            self._move_refs(accepted)
        except RefConflict:
            for u in accepted:
                u.error = FETCH_FIRST
        return out

    @staticmethod
    def _fail_all(out: PushOutcome, reason: str) -> PushOutcome:
        for u in out.updates:
            u.error = u.error or reason
        return out

    # --- reading and checking the objects ---------------------------------------------------------------
    def _read(self, pack_path: str) -> None:
        for obj in _pack_objects(pack_path):
            sha = obj.id.decode()
            if isinstance(obj, Commit):
                self.pack.commits[sha] = obj
            elif isinstance(obj, Tree):
                self.pack.trees[sha] = obj
            elif isinstance(obj, Blob):
                raw = obj.as_raw_string()
                self.pack.blobs[sha] = (len(raw), raw if len(raw) <= MAX_POINTER_SIZE else None)
            elif isinstance(obj, Tag):
                self.pack.tags[sha] = obj
            else:
                raise PackRefused(f"unexpected object {sha} in the pack")

    def _kind_known(self, sha: str, kind: str) -> bool:
        """Is `sha` an object of this kind in the pack, or reachable from this repo's commits?"""
        if kind == "commit":
            return sha in self.pack.commits or sha in self.objects.commits
        if sha in (self.pack.trees if kind == "tree" else self.pack.blobs):
            return True
        # Named without being sent: the pusher must have seen it in this repo (invariant 7) — never an
        # object of another repo, which would then be readable here.
        return self.objects.is_reachable(sha) and self.objects._kinds.get(sha) == kind

    def _check_objects(self) -> None:
        limit = self.hub.settings.lfs_threshold
        for sha, tree in self.pack.trees.items():
            for entry in tree.iteritems():
                name = entry.path.decode("utf-8", "replace")
                if entry.mode not in ALLOWED_MODES:
                    what = {0o160000: "submodules", 0o120000: "symbolic links"}.get(entry.mode, "this file mode")
                    raise PushError(f"{name!r}: {what} are not supported")
                if "/" in name or name in ("", ".", "..") or name.lower() == ".git":
                    raise PushError(f"Invalid file path: {name!r}")
                kind = KIND_OF_MODE[entry.mode]
                if not self._kind_known(entry.sha.decode(), kind):
                    raise PushError(f"tree {sha} names {entry.sha.decode()}, which is not in the pack nor in "
                                    "this repo")
        for sha, commit in self.pack.commits.items():
            if not self._kind_known(commit.tree.decode(), "tree"):
                raise PushError(f"commit {sha} has a tree that is not in the pack nor in this repo")
            for parent in commit.parents:
                if not self._kind_known(parent.decode(), "commit"):
                    raise PushError(f"commit {sha} has a parent that is not in the pack nor in this repo")
            self._check_paths(commit.tree.decode(), "")
        for sha, tag in self.pack.tags.items():
            try:
                kind, target = tag.object
                tag.check()
            except (ObjectFormatException, ValueError, KeyError) as exc:
                raise PushError(f"tag {sha} is malformed: {exc}") from None
            if kind is not Commit or not self._kind_known(target.decode(), "commit"):
                raise PushError(f"tag {sha} must name a commit of the pack or of this repo (tags of tags, trees "
                                "or blobs are not accepted)")
        linked = self.hub.objects.linked(self.repo.id, [
            p.oid for _s, (_n, raw) in self.pack.blobs.items() if raw and (p := parse_pointer(raw))])
        for sha, (size, raw) in self.pack.blobs.items():
            path = self.paths.get(sha, sha)
            pointer = parse_pointer(raw) if raw is not None else None
            if pointer is not None:
                stored = linked.get(pointer.oid)
                # the checks of an API commit's lfsFile op, word for word
                CommitPlan().add_lfs(_NoWrite(), path, pointer.oid, pointer.size,  # type: ignore[arg-type]
                                     stored.size if stored else None)
            elif size > limit:
                raise PushError(f"{lfs_advice(limit)}\nOffending file: {path}")

    def _check_paths(self, tree_sha: str, prefix: str) -> None:
        """Every path a pushed tree makes, checked as an API commit checks it; trees already in the repo were
        checked when they came, so only how long their paths get under a new prefix is looked at."""
        tree = self.pack.trees.get(tree_sha)
        if tree is None:
            if len(prefix.encode()) + self._longest(tree_sha) > MAX_PATH_BYTES:
                raise PushError(f"Invalid file path: paths under {prefix!r} are too long")
            return
        for entry in tree.iteritems():
            path = prefix + entry.path.decode("utf-8", "replace")
            check_file_path(path)
            if entry.mode == 0o040000:
                self._check_paths(entry.sha.decode(), path + "/")
            else:
                self.paths.setdefault(entry.sha.decode(), path)

    def _longest(self, tree_sha: str) -> int:
        if tree_sha not in self._max_len:
            best = 0
            for e in self.hub.git.tree(tree_sha):
                n = len(e.name.encode()) + (1 + self._longest(e.sha) if e.is_dir else 0)
                best = max(best, n)
            self._max_len[tree_sha] = best
        return self._max_len[tree_sha]

    # --- refs -------------------------------------------------------------------------------------------
    def _can(self, minimum: str) -> bool:
        p = self.p
        if p is not None and p.scopes is not None:  # a fine-grained token: repo.write on this repo, then the role
            if access.REPO_WRITE not in p.scopes.on_repo(self.repo.id, self.repo.namespace):
                return False
            p = p.as_write_token()
        return access.can_write(p, self.repo.namespace, self.repo.created_by, minimum)

    def _check_update(self, u: RefUpdate) -> str | None:
        name = u.name
        if name.startswith("refs/heads/"):
            kind, short = "branch", name[len("refs/heads/"):]
        elif name.startswith("refs/tags/"):
            kind, short = "tag", name[len("refs/tags/"):]
        elif name.startswith("refs/pr/"):
            return self._check_pr(u)
        else:
            return f"only branches, tags and refs/pr/N can be pushed, not {name}"
        try:
            check_ref_name(short)
        except HubError as exc:
            return exc.message
        if u.new is None:
            if name == MAIN:
                return f"{MAIN} cannot be deleted"
            return None if self._can("write") else f"you don't have the rights to delete {name}"
        if self._is_tag(u.new) and kind != "tag":
            return f"{name} must point at a commit, not at an annotated tag"
        peeled = self._peel(u.new)
        if peeled not in self.pack.commits and peeled not in self.objects.commits:
            return f"{u.new} is not a commit of this push or of this repo"
        if not self._can("contributor"):
            return f"you don't have the rights to push to {name} (open a pull request: push to refs/pr/N)"
        if u.old is None:
            return None
        if kind == "tag":
            return "tags cannot be moved: delete the tag, then push it again"
        if not self._descends(u.new, u.old):
            if not self._force_allowed(short):
                return f"non-fast-forward: {name} does not allow forced pushes (pull, merge, then push)"
            if not self._can("write"):
                return f"you don't have the rights to force-push {name}"
        return None

    def _check_pr(self, u: RefUpdate) -> str | None:
        num = u.name[len("refs/pr/"):]
        if not num.isdigit() or len(num) > 9:
            return f"invalid pull request ref {u.name}"
        if u.old is None or u.new is None:
            return "pull request refs are made by opening a pull request, and cannot be deleted"
        disc = self.hub.discussions.get(self.repo, int(num))
        if disc is None or not disc["is_pull_request"] or disc["status"] not in ("open", "draft"):
            return f"{u.name} is not an open pull request"
        if not self._can("pr"):
            return f"you don't have the rights to push to {u.name}"
        assert self.p is not None  # "pr" is refused to an anonymous pusher
        if disc["author_id"] != self.p.user_id and not self._can("contributor"):  # as API commits to refs/pr/N
            return f"only the author of pull request #{num} or the repo's writers can push to {u.name}"
        if u.new not in self.pack.commits and u.new not in self.objects.commits:
            return f"{u.new} is not a commit of this push or of this repo"
        if not self._descends(u.new, u.old):
            return "non-fast-forward: commits can only be added to a pull request"
        return None

    def _is_tag(self, sha: str) -> bool:
        return sha in self.pack.tags or sha in self.objects.tags

    def _peel(self, sha: str | None) -> str | None:
        """An annotated tag of the push or of this repo → its commit; anything else as it is. The refs table
        holds the commit (what the API reads), the tag object is kept beside it (refs.TAG_OBJECTS)."""
        tag = None if sha is None else (self.pack.tags.get(sha) or self.objects.tags.get(sha))
        return sha if tag is None else tag.object[1].decode()

    def _force_allowed(self, branch: str) -> bool:
        return force_push_allowed(self.hub.settings.git_force_push, self.repo.url_path, branch)

    def _message(self, sha: str) -> str:
        c = self.pack.commits.get(sha) or self.hub.git.commit(sha)
        return c.message.decode("utf-8", "replace")

    def _parents(self, sha: str) -> list[str]:
        c = self.pack.commits.get(sha)
        if c is None:
            c = self.hub.git.commit(sha)
        return [p.decode() for p in c.parents]

    def _descends(self, new: str, old: str) -> bool:
        seen, stack = set(), [new]
        while stack:
            sha = stack.pop()
            if sha == old:
                return True
            if sha in seen:
                continue
            seen.add(sha)
            stack.extend(self._parents(sha))
        return False

    def _new_commits(self, tip: str) -> list[str]:
        """The pushed commits `tip` reaches: each becomes one of this repo's commits (`repo_commits`)."""
        out, stack, seen = [], [tip], set()
        while stack:
            sha = stack.pop()
            if sha in seen or sha not in self.pack.commits:
                continue
            seen.add(sha)
            out.append(sha)
            stack.extend(p.decode() for p in self.pack.commits[sha].parents)
        return out

    def _move_refs(self, accepted: list[RefUpdate]) -> None:
        with self.hub.db.write() as conn:
            for u in accepted:
                old, new = self._peel(u.old), self._peel(u.new)
                cas_ref(conn, self.repo.id, u.name, old, new)
                if u.new is not None and self._is_tag(u.new):
                    set_tag_object(conn, self.repo.id, u.name, u.new)
                emit_repo_event(conn, self.repo, "repo.content", "update", head_sha=new if u.name == MAIN else None,
                                updated_refs=[ref_update(u.name, old, new)])
                if new is not None:
                    for sha in self._new_commits(new):
                        record_commit(conn, self.repo.id, sha)
                if u.name.startswith("refs/pr/") and u.new is not None:  # the PR shows the commit it got
                    subject = self._message(u.new).split("\n", 1)[0]
                    assert self.p is not None  # _check_pr accepted the update: a signed-in pusher
                    self.hub.discussions.commit_added(conn, self.p, self.repo, int(u.name[8:]), u.new, subject)
                if u.name == MAIN:  # the post-commit jobs of an API commit to main
                    enqueue(conn, "derive", self.repo.id)
                    if self.repo.type == "dataset":
                        enqueue(conn, "parquet", self.repo.id)


def force_push_allowed(rules: str, repo_path: str, branch: str) -> bool:
    """Does the `git_force_push` setting let `branch` of the repo at `repo_path` (its URL path: `alice/m`,
    `datasets/acme/d`) be moved by a forced push? Rules are `BRANCH` (any repo) or `REPO:BRANCH` globs; `:`
    can be in neither a repo id nor a branch name. Repo ids compare case-insensitively, as they resolve."""
    for rule in (r.strip() for r in rules.split(",")):
        repo_glob, _, branch_glob = rule.rpartition(":")
        if not branch_glob:
            continue
        if repo_glob and not fnmatch.fnmatchcase(repo_path.lower(), repo_glob.strip().strip("/").lower()):
            continue
        if fnmatch.fnmatchcase(branch, branch_glob.strip()):
            return True
    return False


class PushError(HubError):
    status = 400
    code = "BadRequest"
