"""Repos and who may reach them: finding a repo (by id, by name, through an old name), the access rules a
read, a download or a write must pass, and a repo's lifecycle (create, duplicate, move, settings, delete)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hubd.db.schema import repo_commits, repo_objects, repo_redirects, repos
from hubd.hub import access
from hubd.hub.access import Principal
from hubd.hub.cardcheck import SDKS
from hubd.hub.commits import CommitPlan, build_commit
from hubd.hub.errors import BadRequest, Conflict, Forbidden, GatedRepo, RepoNotFound, Unauthorized
from hubd.hub.gitattributes import default_gitattributes
from hubd.hub.models import Repo, repo_from_row
from hubd.hub.names import check_repo_name, check_repo_type
from hubd.hub.refs import MAIN, add_if_new
from hubd.hub.webhooks import emit_repo_created, emit_repo_event
from hubd.jobs.queue import enqueue
from hubd.storage.gitwalk import walk

if TYPE_CHECKING:
    from hubd.hub.service import Hub


def space_readme(name: str, sdk: str) -> str:
    """The README.md the Hub writes into a new Space: its configuration in the front matter."""
    return (f"---\ntitle: {name}\nemoji: 🚀\ncolorFrom: blue\ncolorTo: green\nsdk: {sdk}\npinned: false\n---\n\n"
            "Check out the configuration reference at https://huggingface.co/docs/hub/spaces-config-reference\n")


class Repos:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.db = hub.db

    # --- finding repos ---------------------------------------------------------------------------------
    def find(self, repo_type: str, namespace: str, name: str) -> Repo | None:
        with self.db.read() as conn:
            # ids are case-insensitive on lookup, as on the Hub; answers carry the canonical spelling
            key = f"{namespace}/{name}".lower()
            row = conn.execute(select(repos).where((repos.c.search_id == key) & (repos.c.type == repo_type))).first()
            if row is None:  # an id the repo had before a move leads to it (the new repo of that name wins)
                row = conn.execute(select(repos).join(repo_redirects, repo_redirects.c.repo_id == repos.c.id).where(
                    (repo_redirects.c.search_id == key) & (repo_redirects.c.type == repo_type))).first()
        return repo_from_row(row) if row else None

    def by_id(self, repo_id: int) -> Repo | None:
        with self.db.read() as conn:
            row = conn.execute(select(repos).where(repos.c.id == repo_id)).first()
        return repo_from_row(row) if row else None

    def of_namespace(self, namespace: str, after_id: int, limit: int) -> tuple[list[Repo], int]:
        """A page of a namespace's repos, every type and visibility, by id, and the namespace's total storage
        (for its owner's storage overview)."""
        with self.db.read() as conn:
            rows = conn.execute(select(repos).where((repos.c.namespace == namespace) & (repos.c.id > after_id))
                                .order_by(repos.c.id).limit(limit)).all()
            total = conn.execute(select(func.coalesce(func.sum(repos.c.used_storage), 0))
                                 .where(repos.c.namespace == namespace)).scalar_one()
        return [repo_from_row(r) for r in rows], int(total)

    # --- access rules ----------------------------------------------------------------------------------
    def for_read(self, p: Principal | None, repo_type: str, namespace: str, name: str) -> Repo:
        mirror = self.hub.mirror
        if mirror is not None and (mirrored := mirror.lookup(p, repo_type, namespace, name, False)):
            return mirrored  # authorized by the upstream
        repo = self.find(repo_type, namespace, name)
        if repo is None or not (access.can_read(p, repo.namespace, repo.private)
                                or access.scoped_read(p, repo.id, repo.namespace)):
            raise RepoNotFound()
        return repo

    def for_download(self, p: Principal | None, repo_type: str, namespace: str, name: str) -> Repo:
        mirror, gating = self.hub.mirror, self.hub.gating
        if mirror is not None and (mirrored := mirror.lookup(p, repo_type, namespace, name, True)):
            return mirrored  # gating decided by the upstream, for this user's upstream identity
        repo = self.for_read(p, repo_type, namespace, name)
        if repo.gated and p is not None and gating.may_download(p, repo):  # an accepted access request
            return repo
        if repo.gated and not (access.can_read_gated(p, repo.namespace)
                               or access.scoped_read(p, repo.id, repo.namespace)):
            if p is None:
                raise GatedRepo(f"Access to {repo.type} {repo.repo_id} is restricted. You must have access to it "
                                "and be authenticated to access it. Please log in.")
            raise gating.refusal(p, repo)  # pending, rejected or never asked: the Hub's words for each
        return repo

    def for_write(
        self, p: Principal | None, repo_type: str, namespace: str, name: str, minimum: str = "contributor"
    ) -> Repo:
        repo = self.for_read(p, repo_type, namespace, name)
        if self.hub.mirror is not None:
            self.hub.mirror.refuse_write(repo)
        if p is None:
            raise Unauthorized("You must be authenticated to write to a repo")
        if p.scopes is not None:  # a fine-grained token: its scope first, then the account's role
            if access.REPO_WRITE not in p.scopes.on_repo(repo.id, repo.namespace):
                raise Forbidden(access.scope_message(access.REPO_WRITE, f"{repo.type} {repo.repo_id}"))
            p = p.as_write_token()
        if not access.can_write(p, repo.namespace, repo.created_by, minimum):
            raise Forbidden(f"You don't have the rights to write to {repo.repo_id}")
        if minimum == "pr" and not self.hub.gating.may_download(p, repo):  # a PR starts from the gated content
            raise self.hub.gating.refusal(p, repo)
        return repo

    # --- lifecycle -------------------------------------------------------------------------------------
    def create(
        self, p: Principal, repo_type: str | None, namespace: str | None, name: str, private: bool | None,
        sdk: str | None = None,
    ) -> Repo:
        """A new repo with its first commit; `private=None` takes the namespace's default."""
        git = self.hub.git
        repo_type = check_repo_type(repo_type)
        namespace = self._check_new_repo(p, repo_type, namespace, name)
        if repo_type == "space" and (sdk is None or sdk not in SDKS):
            raise BadRequest(f"sdk is required for a Space: one of {', '.join(SDKS)}")
        plan = CommitPlan(summary="initial commit")
        plan.add_file(git, ".gitattributes", default_gitattributes(repo_type), lambda _oid: None)
        if repo_type == "space":
            assert sdk is not None
            plan.add_file(git, "README.md", space_readme(name, sdk).encode(), lambda _oid: None)
        sha = build_commit(git, plan, None, p)
        return self._insert_repo(p, repo_type, namespace, name, private, sdk, sha, [sha], None)

    def duplicate(self, p: Principal, source: Repo, namespace: str | None, name: str,
                  private: bool | None) -> Repo:
        """A new repo whose main is the source's main, history included. Git objects are shared, so nothing
        is copied; the large objects that history names are linked to the new repo (the caller may download
        the source, so this widens nothing), and only those: uploads never committed stay the source's."""
        namespace = self._check_new_repo(p, source.type, namespace, name)
        head = self.hub.refs.get(source, MAIN)
        assert head is not None
        commits, oids = self._history(head)
        return self._insert_repo(p, source.type, namespace, name, private, source.sdk, head, commits,
                                 (source.id, oids))

    def _history(self, head: str) -> tuple[list[str], set[str]]:
        """The commits reachable from `head` and the LFS oids their trees name."""
        git = self.hub.git
        commits: list[str] = []
        oids: set[str] = set()

        def read(kind: str, sha: str) -> bytes | None:
            return None if kind == "blob" else git.raw(kind, sha)  # a blob's kind is all the walk needs

        for kind, sha, _raw in walk(read, [head], set()):
            if kind == "commit":
                commits.append(sha)
            elif kind == "blob" and (pointer := git.blob_info(sha).lfs) is not None:
                oids.add(pointer.oid)
        return commits, oids

    def _check_new_repo(self, p: Principal, repo_type: str, namespace: str | None, name: str) -> str:
        check_repo_name(name)
        namespace = namespace or p.name
        if self.hub.mirror is not None:
            self.hub.mirror.check_create(repo_type, namespace, name)
        if self.hub.accounts.account(namespace) is None:
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
            owner = self.hub.accounts.account(namespace)
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
        repo = self.by_id(repo_id)
        assert repo is not None
        return repo

    def delete(self, p: Principal | None, repo_type: str, namespace: str, name: str) -> None:
        repo = self.for_write(p, check_repo_type(repo_type), namespace, name, "write")
        with self.db.write() as conn:
            emit_repo_event(conn, repo, "repo", "delete")  # its deliveries outlive it (they name webhooks)
            # every table that names a repo does so with ON DELETE CASCADE (checked on both engines by
            # tests/api/test_repo_lifecycle.py): refs, commits, objects, discussions, likes, metadata...
            conn.execute(repos.delete().where(repos.c.id == repo.id))

    def move(self, p: Principal | None, repo_type: str, source: str, dest: str) -> Repo:
        repo_type = check_repo_type(repo_type)
        src_ns, _, src_name = source.partition("/")
        dst_ns, _, dst_name = dest.partition("/")
        if not dst_name or "/" in dst_name:
            raise BadRequest(f"Invalid repo id {dest!r}")
        check_repo_name(dst_name)
        repo = self.for_write(p, repo_type, src_ns, src_name, "write")
        if self.hub.accounts.account(dst_ns) is None or not access.has_role(p, dst_ns, "write"):
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
        moved = self.find(repo_type, dst_ns, dst_name)
        assert moved is not None
        return moved

    def update_settings(self, repo: Repo, private: bool | None, gated: object) -> None:
        """Change visibility or gating; the caller got `repo` from for_write(..., "write")."""
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
