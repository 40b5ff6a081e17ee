"""Branches and tags as a user creates and deletes them (commits move them in hub/committer.py), each
change announced to webhooks in the transaction that makes it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hubd.hub.access import Principal
from hubd.hub.commits import new_commit, too_many_retries
from hubd.hub.errors import Conflict, Forbidden, RevisionNotFound
from hubd.hub.models import Repo
from hubd.hub.names import check_ref_name
from hubd.hub.refs import MAIN, RefConflict, add_if_new, remove_if_equals
from hubd.hub.treeedit import TreeEditor
from hubd.hub.webhooks import emit_repo_event, ref_update

if TYPE_CHECKING:
    from hubd.hub.service import Hub


class Branches:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def create(self, p: Principal | None, repo: Repo, branch: str, start: str | None, empty: bool) -> None:
        check_ref_name(branch)
        if empty:
            author = p
            assert author is not None
            git = self.hub.git
            sha = git.add(new_commit(TreeEditor(git, None).write(), [], "Empty branch\n", author))
        else:
            sha = self.hub.refs.resolve(repo, start or "main")
        self._create_ref(repo, f"refs/heads/{branch}", sha)

    def create_tag(self, repo: Repo, tag: str, revision: str) -> None:
        sha = self.hub.refs.resolve(repo, revision)  # a missing revision is a 404 before the tag name is looked at
        check_ref_name(tag)
        self._create_ref(repo, f"refs/tags/{tag}", sha)

    def _create_ref(self, repo: Repo, name: str, sha: str) -> None:
        try:
            with self.hub.db.write() as conn:
                add_if_new(conn, repo.id, name, sha)
                emit_repo_event(conn, repo, "repo.content", "update", updated_refs=[ref_update(name, None, sha)])
        except RefConflict:
            raise Conflict(f"Reference {name} already exists") from None

    def delete(self, repo: Repo, name: str, what: str) -> None:
        """Delete the branch or tag `name` (a full ref name); `what` names it in the not-found answer."""
        if name == MAIN:
            raise Forbidden(f"Cannot delete {MAIN}")
        for _ in range(5):
            target = self.hub.refs.get(repo, name)
            if target is None:
                raise RevisionNotFound(f"{what} not found")
            try:
                with self.hub.db.write() as conn:
                    remove_if_equals(conn, repo.id, name, target)
                    emit_repo_event(conn, repo, "repo.content", "update", updated_refs=[ref_update(name, target, None)])
                return
            except RefConflict:
                continue
        raise too_many_retries()
