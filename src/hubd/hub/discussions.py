"""Discussions and pull requests: opening them, their events (comments, status and title changes, commits
pushed to a PR), who may change what, and merging a PR into its base branch (refs move by CAS only)."""

from __future__ import annotations

import builtins
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, select, update

from hubd.db.schema import accounts, discussion_events, discussions, refs, repos
from hubd.hub import access, treediff
from hubd.hub.access import Principal
from hubd.hub.errors import BadRequest, Forbidden, NotFound, Unauthorized
from hubd.hub.models import Repo
from hubd.hub.refs import MAIN, RefConflict, add_if_new, set_if_equals
from hubd.jobs.queue import enqueue

emit_discussion_event: Callable[[Connection, Repo, dict, str, dict | None], int] | None
try:  # webhooks (issue 13 part B): discussion events are queued in the transaction that makes them
    from hubd.hub.webhooks import emit_discussion_event
except ImportError:  # pragma: no cover - a tree without webhooks emits nothing
    emit_discussion_event = None

if TYPE_CHECKING:
    from hubd.hub.service import Hub

PER_PAGE = 50  # discussions per page of the listing, as on the Hub
MAX_TITLE = 500
MAX_COMMENT = 65_536  # characters of one comment (the Hub's limit is of this order)
MAX_EVENTS = 5_000  # events shown in one discussion's details
OPEN = ("open", "draft")


def event_id() -> str:
    """24 hex digits, the shape of the Hub's (MongoDB) event ids, which the client lower-cases and echoes."""
    return secrets.token_hex(12)


