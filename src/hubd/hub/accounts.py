"""Users, organisations, memberships and access tokens (stored as sha256, never in clear)."""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import time

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hubd.db.engine import Database
from hubd.db.schema import accounts, memberships, repos, tokens
from hubd.hub.access import ROLE_ORDER, Principal
from hubd.hub.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from hubd.hub.names import check_account_name
from hubd.hub.tokens import parse_fine_grained, resolve_scopes, token_json

LAST_USED_RESOLUTION = 60.0  # seconds: last-used times are this coarse, so a request writes at most once a minute
MAX_TOKENS_PER_USER = 200

_TOKEN_ALPHABET = string.ascii_letters + string.digits
_TOKEN_SHAPE = re.compile(r"^hf_[A-Za-z0-9]{20,200}$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "hf_" + "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(34))


class Accounts:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _add_account(self, name: str, kind: str, fullname: str, email: str | None, is_admin: bool) -> int:
        check_account_name(name)
        try:
            with self.db.write() as conn:
                pk = conn.execute(
                    insert(accounts).values(
                        name=name, kind=kind, fullname=fullname or name, email=email,
                        is_admin=is_admin, created_at=time.time(),
                    )
                ).inserted_primary_key
                assert pk is not None  # a single-row insert has one
                return int(pk[0])
        except IntegrityError:
            raise Conflict(f"An account named {name!r} already exists") from None

    def add_user(self, name: str, fullname: str = "", email: str | None = None, admin: bool = False) -> int:
        return self._add_account(name, "user", fullname, email, admin)

    def add_org(self, name: str, fullname: str = "") -> int:
        return self._add_account(name, "org", fullname, None, False)

    def account(self, name: str) -> dict | None:
        with self.db.read() as conn:
            row = conn.execute(select(accounts).where(accounts.c.name == name)).mappings().first()
            return dict(row) if row else None

    def add_member(self, org: str, user: str, role: str) -> None:
        if role not in ROLE_ORDER:
            raise BadRequest(f"Invalid role {role!r}: one of {', '.join(ROLE_ORDER)}")
        o, u = self.account(org), self.account(user)
        if not o or o["kind"] != "org":
            raise NotFound(f"No organization named {org!r}")
        if not u or u["kind"] != "user":
            raise NotFound(f"No user named {user!r}")
        with self.db.write() as conn:
            conn.execute(memberships.delete().where(
                (memberships.c.org_id == o["id"]) & (memberships.c.user_id == u["id"])
            ))
            conn.execute(insert(memberships).values(org_id=o["id"], user_id=u["id"], role=role))

    def add_token(self, user: str, role: str = "write", name: str = "", value: str | None = None,
                  fine_grained: dict | None = None, expires_at: float | None = None) -> str:
        """A new token; `fine_grained` (the Hub's `fineGrained` object) makes a fine-grained one, which
        holds the read role plus its scopes (any code path that does not know scopes sees a read token)."""
        if role == "fineGrained":
            if fine_grained is None:
                raise BadRequest("A fine-grained token needs its fineGrained scopes")
            role = "read"
        elif fine_grained is not None:
            raise BadRequest("Only a fineGrained token has scopes")
        if role not in ("read", "write"):
            raise BadRequest("Token role must be read, write or fineGrained")
        if len(name) > 128:
            raise BadRequest("A token name is at most 128 characters")
        u = self.account(user)
        if not u or u["kind"] != "user":
            raise NotFound(f"No user named {user!r}")
        token = value or new_token()
        if not _TOKEN_SHAPE.match(token):
            raise BadRequest("A token must look like hf_ followed by 20 or more letters and digits")
        try:
            with self.db.write() as conn:
                scopes = None if fine_grained is None else parse_fine_grained(conn, u["id"], u["name"], fine_grained)
                count = conn.execute(select(func.count()).select_from(tokens).where(tokens.c.user_id == u["id"]))
                if count.scalar_one() >= MAX_TOKENS_PER_USER:
                    raise BadRequest(f"A user has at most {MAX_TOKENS_PER_USER} tokens: revoke one first")
                conn.execute(insert(tokens).values(
                    user_id=u["id"], name=name or ("fine-grained-token" if scopes else f"{role}-token"), role=role,
                    token_hash=hash_token(token), created_at=time.time(), scopes=scopes, expires_at=expires_at,
                ))
        except IntegrityError:
            raise Conflict("This token is already registered") from None
        return token

    def authenticate(self, token: str) -> Principal:
        return self.authenticate_until(token)[0]

    def authenticate_until(self, token: str) -> tuple[Principal, float | None]:
        """The token's principal and the time the token expires (None: never)."""
        now = time.time()
        with self.db.read() as conn:
            row = conn.execute(
                select(
                    tokens.c.id.label("token_id"), tokens.c.name.label("token_name"),
                    tokens.c.role.label("token_role"), tokens.c.scopes, tokens.c.expires_at, tokens.c.last_used_at,
                    accounts.c.id, accounts.c.name, accounts.c.fullname, accounts.c.email, accounts.c.is_admin,
                )
                .join(accounts, accounts.c.id == tokens.c.user_id)
                .where((tokens.c.token_hash == hash_token(token)) & ~accounts.c.disabled)
            ).mappings().first()
            if row is None or (row["expires_at"] is not None and row["expires_at"] <= now):
                raise Unauthorized()
            orgs = conn.execute(
                select(accounts.c.name, memberships.c.role)
                .join(memberships, memberships.c.org_id == accounts.c.id)
                .where(memberships.c.user_id == row["id"])
            ).all()
            scopes = resolve_scopes(conn, row["scopes"]) if row["scopes"] is not None else None
        if row["last_used_at"] is None or row["last_used_at"] < now - LAST_USED_RESOLUTION:
            with self.db.write() as conn:
                conn.execute(update(tokens).where(tokens.c.id == row["token_id"]).values(last_used_at=now))
        return Principal(
            user_id=row["id"], name=row["name"], fullname=row["fullname"], email=row["email"],
            is_admin=bool(row["is_admin"]), token_name=row["token_name"],
            token_role="fineGrained" if scopes is not None else row["token_role"],
            org_roles={o.name: o.role for o in orgs}, scopes=scopes, token_id=row["token_id"],
        ), row["expires_at"]

    # --- a user's own tokens (POST/GET/DELETE /api/settings/tokens) ---------------------------------------
    @staticmethod
    def _manage_check(p: Principal) -> None:
        # a token that could mint a stronger one would be a write token in disguise: only classic write tokens
        # (and web sessions) manage tokens
        if p.token_role != "write":
            raise Forbidden("You need a write token (not a read or fine-grained one) to manage access tokens")

    def create_own_token(self, p: Principal, body: dict) -> dict:
        self._manage_check(p)
        from hubd.hub.tokens import parse_expiry

        name, role = body.get("displayName", ""), body.get("role", "read")
        if not isinstance(name, str) or not isinstance(role, str):
            raise BadRequest("displayName and role must be strings")
        if role == "fineGrained" and "fineGrained" not in body:
            raise BadRequest("A fine-grained token needs its fineGrained scopes")
        token = self.add_token(p.name, role, name.strip(), None, body.get("fineGrained") if role == "fineGrained"
                               else None, parse_expiry(body.get("expiresAt")))
        with self.db.read() as conn:
            row = conn.execute(select(tokens).where(tokens.c.token_hash == hash_token(token))).mappings().one()
            scopes = resolve_scopes(conn, row["scopes"]) if row["scopes"] is not None else None
        return {**token_json(dict(row), scopes), "token": token}

    def own_tokens(self, p: Principal) -> list[dict]:
        with self.db.read() as conn:
            rows = conn.execute(select(tokens).where(tokens.c.user_id == p.user_id).order_by(tokens.c.id)).mappings()
            return [token_json(dict(r), resolve_scopes(conn, r["scopes"]) if r["scopes"] is not None else None)
                    for r in rows]

    def revoke_own_token(self, p: Principal, token_id: int) -> None:
        self._manage_check(p)
        with self.db.write() as conn:
            gone = conn.execute(tokens.delete().where((tokens.c.id == token_id) & (tokens.c.user_id == p.user_id)))
            if not gone.rowcount:
                raise NotFound(f"No token with id {token_id}")

    # --- administration: every change here takes effect on the next request (tokens are looked up each time)
    def list_users(self) -> list[dict]:
        with self.db.read() as conn:
            rows = conn.execute(select(accounts.c.name, accounts.c.fullname, accounts.c.email, accounts.c.is_admin,
                                       accounts.c.disabled, accounts.c.created_at)
                                .where(accounts.c.kind == "user").order_by(accounts.c.name)).mappings().all()
        return [dict(r) for r in rows]

    def _user(self, name: str) -> dict:
        u = self.account(name)
        if not u or u["kind"] != "user":
            raise NotFound(f"No user named {name!r}")
        return u

    def set_private_by_default(self, org: str, value: bool) -> None:
        o = self.account(org)
        if not o or o["kind"] != "org":
            raise NotFound(f"No organization named {org!r}")
        with self.db.write() as conn:
            conn.execute(update(accounts).where(accounts.c.id == o["id"]).values(private_by_default=value))

    def set_disabled(self, name: str, disabled: bool) -> None:
        u = self._user(name)
        with self.db.write() as conn:
            conn.execute(update(accounts).where(accounts.c.id == u["id"]).values(disabled=disabled))

    def set_admin(self, name: str, value: bool) -> None:
        """Make a user a site administrator or not (the admin page; takes effect on the next request)."""
        with self.db.write() as conn:
            if not conn.execute(update(accounts).where((accounts.c.name == name) & (accounts.c.kind == "user"))
                                .values(is_admin=value)).rowcount:
                raise NotFound(f"No user named {name!r}")

    def delete_user(self, name: str) -> int:
        """Delete a user, their tokens, memberships, likes and the repos in their namespace; returns how many
        repos went. Their ids are never given again (invariant 7)."""
        u = self._user(name)
        with self.db.write() as conn:
            gone = conn.execute(repos.delete().where(repos.c.namespace == name)).rowcount
            conn.execute(accounts.delete().where(accounts.c.id == u["id"]))
        return int(gone or 0)

    def remove_member(self, org: str, user: str) -> None:
        o, u = self.account(org), self._user(user)
        if not o or o["kind"] != "org":
            raise NotFound(f"No organization named {org!r}")
        with self.db.write() as conn:
            gone = conn.execute(memberships.delete().where(
                (memberships.c.org_id == o["id"]) & (memberships.c.user_id == u["id"]))).rowcount
        if not gone:
            raise NotFound(f"{user} is not a member of {org}")

    def list_tokens(self, user: str | None = None) -> list[dict]:
        query = (select(tokens.c.id, accounts.c.name.label("user"), tokens.c.name, tokens.c.role, tokens.c.created_at,
                        tokens.c.scopes, tokens.c.expires_at, tokens.c.last_used_at)
                 .join(accounts, accounts.c.id == tokens.c.user_id).order_by(tokens.c.id))
        if user is not None:
            query = query.where(accounts.c.name == user)
        with self.db.read() as conn:
            return [dict(r) for r in conn.execute(query).mappings().all()]

    def revoke_token(self, token_id: int) -> None:
        with self.db.write() as conn:
            if not conn.execute(tokens.delete().where(tokens.c.id == token_id)).rowcount:
                raise NotFound(f"No token with id {token_id}")

    def orgs_of(self, user_id: int) -> list[dict]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(accounts.c.name, accounts.c.fullname, memberships.c.role)
                .join(memberships, memberships.c.org_id == accounts.c.id)
                .where(memberships.c.user_id == user_id)
                .order_by(accounts.c.name)
            ).all()
        return [{"name": r.name, "fullname": r.fullname, "roleInOrg": r.role} for r in rows]

    def members(self, org_id: int) -> list[dict]:
        """An organization's members with their roles, by name."""
        with self.db.read() as conn:
            rows = conn.execute(select(accounts.c.name, accounts.c.fullname, memberships.c.role)
                                .join(memberships, memberships.c.user_id == accounts.c.id)
                                .where(memberships.c.org_id == org_id).order_by(accounts.c.name)).all()
        return [{"name": r.name, "fullname": r.fullname, "role": r.role} for r in rows]

    def list_orgs(self) -> list[dict]:
        with self.db.read() as conn:
            rows = conn.execute(select(accounts.c.name, accounts.c.fullname).where(accounts.c.kind == "org")
                                .order_by(accounts.c.name)).all()
        return [{"name": r.name, "fullname": r.fullname} for r in rows]

    def name_of(self, user_id: int) -> str:
        """The name of an account that exists (NoResultFound otherwise: a caller's id is never invented)."""
        with self.db.read() as conn:
            return str(conn.execute(select(accounts.c.name).where(accounts.c.id == user_id)).scalar_one())
