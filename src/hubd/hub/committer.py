"""Applying a commit plan to a branch or a pull request: built on the current head, the ref moved by
compare-and-swap with its webhook event and derived jobs, rebuilt when another writer won the race."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hubd.hub.access import Principal
from hubd.hub.commits import CommitPlan, build_commit, check_parent, too_many_retries
from hubd.hub.errors import BadRequest, RepoNotFound
from hubd.hub.models import Repo
from hubd.hub.refs import MAIN, RefConflict, add_if_new, set_if_equals
from hubd.hub.webhooks import emit_repo_event, ref_update
from hubd.jobs.queue import enqueue

if TYPE_CHECKING:
    from hubd.hub.service import Hub

MAX_COMMIT_ATTEMPTS = 60


@dataclass(frozen=True)
class CommitResult:
    sha: str
    pr_num: int | None = None


class Committer:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def commit(
        self, p: Principal, repo: Repo, ref: str | None, plan: CommitPlan, pr_title: str | None = None,
        base_ref: str = MAIN,
    ) -> CommitResult:
        """Apply `plan` to `ref`, or to a new refs/pr/N opened on `base_ref` when `pr_title` is given.

        A commit that loses the race for the ref is rebuilt on the new head; randomised back-off keeps
        many writers on one branch (across replicas) from starving each other."""
        hub, discussions = self.hub, self.hub.discussions
        pr_num = int(ref[8:]) if pr_title is None and ref and ref.startswith("refs/pr/") else None
        if pr_num is not None:  # an open PR, and the caller's own unless they may write (hub/discussions.py)
            discussions.check_pr_update(p, repo, pr_num)
        for attempt in range(MAX_COMMIT_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, min(0.5, 0.005 * 2**attempt)))
            target_ref = base_ref if pr_title is not None else ref
            assert target_ref is not None
            head = hub.refs.get(repo, target_ref)
            if head is None:
                raise RepoNotFound() if target_ref == MAIN else BadRequest(f"Unknown ref {target_ref}")
            check_parent(plan, head)
            sha = build_commit(hub.git, plan, head, p)
            try:
                with hub.db.write() as conn:
                    if pr_title is not None:
                        num = discussions.open_in(conn, p, repo, pr_title, plan.description, True, base_ref, "open")
                        add_if_new(conn, repo.id, f"refs/pr/{num}", sha)
                        emit_repo_event(conn, repo, "repo.content", "update",
                                        updated_refs=[ref_update(f"refs/pr/{num}", None, sha)])
                        discussions.commit_added(conn, p, repo, num, sha, plan.summary or "Update files")
                        return CommitResult(sha, num)
                    set_if_equals(conn, repo.id, target_ref, head, sha)
                    # queued with the ref move: an event is delivered only for a commit that happened
                    emit_repo_event(conn, repo, "repo.content", "update", head_sha=sha if target_ref == MAIN else None,
                                    updated_refs=[ref_update(target_ref, head, sha)])
                    if pr_num is not None:
                        discussions.commit_added(conn, p, repo, pr_num, sha, plan.summary or "Update files")
                    if target_ref == MAIN:
                        enqueue(conn, "derive", repo.id)
                        if repo.type == "dataset":
                            enqueue(conn, "parquet", repo.id)
                    return CommitResult(sha)
            except RefConflict:
                continue
        raise too_many_retries()