def check_text(value: object, what: str, limit: int, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise BadRequest(f"{what} is required, a string of at most {limit} characters" if required
                         else f"{what} must be a string of at most {limit} characters")
    if "\0" in value:
        raise BadRequest(f"{what} cannot contain NUL characters")
    return value


class Discussions:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.db = hub.db

    # --- who may do what ----------------------------------------------------------------------------------
    def is_writer(self, p: Principal | None, repo: Repo) -> bool:
        """May commit to the repo's branches: closes, renames, reopens and merges anyone's discussions."""
        return access.can_write(p, repo.namespace, repo.created_by, "contributor")

    def is_author(self, p: Principal | None, d: dict) -> bool:
        return p is not None and p.token_role != "read" and d["author_id"] == p.user_id

    def need_author_or_writer(self, p: Principal | None, repo: Repo, d: dict, what: str) -> None:
        if p is None:
            raise Unauthorized(f"You must be authenticated to {what}")
        if not (self.is_author(p, d) or self.is_writer(p, repo)):
            raise Forbidden(f"Only the author of this discussion or the repo's writers can {what}")

    def check_pr_update(self, p: Principal | None, repo: Repo, num: int) -> dict:
        """Before commits go to refs/pr/N: it is an open pull request, and it is the caller's or they write."""
        d = self.get(repo, num)
        if d is None or not d["is_pull_request"]:
            raise BadRequest(f"refs/pr/{num} is not a pull request")
        if d["status"] not in OPEN:
            raise BadRequest(f"Pull request #{num} is {d['status']}: commits can only be added to an open one")
        if not (self.is_author(p, d) or self.is_writer(p, repo)):
            raise Forbidden(f"Only the author of pull request #{num} or the repo's writers can push to it")
        return d

    # --- opening --------------------------------------------------------------------------------------------
    def open_in(self, conn: Connection, p: Principal, repo: Repo, title: str, description: str, is_pr: bool,
                base_ref: str, status: str) -> int:
        """A new discussion inside the caller's write transaction; its description is its first comment."""
        num = conn.execute(select(repos.c.next_discussion).where(repos.c.id == repo.id)).scalar_one()
        conn.execute(update(repos).where(repos.c.id == repo.id).values(next_discussion=num + 1))
        now = time.time()
        conn.execute(insert(discussions).values(
            repo_id=repo.id, num=num, title=title or "Untitled", description=description, author_id=p.user_id,
            is_pull_request=is_pr, status=status, created_at=now, base_ref=base_ref if is_pr else None, events=[]))
        if description:
            self._add_event(conn, repo, int(num), "comment", p, _comment_data(description, p, now), now)
        self._emit(conn, repo, int(num), "create")
        return int(num)

    def open(self, p: Principal, repo: Repo, title: str, description: str, is_pr: bool) -> int:
        """A discussion, or a draft pull request whose refs/pr/N starts at main's head."""
        with self.db.write() as conn:
            num = self.open_in(conn, p, repo, title, description, is_pr, MAIN, "draft" if is_pr else "open")
            if is_pr:
                head = conn.execute(select(refs.c.target).where(
                    (refs.c.repo_id == repo.id) & (refs.c.name == MAIN))).scalar_one()
                add_if_new(conn, repo.id, f"refs/pr/{num}", head)
        return num

    def commit_added(self, conn: Connection, p: Principal, repo: Repo, num: int, sha: str, subject: str) -> None:
        """A commit pushed to refs/pr/N (in the transaction that moved it); a draft with changes is open."""
        self._add_event(conn, repo, num, "commit", p, {"subject": subject, "oid": sha}, time.time())
        conn.execute(update(discussions).where(
            (discussions.c.repo_id == repo.id) & (discussions.c.num == num) & (discussions.c.status == "draft"))
            .values(status="open"))
        self._emit(conn, repo, num, "update")

    # --- reading --------------------------------------------------------------------------------------------
    def get(self, repo: Repo, num: int) -> dict | None:
        with self.db.read() as conn:
            row = conn.execute(
                select(discussions, accounts.c.name.label("author"))
                .outerjoin(accounts, accounts.c.id == discussions.c.author_id)
                .where((discussions.c.repo_id == repo.id) & (discussions.c.num == num))
            ).mappings().first()
        return dict(row) if row else None

    def require(self, repo: Repo, num: int) -> dict:
        d = self.get(repo, num)
        if d is None:
            raise NotFound("Discussion not found")
        return d

    def list(self, repo: Repo, kind: str = "all", status: str = "all", author: str | None = None,
             page: int = 0) -> tuple[list[dict], int, int]:
        """A page of discussions, newest first, with the filters the client sends; the total that match, and
        the number of closed ones."""
        cond = discussions.c.repo_id == repo.id
        if kind != "all":
            cond &= discussions.c.is_pull_request == (kind == "pull_request")
        if status == "open":
            cond &= discussions.c.status.in_(OPEN)
        elif status == "closed":
            cond &= discussions.c.status.in_(("closed", "merged"))
        with self.db.read() as conn:
            if author is not None:
                author_id = conn.execute(select(accounts.c.id).where(accounts.c.name == author)).scalar()
                cond &= discussions.c.author_id == author_id if author_id is not None else discussions.c.num < 0
            total = conn.execute(select(func.count()).select_from(discussions).where(cond)).scalar_one()
            closed = conn.execute(select(func.count()).select_from(discussions).where(
                (discussions.c.repo_id == repo.id) & discussions.c.status.in_(("closed", "merged")))).scalar_one()
            rows = [dict(r) for r in conn.execute(
                select(discussions, accounts.c.name.label("author"))
                .outerjoin(accounts, accounts.c.id == discussions.c.author_id)
                .where(cond).order_by(discussions.c.num.desc()).offset(page * PER_PAGE).limit(PER_PAGE)
            ).mappings()]
            counts: dict[int, int] = dict(conn.execute(
                select(discussion_events.c.num, func.count()).where(
                    (discussion_events.c.repo_id == repo.id) & (discussion_events.c.type == "comment")
                    & discussion_events.c.num.in_([r["num"] for r in rows]))
                .group_by(discussion_events.c.num)).tuples().all()) if rows else {}
        for r in rows:
            r["num_comments"] = counts.get(r["num"], 0)
        return rows, int(total), int(closed)

    def events(self, repo: Repo, num: int) -> builtins.list[dict]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(discussion_events, accounts.c.name.label("author"), accounts.c.fullname.label("fullname"))
                .outerjoin(accounts, accounts.c.id == discussion_events.c.author_id)
                .where((discussion_events.c.repo_id == repo.id) & (discussion_events.c.num == num))
                .order_by(discussion_events.c.created_at, discussion_events.c.id).limit(MAX_EVENTS)
            ).mappings().all()
        return [dict(r) for r in rows]

    def pr_state(self, repo: Repo, d: dict, with_diff: bool) -> tuple[builtins.list[str], str | None]:
        """(conflicting files, diff) of a pull request against its base branch as it is now."""
        git = self.hub.git
        head = self.hub.refs.get(repo, f"refs/pr/{d['num']}")
        base = self.hub.refs.get(repo, d["base_ref"] or MAIN)
        if head is None or base is None:
            return [], None
        if d["status"] == "merged":
            return [], treediff.unified_diff(git, base, head) if with_diff else None
        conflicts = treediff.conflicting_files(git, base, head)
        return conflicts, treediff.unified_diff(git, base, head) if with_diff else None

    # --- changing -------------------------------------------------------------------------------------------
    def comment(self, p: Principal, repo: Repo, num: int, text: object) -> dict:
        text = check_text(text, "comment", MAX_COMMENT)
        self.require(repo, num)
        now = time.time()
        with self.db.write() as conn:
            eid = self._add_event(conn, repo, num, "comment", p, _comment_data(text, p, now), now)
            self._emit(conn, repo, num, "create", eid)
        return self._event(repo, num, eid)

    def _comment(self, repo: Repo, num: int, eid: object) -> dict:
        if not isinstance(eid, str) or len(eid) != 24:
            raise NotFound("Comment not found")
        for e in self.events(repo, num):
            if e["id"] == eid and e["type"] == "comment":
                return e
        raise NotFound("Comment not found")

    def edit_comment(self, p: Principal, repo: Repo, num: int, eid: str, text: object) -> dict:
        text = check_text(text, "content", MAX_COMMENT)
        self.require(repo, num)
        e = self._comment(repo, num, eid)
        if e["author_id"] != p.user_id or p.token_role == "read":
            raise Forbidden("Only the author of a comment can edit it")
        if e["data"].get("hidden"):
            raise BadRequest("A hidden comment cannot be edited")
        now = time.time()
        data = dict(e["data"])
        data["history"] = [{"raw": data["raw"], "updatedAt": data["updated_at"], "author": data.get("editor")},
                           *data.get("history", [])][:50]
        data.update(raw=text, edited=True, updated_at=now, editor=p.name)
        self._update_event(repo, num, eid, data)
        return self._event(repo, num, eid)

    def hide_comment(self, p: Principal, repo: Repo, num: int, eid: str) -> dict:
        d = self.require(repo, num)
        e = self._comment(repo, num, eid)
        if not ((e["author_id"] == p.user_id and p.token_role != "read") or self.is_writer(p, repo)):
            raise Forbidden("Only the author of a comment or the repo's writers can hide it")
        del d
        data = dict(e["data"])
        # as on the Hub, a hidden comment's content is gone for good (history included)
        data.update(raw="This comment has been hidden", hidden=True, history=[], hidden_by=p.name)
        self._update_event(repo, num, eid, data)
        return self._event(repo, num, eid)

    def rename(self, p: Principal | None, repo: Repo, num: int, title: object) -> dict:
        d = self.require(repo, num)
        self.need_author_or_writer(p, repo, d, "rename it")
        assert p is not None
        title = check_text(title, "title", MAX_TITLE).strip()
        now = time.time()
        with self.db.write() as conn:
            conn.execute(update(discussions).where(
                (discussions.c.repo_id == repo.id) & (discussions.c.num == num)).values(title=title))
            eid = self._add_event(conn, repo, num, "title-change", p, {"from": d["title"], "to": title}, now)
            self._emit(conn, repo, num, "update")
        return self._event(repo, num, eid)

    def set_status(self, p: Principal | None, repo: Repo, num: int, status: object, comment: object) -> dict:
        d = self.require(repo, num)
        self.need_author_or_writer(p, repo, d, "change its status")
        assert p is not None
        if status not in ("open", "closed"):
            raise BadRequest("status must be 'open' or 'closed'")
        text = check_text(comment, "comment", MAX_COMMENT, required=False).strip()
        if d["status"] == "merged":
            raise BadRequest("A merged pull request cannot change status")
        if d["status"] == status or (status == "open" and d["status"] == "draft"):
            raise BadRequest(f"This discussion is already {d['status']}")
        now = time.time()
        with self.db.write() as conn:
            conn.execute(update(discussions).where(
                (discussions.c.repo_id == repo.id) & (discussions.c.num == num)).values(status=status))
            if text:
                self._add_event(conn, repo, num, "comment", p, _comment_data(text, p, now), now)
            eid = self._add_event(conn, repo, num, "status-change", p, {"status": status}, now + 1e-6)
            self._emit(conn, repo, num, "update")
        return self._event(repo, num, eid)

    def merge(self, p: Principal, repo: Repo, num: int, comment: object) -> str:
        """Move the base branch to the PR's head (fast-forward) or to a merge commit; a conflict changes
        nothing. The ref moves by CAS in the transaction that marks the PR merged."""
        text = check_text(comment, "comment", MAX_COMMENT, required=False).strip()
        for _ in range(20):
            d = self.require(repo, num)
            if not d["is_pull_request"]:
                raise BadRequest("Only pull requests can be merged")
            if d["status"] not in OPEN:
                raise BadRequest(f"This pull request is {d['status']}")
            base_ref = d["base_ref"] or MAIN
            head = self.hub.refs.get(repo, f"refs/pr/{num}")
            base = self.hub.refs.get(repo, base_ref)
            if head is None or base is None:
                raise BadRequest(f"The target branch {base_ref} of this pull request is gone")
            message = f"Merge refs/pr/{num}: {d['title']}\n"
            sha = treediff.merge(self.hub.git, base, head, message, p)
            now = time.time()
            try:
                with self.db.write() as conn:
                    set_if_equals(conn, repo.id, base_ref, base, sha)
                    changed = conn.execute(update(discussions).where(
                        (discussions.c.repo_id == repo.id) & (discussions.c.num == num)
                        & discussions.c.status.in_(OPEN)).values(status="merged", merge_commit=sha)).rowcount
                    if changed != 1:
                        raise RefConflict(base_ref)  # merged or closed meanwhile: roll back the move
                    if text:
                        self._add_event(conn, repo, num, "comment", p, _comment_data(text, p, now), now)
                    self._add_event(conn, repo, num, "status-change", p, {"status": "merged"}, now + 1e-6)
                    self._emit(conn, repo, num, "update")
                    if base_ref == MAIN:  # the post-commit jobs of any commit to main
                        enqueue(conn, "derive", repo.id)
                        if repo.type == "dataset":
                            enqueue(conn, "parquet", repo.id)
            except RefConflict:
                continue
            return sha
        raise BadRequest("The target branch kept moving while merging; try again")

    # --- events -------------------------------------------------------------------------------------------
    def _add_event(self, conn: Connection, repo: Repo, num: int, kind: str, p: Principal, data: dict,
                   at: float) -> str:
        eid = event_id()
        conn.execute(insert(discussion_events).values(id=eid, repo_id=repo.id, num=num, type=kind,
                                                      author_id=p.user_id, created_at=at, data=data))
        return eid

    def _update_event(self, repo: Repo, num: int, eid: str, data: dict) -> None:
        with self.db.write() as conn:
            conn.execute(update(discussion_events).where(discussion_events.c.id == eid).values(data=data))
            self._emit(conn, repo, num, "update", eid)

    def _event(self, repo: Repo, num: int, eid: str) -> dict:
        return next(e for e in self.events(repo, num) if e["id"] == eid)

    def _emit(self, conn: Connection, repo: Repo, num: int, action: str, comment_id: str | None = None) -> None:
        """Queue the webhook deliveries of a change, in the transaction that makes it (a rollback drops them)."""
        if emit_discussion_event is None:
            return
        d = conn.execute(select(discussions).where(
            (discussions.c.repo_id == repo.id) & (discussions.c.num == num))).mappings().one()
        comment = None
        if comment_id is not None:
            e = conn.execute(select(discussion_events).where(discussion_events.c.id == comment_id)).mappings().one()
            comment = {"id": e["id"], "content": e["data"].get("raw"), "hidden": bool(e["data"].get("hidden")),
                       "author_id": e["author_id"]}
        emit_discussion_event(conn, repo, dict(d), action, comment)


def _comment_data(text: str, p: Principal, at: float) -> dict[str, Any]:
    return {"raw": text, "edited": False, "hidden": False, "history": [], "updated_at": at, "editor": p.name}
