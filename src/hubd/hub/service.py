"""The Hub: repositories and their refs, with the access rules applied. Handlers call only this."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hubd.config import Settings
from hubd.db.engine import Database
from hubd.db.inserts import insert_if_absent
from hubd.db.schema import (
    repo_commits,
    repo_objects,
    repo_redirects,
    repos,
)
from hubd.hub import access
from hubd.hub.access import Principal
from hubd.hub.accesscache import AccessCache
from hubd.hub.accounts import Accounts
from hubd.hub.browse import Browser, PathEntry
from hubd.hub.cards import card_data
from hubd.hub.collections import Collections
from hubd.hub.commits import CommitPlan, build_commit, check_parent, new_commit, too_many_retries
from hubd.hub.counters import DownloadCounter
from hubd.hub.discussions import Discussions
from hubd.hub.errors import (
    BadRequest,
    Conflict,
    EntryNotFound,
    Forbidden,
    GatedRepo,
    RepoNotFound,
    RevisionNotFound,
    Unauthorized,
)
from hubd.hub.gating import Gating
from hubd.hub.gitattributes import default_gitattributes
from hubd.hub.listing_cache import PageCache
from hubd.hub.models import Repo, repo_from_row
from hubd.hub.names import check_ref_name, check_repo_name, check_repo_type
from hubd.hub.refs import MAIN, RefConflict, Refs, add_if_new, remove_if_equals, set_if_equals
from hubd.hub.signing import Signer, load_signing_key
from hubd.hub.treeedit import TreeEditor
from hubd.hub.webhooks import Webhooks, emit_repo_created, emit_repo_event, ref_update
from hubd.jobs.queue import enqueue
from hubd.storage.blobstore import BlobStore, lfs_key
from hubd.storage.gitstore import GitStore
from hubd.storage.gitwalk import walk
from hubd.xet.store import XetStore

SDKS = ("gradio", "streamlit", "docker", "static")
MAX_COMMIT_ATTEMPTS = 60


def space_readme(name: str, sdk: str) -> str:
    """The README.md the Hub writes into a new Space: its configuration in the front matter."""
    return (f"---\ntitle: {name}\nemoji: 🚀\ncolorFrom: blue\ncolorTo: green\nsdk: {sdk}\npinned: false\n---\n\n"
            "Check out the configuration reference at https://huggingface.co/docs/hub/spaces-config-reference\n")


class LinkedObject(NamedTuple):
    """A large object as linked to one repo: its size, and its Xet file hash when Xet keeps its bytes."""

    size: int
    xet_hash: str | None


@dataclass(frozen=True)
class CommitResult:
    sha: str
    pr_num: int | None = None


class Hub:
    def __init__(self, settings: Settings, db: Database, blobs: BlobStore) -> None:
        self.settings = settings
        self.db = db
        self.blobs = blobs
        self.git = GitStore(blobs)
        self.refs = Refs(db)
        self.accounts = Accounts(db)
        self.browse = Browser(self.git)
        self.signer = Signer(load_signing_key(db))
        self.xet = XetStore(blobs, cache_bytes=settings.xet_cache_mib * 1024 * 1024)
        self.downloads = DownloadCounter(db)
        # principals and download decisions of hot reads, valid while the access generation stands still
        self.access = AccessCache(db.access_generation, self.accounts)
        self.listing_pages = PageCache()  # whole listing pages by catalogue generation (api.listing)
        self.webhooks = Webhooks(self)
        self.collections = Collections(self)
        self.discussions = Discussions(self)
        self.gating = Gating(self)
        self._card = lru_cache(maxsize=4096)(lambda blob_sha: card_data(self.git.raw("blob", blob_sha)))
        self.mirror = None  # a pull-through mirror of an upstream hub (hubd.mirror), when one is configured
        if settings.upstream_url:
            from hubd.mirror.refs import MirrorRefs
            from hubd.mirror.service import Mirror

            self.mirror = Mirror(self)
            self.refs = MirrorRefs(db, self.mirror)

    def card(self, commit_sha: str) -> dict | None:
        """cardData of the README.md at a commit (cached by the README's blob id, which is immutable)."""
        entry = self.browse.lookup(commit_sha, "README.md")
        if entry is None or entry.is_dir or entry.lfs is not None:
            return None
        return self._card(entry.sha)

    # --- finding repos, with access rules -------------------------------------------------------------
    def find_repo(self, repo_type: str, namespace: str, name: str) -> Repo | None:
        with self.db.read() as conn:
            # ids are case-insensitive on lookup, as on the Hub; answers carry the canonical spelling
            key = f"{namespace}/{name}".lower()
            row = conn.execute(select(repos).where((repos.c.search_id == key) & (repos.c.type == repo_type))).first()
            if row is None:  # an id the repo had before a move leads to it (the new repo of that name wins)
                row = conn.execute(select(repos).join(repo_redirects, repo_redirects.c.repo_id == repos.c.id).where(
                    (repo_redirects.c.search_id == key) & (repo_redirects.c.type == repo_type))).first()
        return repo_from_row(row) if row else None

    def repo_by_id(self, repo_id: int) -> Repo | None:
        with self.db.read() as conn:
            row = conn.execute(select(repos).where(repos.c.id == repo_id)).first()
        return repo_from_row(row) if row else None

    def repos_of(self, namespace: str, after_id: int, limit: int) -> tuple[list[Repo], int]:
        """A page of a namespace's repos, every type and visibility, by id, and the namespace's total storage
        (for its owner's storage overview)."""
        with self.db.read() as conn:
            rows = conn.execute(select(repos).where((repos.c.namespace == namespace) & (repos.c.id > after_id))
                                .order_by(repos.c.id).limit(limit)).all()
            total = conn.execute(select(func.coalesce(func.sum(repos.c.used_storage), 0))
                                 .where(repos.c.namespace == namespace)).scalar_one()
        return [repo_from_row(r) for r in rows], int(total)

    def read_range(self, repo_id: int, entry: PathEntry, start: int, end: int) -> bytes:
        """Bytes [start, end) of a file, wherever they are kept (git blob, LFS object, Xet)."""
        return b"".join(self.iter_content(repo_id, entry, start, end))

    def linked_object(self, repo_id: int, entry: PathEntry) -> LinkedObject:
        """The large object behind an LFS pointer, if this repo links it (uploaded to or verified for it).

        The one place where a read of stored large-object bytes is authorized (invariant 7): content is
        stored once for everyone, so a pointer naming an object the repo never linked reads as absent, never
        as another repo's bytes."""
        assert entry.lfs is not None
        linked = self.object_of(repo_id, entry.lfs.oid)
        if linked is None and self.mirror is not None and self.mirror.is_mirrored(repo_id):
            linked = self.mirror.fill_now(repo_id, entry)  # verified and linked to this repo, or an error
        if linked is None or linked.size != entry.lfs.size:
            raise EntryNotFound(f"{entry.path}: its LFS object was not uploaded to this repo")
        return linked

    def local_file(self, repo_id: int, entry: PathEntry) -> str | None:
        """A path on this machine holding exactly the file's bytes, when storage is a local directory."""
        if entry.lfs is None:
            return self.blobs.local_path(self.git.blob_key(entry.sha))
        if self.linked_object(repo_id, entry).xet_hash is not None:
            return None  # kept in Xet: only a rebuilt copy has its bytes in one piece
        return self.blobs.local_path(lfs_key(entry.lfs.oid))

    def iter_content(self, repo_id: int, entry: PathEntry, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """A file's bytes [start, end) as a stream of blocks."""
        end = entry.size if end is None else min(end, entry.size)
        if entry.lfs is None:
            yield self.git.raw("blob", entry.sha)[start:end]
            return
        if self.mirror is not None and self.mirror.is_mirrored(repo_id) and not self.mirror.cached(repo_id, entry):
            yield from self.mirror.read_range(repo_id, entry, start, end)  # small ranges read, not filled
            return
        linked = self.linked_object(repo_id, entry)
        if linked.xet_hash is not None:
            f = self.xet.file(linked.xet_hash)
            if f is None:
                raise EntryNotFound(f"{entry.path}: its Xet file is missing")
            yield from self.xet.iter_bytes(f, start, end)
            return
        yield from self.blobs.iter_range(lfs_key(entry.lfs.oid), start, end, 8 * 1024 * 1024)

    def repo_for_read(self, p: Principal | None, repo_type: str, namespace: str, name: str) -> Repo:
        if self.mirror is not None and (mirrored := self.mirror.lookup(p, repo_type, namespace, name, False)):
            return mirrored  # authorized by the upstream
        repo = self.find_repo(repo_type, namespace, name)
        if repo is None or not (access.can_read(p, repo.namespace, repo.private)
                                or access.scoped_read(p, repo.id, repo.namespace)):
            raise RepoNotFound()
        return repo

    def repo_for_download(self, p: Principal | None, repo_type: str, namespace: str, name: str) -> Repo:
        if self.mirror is not None and (mirrored := self.mirror.lookup(p, repo_type, namespace, name, True)):
            return mirrored  # gating decided by the upstream, for this user's upstream identity
        repo = self.repo_for_read(p, repo_type, namespace, name)
        if repo.gated and p is not None and self.gating.may_download(p, repo):  # an accepted access request
            return repo
        if repo.gated and not (access.can_read_gated(p, repo.namespace)
                               or access.scoped_read(p, repo.id, repo.namespace)):
            if p is None:
                raise GatedRepo(f"Access to {repo.type} {repo.repo_id} is restricted. You must have access to it "
                                "and be authenticated to access it. Please log in.")
            raise self.gating.refusal(p, repo)  # pending, rejected or never asked: the Hub's words for each
        return repo

    def repo_for_write(
        self, p: Principal | None, repo_type: str, namespace: str, name: str, minimum: str = "contributor"
    ) -> Repo:
        repo = self.repo_for_read(p, repo_type, namespace, name)
        if self.mirror is not None:
            self.mirror.refuse_write(repo)
        if p is None:
            raise Unauthorized("You must be authenticated to write to a repo")
        if p.scopes is not None:  # a fine-grained token: its scope first, then the account's role
            if access.REPO_WRITE not in p.scopes.on_repo(repo.id, repo.namespace):
                raise Forbidden(access.scope_message(access.REPO_WRITE, f"{repo.type} {repo.repo_id}"))
            p = p.as_write_token()
        if not access.can_write(p, repo.namespace, repo.created_by, minimum):
            raise Forbidden(f"You don't have the rights to write to {repo.repo_id}")
        if minimum == "pr" and not self.gating.may_download(p, repo):  # a PR starts from the gated content
            raise self.gating.refusal(p, repo)
        return repo

    # --- repo lifecycle --------------------------------------------------------------------------------
    def create_repo(
        self, p: Principal, repo_type: str | None, namespace: str | None, name: str, private: bool | None,
        sdk: str | None = None,
    ) -> Repo:
        """A new repo with its first commit; `private=None` takes the namespace's default."""
        repo_type = check_repo_type(repo_type)
        namespace = self._check_new_repo(p, repo_type, namespace, name)
        if repo_type == "space" and (sdk is None or sdk not in SDKS):
            raise BadRequest(f"sdk is required for a Space: one of {', '.join(SDKS)}")
        plan = CommitPlan(summary="initial commit")
        plan.add_file(self.git, ".gitattributes", default_gitattributes(repo_type), lambda _oid: None)
        if repo_type == "space":
            assert sdk is not None
            plan.add_file(self.git, "README.md", space_readme(name, sdk).encode(), lambda _oid: None)
        sha = build_commit(self.git, plan, None, p)
        return self._insert_repo(p, repo_type, namespace, name, private, sdk, sha, [sha], None)

    def duplicate_repo(self, p: Principal, source: Repo, namespace: str | None, name: str,
                       private: bool | None) -> Repo:
        """A new repo whose main is the source's main, history included. Git objects are shared, so nothing
        is copied; the large objects that history names are linked to the new repo (the caller may download
        the source, so this widens nothing), and only those: uploads never committed stay the source's."""
        namespace = self._check_new_repo(p, source.type, namespace, name)
        head = self.refs.get(source, MAIN)
        assert head is not None
        commits, oids = self._history(head)
        return self._insert_repo(p, source.type, namespace, name, private, source.sdk, head, commits,
                                 (source.id, oids))

    def _history(self, head: str) -> tuple[list[str], set[str]]:
        """The commits reachable from `head` and the LFS oids their trees name."""
        commits: list[str] = []
        oids: set[str] = set()

        def read(kind: str, sha: str) -> bytes | None:
            return None if kind == "blob" else self.git.raw(kind, sha)  # a blob's kind is all the walk needs

        for kind, sha, _raw in walk(read, [head], set()):
            if kind == "commit":
                commits.append(sha)
            elif kind == "blob" and (pointer := self.git.blob_info(sha).lfs) is not None:
                oids.add(pointer.oid)
        return commits, oids

    def _check_new_repo(self, p: Principal, repo_type: str, namespace: str | None, name: str) -> str:
        check_repo_name(name)
        namespace = namespace or p.name
        if self.mirror is not None:
            self.mirror.check_create(repo_type, namespace, name)
        if self.accounts.account(namespace) is None:
            raise RepoNotFound(f"Namespace {namespace!r} not found")
        if p.scopes is not None:
            if access.REPO_WRITE not in p.scopes.namespaces.get(namespace, frozenset()):
                raise Forbidden(access.scope_message(access.REPO_WRITE, namespace))
            p = p.as_write_token()
        if not access.has_role(p, namespace, "contributor"):
            raise Forbidden(f"You don't have the rights to create a repo in {namespace!r}")
        return namespace

    def _insert_repo(self, p: Principal, repo_type: str, namespace: str, name: str, private: bool | None,
                     sdk: str | None, head: str, commits: list[str], links: tuple[int, set[str]] | None) -> Repo:
        if private is None:
            owner = self.accounts.account(namespace)
            private = bool(owner and owner.get("private_by_default"))
        now = time.time()
        try:
            with self.db.write() as conn:
                repo_id = int(conn.execute(  # type: ignore[index]  # an INSERT has a primary key
                    insert(repos).values(
                        type=repo_type, namespace=namespace, name=name, private=private, gated="",
                        sdk=sdk if repo_type == "space" else None, created_at=now, last_modified=now,
                        head_sha=head, next_discussion=1, search_id=f"{namespace}/{name}".lower(),
                        created_by=p.user_id,
                    )
                ).inserted_primary_key[0])
                add_if_new(conn, repo_id, MAIN, head)
                emit_repo_created(conn, repo_id)
                rest = [c for c in commits if c != head]
                if rest:
                    conn.execute(insert(repo_commits), [{"repo_id": repo_id, "sha": c} for c in rest])
                if links is not None and links[1]:
                    source_id, oids = links
                    rows = conn.execute(select(repo_objects.c.oid, repo_objects.c.size, repo_objects.c.xet_hash)
                                        .where(repo_objects.c.repo_id == source_id)).all()
                    linked = [{"repo_id": repo_id, "oid": r.oid, "size": r.size, "xet_hash": r.xet_hash}
                              for r in rows if r.oid in oids]
                    if linked:
                        conn.execute(insert(repo_objects), linked)
                enqueue(conn, "derive", repo_id)
                if repo_type == "dataset":
                    enqueue(conn, "parquet", repo_id)
        except IntegrityError:
            raise Conflict(f"You already created this {repo_type} repo") from None
        repo = self.repo_by_id(repo_id)
        assert repo is not None
        return repo

    def delete_repo(self, p: Principal | None, repo_type: str, namespace: str, name: str) -> None:
        repo = self.repo_for_write(p, check_repo_type(repo_type), namespace, name, "write")
        with self.db.write() as conn:
            emit_repo_event(conn, repo, "repo", "delete")  # its deliveries outlive it (they name webhooks)
            # every table that names a repo does so with ON DELETE CASCADE (checked on both engines by
            # tests/api/test_repo_lifecycle.py): refs, commits, objects, discussions, likes, metadata...
            conn.execute(repos.delete().where(repos.c.id == repo.id))

    def move_repo(self, p: Principal | None, repo_type: str, source: str, dest: str) -> Repo:
        repo_type = check_repo_type(repo_type)
        src_ns, _, src_name = source.partition("/")
        dst_ns, _, dst_name = dest.partition("/")
        if not dst_name or "/" in dst_name:
            raise BadRequest(f"Invalid repo id {dest!r}")
        check_repo_name(dst_name)
        repo = self.repo_for_write(p, repo_type, src_ns, src_name, "write")
        if self.accounts.account(dst_ns) is None or not access.has_role(p, dst_ns, "write"):
            raise Forbidden(f"You don't have the rights to move a repo to {dst_ns!r}")
        try:
            with self.db.write() as conn:
                conn.execute(
                    update(repos).where(repos.c.id == repo.id).values(
                        namespace=dst_ns, name=dst_name, search_id=f"{dst_ns}/{dst_name}".lower())
                )
                old = f"{repo.namespace}/{repo.name}".lower()
                new = f"{dst_ns}/{dst_name}".lower()
                conn.execute(repo_redirects.delete().where(
                    (repo_redirects.c.type == repo_type) & repo_redirects.c.search_id.in_([old, new])))
                if old != new:
                    conn.execute(insert(repo_redirects).values(type=repo_type, search_id=old, repo_id=repo.id))
                    emit_repo_event(conn, repo, "repo", "move", moved_to=f"{dst_ns}/{dst_name}")
        except IntegrityError:
            raise Conflict(f"A {repo_type} repository called {dest} already exists") from None
        moved = self.find_repo(repo_type, dst_ns, dst_name)
        assert moved is not None
        return moved

    def update_settings(self, repo: Repo, private: bool | None, gated: object) -> None:
        """Change visibility or gating; the caller got `repo` from repo_for_write(..., "write")."""
        values: dict[str, object] = {}
        if private is not None:
            values["private"] = private
        if gated is not None:
            if gated is False or gated == "false":
                values["gated"] = ""
            elif gated in ("auto", "manual"):
                values["gated"] = gated
            else:
                raise BadRequest("gated must be 'auto', 'manual' or false")
        if values:
            with self.db.write() as conn:
                conn.execute(update(repos).where(repos.c.id == repo.id).values(**values))
                emit_repo_event(conn, repo, "repo.config", "update")

    # --- large objects ---------------------------------------------------------------------------------
    def link_object(self, repo_id: int, oid: str, size: int, xet_hash: str | None = None) -> None:
        """Record that `oid` was uploaded for this repo (its bytes are already stored)."""
        with self.db.write() as conn:
            inserted = insert_if_absent(conn, repo_objects, repo_id=repo_id, oid=oid, size=size, xet_hash=xet_hash)
            if not inserted and xet_hash is not None:
                conn.execute(update(repo_objects).where(
                    (repo_objects.c.repo_id == repo_id) & (repo_objects.c.oid == oid)).values(xet_hash=xet_hash))

    def objects_of(self, repo_id: int, oids: list[str]) -> dict[str, LinkedObject]:
        """oid → (size, xet hash or None) for those of `oids` linked to the repo, in one query."""
        if not oids:
            return {}
        with self.db.read() as conn:
            rows = conn.execute(select(repo_objects.c.oid, repo_objects.c.size, repo_objects.c.xet_hash).where(
                (repo_objects.c.repo_id == repo_id) & repo_objects.c.oid.in_(oids))).all()
        return {r.oid: LinkedObject(int(r.size), r.xet_hash) for r in rows}

    def object_of(self, repo_id: int, oid: str) -> LinkedObject | None:
        """(size, xet hash or None) of a large object linked to the repo, or None."""
        return self.objects_of(repo_id, [oid]).get(oid)

    def copy_links(self, source: Repo, target: Repo, oids: list[str]) -> list[str]:
        """Link to `target` the large objects `source` links (the caller may download `source` and write to
        `target`); returns the oids `source` does not link, which are not copied."""
        known = self.objects_of(source.id, oids)
        for oid, linked in known.items():
            self.link_object(target.id, oid, linked.size, linked.xet_hash)
        return [oid for oid in oids if oid not in known]

    def repo_has_xet_file(self, repo_id: int, xet_hash: str) -> bool:
        with self.db.read() as conn:
            row = conn.execute(select(repo_objects.c.oid).where(
                (repo_objects.c.repo_id == repo_id) & (repo_objects.c.xet_hash == xet_hash)).limit(1)).first()
        return row is not None

    def xet_hashes(self, repo_id: int, oids: list[str]) -> dict[str, str]:
        """sha256 → xet file hash for those of `oids` whose bytes this repo keeps in Xet."""
        return {oid: xet for oid, (_size, xet) in self.objects_of(repo_id, oids).items() if xet}

    # --- commits ---------------------------------------------------------------------------------------
    def commit(
        self, p: Principal, repo: Repo, ref: str | None, plan: CommitPlan, pr_title: str | None = None,
        base_ref: str = MAIN,
    ) -> CommitResult:
        """Apply `plan` to `ref`, or to a new refs/pr/N opened on `base_ref` when `pr_title` is given.

        A commit that loses the race for the ref is rebuilt on the new head; randomised back-off keeps
        many writers on one branch (across replicas) from starving each other."""
        pr_num = int(ref[8:]) if pr_title is None and ref and ref.startswith("refs/pr/") else None
        if pr_num is not None:  # an open PR, and the caller's own unless they may write (hub/discussions.py)
            self.discussions.check_pr_update(p, repo, pr_num)
        for attempt in range(MAX_COMMIT_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, min(0.5, 0.005 * 2**attempt)))
            target_ref = base_ref if pr_title is not None else ref
            assert target_ref is not None
            head = self.refs.get(repo, target_ref)
            if head is None:
                raise RepoNotFound() if target_ref == MAIN else BadRequest(f"Unknown ref {target_ref}")
            check_parent(plan, head)
            sha = build_commit(self.git, plan, head, p)
            try:
                with self.db.write() as conn:
                    if pr_title is not None:
                        num = self.discussions.open_in(conn, p, repo, pr_title, plan.description, True, base_ref,
                                                       "open")
                        add_if_new(conn, repo.id, f"refs/pr/{num}", sha)
                        emit_repo_event(conn, repo, "repo.content", "update",
                                        updated_refs=[ref_update(f"refs/pr/{num}", None, sha)])
                        self.discussions.commit_added(conn, p, repo, num, sha, plan.summary or "Update files")
                        return CommitResult(sha, num)
                    set_if_equals(conn, repo.id, target_ref, head, sha)
                    # queued with the ref move: an event is delivered only for a commit that happened
                    emit_repo_event(conn, repo, "repo.content", "update", head_sha=sha if target_ref == MAIN else None,
                                    updated_refs=[ref_update(target_ref, head, sha)])
                    if pr_num is not None:
                        self.discussions.commit_added(conn, p, repo, pr_num, sha, plan.summary or "Update files")
                    if target_ref == MAIN:
                        enqueue(conn, "derive", repo.id)
                        if repo.type == "dataset":
                            enqueue(conn, "parquet", repo.id)
                    return CommitResult(sha)
            except RefConflict:
                continue
        raise too_many_retries()

    # --- discussions (hub/discussions.py) -----------------------------------------------------------------
    def open_discussion(self, p: Principal, repo: Repo, title: str, description: str, is_pr: bool) -> int:
        return self.discussions.open(p, repo, title, description, is_pr)

    def discussion(self, repo: Repo, num: int) -> dict | None:
        return self.discussions.get(repo, num)

    # --- branches and tags -----------------------------------------------------------------------------
    def create_branch(self, p: Principal | None, repo: Repo, branch: str, start: str | None, empty: bool) -> None:
        check_ref_name(branch)
        if empty:
            author = p
            assert author is not None
            sha = self.git.add(new_commit(TreeEditor(self.git, None).write(), [], "Empty branch\n", author))
        else:
            sha = self.refs.resolve(repo, start or "main")
        self._create_ref(repo, f"refs/heads/{branch}", sha)

    def create_tag(self, repo: Repo, tag: str, revision: str) -> None:
        sha = self.refs.resolve(repo, revision)  # a missing revision is a 404 before the tag name is looked at
        check_ref_name(tag)
        self._create_ref(repo, f"refs/tags/{tag}", sha)

    def _create_ref(self, repo: Repo, name: str, sha: str) -> None:
        try:
            with self.db.write() as conn:
                add_if_new(conn, repo.id, name, sha)
                emit_repo_event(conn, repo, "repo.content", "update", updated_refs=[ref_update(name, None, sha)])
        except RefConflict:
            raise Conflict(f"Reference {name} already exists") from None

    def delete_ref(self, repo: Repo, name: str, what: str) -> None:
        if name == MAIN:
            raise Forbidden(f"Cannot delete {MAIN}")
        for _ in range(5):
            target = self.refs.get(repo, name)
            if target is None:
                raise RevisionNotFound(f"{what} not found")
            try:
                with self.db.write() as conn:
                    remove_if_equals(conn, repo.id, name, target)
                    emit_repo_event(conn, repo, "repo.content", "update", updated_refs=[ref_update(name, target, None)])
                return
            except RefConflict:
                continue
        raise too_many_retries()
