"""Gated repos: who may download them (members of the namespace, and users whose access request was accepted),
the form a requester fills (the card's `extra_gated_fields`), and the owners' review of requests."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from hubd.db.schema import access_requests, accounts
from hubd.hub import access
from hubd.hub.access import Principal
from hubd.hub.errors import BadRequest, GatedRepo, NotFound
from hubd.hub.models import Repo

if TYPE_CHECKING:
    from hubd.hub.service import Hub

STATUSES = ("pending", "accepted", "rejected")
MAX_FIELDS = 50  # fields of one form (a card may declare more: the rest are not asked)
MAX_FIELD_VALUE = 2_000
MAX_REASON = 200  # the client documents a 200-character rejection reason
TRUE_VALUES = ("on", "true", "1", "yes", "checked")


class Gating:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.db = hub.db

    # --- downloads ------------------------------------------------------------------------------------------
    def status_of(self, repo: Repo, user_id: int) -> str | None:
        with self.db.read() as conn:
            return conn.execute(select(access_requests.c.status).where(
                (access_requests.c.repo_id == repo.id) & (access_requests.c.user_id == user_id))).scalar()

    def may_download(self, p: Principal | None, repo: Repo) -> bool:
        if not repo.gated or access.can_read_gated(p, repo.namespace):
            return True
        return p is not None and self.status_of(repo, p.user_id) == "accepted"

    def refusal(self, p: Principal | None, repo: Repo) -> GatedRepo:
        """The Hub's GatedRepo answer, word for word, for where the caller stands."""
        what = f"{repo.type} {repo.repo_id}"
        if p is None:
            return GatedRepo(f"Access to {what} is restricted. You must have access to it and be authenticated "
                             "to access it. Please log in.")
        status = self.status_of(repo, p.user_id)
        if status == "pending":
            return GatedRepo(f"Your request to access {what} is awaiting a review from the repo authors.")
        if status == "rejected":
            return GatedRepo(f"Your request to access {what} has been rejected by the repo's authors.")
        return GatedRepo(f"Access to {what} is restricted and you are not in the authorized list. "
                         f"Visit {self.hub.settings.base_url}/{repo.url_path} to ask for access.")

    # --- requests -------------------------------------------------------------------------------------------
    def form_fields(self, repo: Repo) -> dict[str, Any]:
        """label -> kind of the fields the card asks for (`extra_gated_fields`), at most MAX_FIELDS."""
        card = self.hub.content.card(repo.head_sha) if repo.head_sha else None
        fields = (card or {}).get("extra_gated_fields")
        if not isinstance(fields, dict):
            return {}
        return {str(k): v for k, v in list(fields.items())[:MAX_FIELDS]}

    def check_form(self, repo: Repo, form: dict[str, str]) -> dict[str, str] | None:
        """The answers to the card's fields: every field answered, checkboxes checked, values bounded."""
        wanted = self.form_fields(repo)
        if not wanted:
            return None
        answers: dict[str, str] = {}
        for label, kind in wanted.items():
            value = form.get(label, "").strip()
            if not value:
                raise BadRequest(f"The field {label!r} is required to ask for access")
            if len(value) > MAX_FIELD_VALUE or "\0" in value:
                raise BadRequest(f"The field {label!r} may hold at most {MAX_FIELD_VALUE} characters")
            if kind == "checkbox" and value.lower() not in TRUE_VALUES:
                raise BadRequest(f"The field {label!r} must be checked to ask for access")
            options = kind.get("options") if isinstance(kind, dict) else None
            if isinstance(options, list) and options:
                allowed = {str(o.get("value", o.get("label")) if isinstance(o, dict) else o) for o in options}
                if value not in allowed:
                    raise BadRequest(f"The field {label!r} must be one of the listed options")
            answers[label] = value
        return answers

    def ask(self, p: Principal, repo: Repo, form: dict[str, str]) -> str:
        """Record a request (auto-gated repos accept it at once); returns the request's status."""
        if not repo.gated:
            raise BadRequest(f"{repo.repo_id} is not a gated repo")
        if access.can_read_gated(p, repo.namespace):
            return "accepted"  # members have access without asking
        fields = self.check_form(repo, form)
        status = "accepted" if repo.gated == "auto" else "pending"
        now = time.time()
        with self.db.write() as conn:
            current = conn.execute(select(access_requests.c.status).where(
                (access_requests.c.repo_id == repo.id) & (access_requests.c.user_id == p.user_id))).scalar()
            if current is not None:
                return str(current)  # asked before: a rejection stands, as on the Hub
            conn.execute(insert(access_requests).values(
                repo_id=repo.id, user_id=p.user_id, request_id=secrets.token_hex(12), status=status, fields=fields,
                created_at=now, updated_at=now))
        return status

    def list(self, repo: Repo, status: str, after_user: int, limit: int) -> list[dict]:
        self._gated(repo)
        with self.db.read() as conn:
            rows = conn.execute(
                select(access_requests, accounts.c.name, accounts.c.fullname, accounts.c.email)
                .join(accounts, accounts.c.id == access_requests.c.user_id)
                .where((access_requests.c.repo_id == repo.id) & (access_requests.c.status == status)
                       & (access_requests.c.user_id > after_user))
                .order_by(access_requests.c.user_id).limit(limit)).mappings().all()
        return [dict(r) for r in rows]

    def handle(self, repo: Repo, user: object, request_id: object, status: object, reason: object) -> None:
        """Move a request to pending (cancel), accepted or rejected."""
        self._gated(repo)
        if status not in STATUSES:
            raise BadRequest("status must be one of pending, accepted, rejected")
        if reason is not None and (status != "rejected" or not isinstance(reason, str) or len(reason) > MAX_REASON
                                   or "\0" in reason):
            raise BadRequest(f"rejectionReason is a string of at most {MAX_REASON} characters, when rejecting")
        cond = access_requests.c.repo_id == repo.id
        if isinstance(user, str) and request_id is None:
            cond &= access_requests.c.user_id == self._user_id(user)
        elif isinstance(request_id, str) and user is None and len(request_id) <= 64:
            cond &= access_requests.c.request_id == request_id
        else:
            raise BadRequest("Give either user or requestId")
        with self.db.write() as conn:
            current = conn.execute(select(access_requests.c.status).where(cond)).scalar()
            if current is None:
                raise NotFound("Access request not found")
            if current == status:
                raise NotFound(f"This access request is already {status}")
            conn.execute(update(access_requests).where(cond).values(
                status=status, rejection_reason=reason if status == "rejected" else None, updated_at=time.time()))

    def grant(self, repo: Repo, user: object) -> None:
        """Accept a user who did not ask (an accepted request without form answers)."""
        self._gated(repo)
        if not isinstance(user, str):
            raise BadRequest("user is required")
        user_id = self._user_id(user)
        now = time.time()
        with self.db.write() as conn:
            current = conn.execute(select(access_requests.c.status).where(
                (access_requests.c.repo_id == repo.id) & (access_requests.c.user_id == user_id))).scalar()
            if current == "accepted":
                raise BadRequest(f"{user} already has access to {repo.repo_id}")
            if current is None:
                conn.execute(insert(access_requests).values(
                    repo_id=repo.id, user_id=user_id, request_id=secrets.token_hex(12), status="accepted",
                    fields=None, created_at=now, updated_at=now))
            else:
                conn.execute(update(access_requests).where(
                    (access_requests.c.repo_id == repo.id) & (access_requests.c.user_id == user_id))
                    .values(status="accepted", rejection_reason=None, updated_at=now))

    def _gated(self, repo: Repo) -> None:
        if not repo.gated:
            raise BadRequest(f"{repo.repo_id} is not a gated repo")

    def _user_id(self, name: str) -> int:
        with self.db.read() as conn:
            row = conn.execute(select(accounts.c.id).where(
                (accounts.c.name == name) & (accounts.c.kind == "user"))).scalar()
        if row is None:
            raise NotFound(f"User {name!r} not found")
        return int(row)
