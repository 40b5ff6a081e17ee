"""People signing in: argon2 passwords, server-side sessions, login throttling, invitations, OIDC identities.

Sessions live in the database (invariant 3: any replica answers any request); the cookie holds a random
secret of which only the sha256 is stored, so a copy of the table signs nobody in, and sign-out or
disabling an account ends the session on the next request everywhere."""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from hubd.db.engine import Database
from hubd.db.schema import (
    account_passwords,
    accounts,
    hub_meta,
    invitations,
    login_attempts,
    memberships,
    oidc_identities,
    web_sessions,
)
from hubd.hub.access import Principal
from hubd.hub.accounts import Accounts
from hubd.hub.errors import BadRequest, Conflict, HubError, NotFound

SESSION_TTL = 14 * 24 * 3600
INVITATION_TTL = 7 * 24 * 3600
MAX_PASSWORD_CHARS = 1024  # argon2 hashes any length; a megabyte password would only cost CPU
MIN_PASSWORD_CHARS = 8
# Throttling: at most this many failed sign-ins per account and per address in a window.
THROTTLE_WINDOW = 15 * 60
MAX_FAILURES_ACCOUNT = 10
MAX_FAILURES_ADDRESS = 30

# Defaults of argon2-cffi (RFC 9106 low-memory profile): ~50 ms and 64 MiB per hash here.
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Checked when the name matches no password, so a sign-in takes as long for a missing account. Made on
    first use: an argon2 hash at import cost every CLI command 0.2 s."""
    return _hasher.hash(secrets.token_hex(16))


class TooManyAttempts(HubError):
    status = 429
    code = "TooManyRequests"
    default_message = "Too many failed sign-ins; try again in a few minutes"


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise BadRequest(f"A password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise BadRequest(f"A password has at most {MAX_PASSWORD_CHARS} characters")


@dataclass(frozen=True)
class Session:
    secret: str  # only ever in the cookie
    user_id: int
    csrf: str


class SignIn:
    def __init__(self, db: Database, accounts_: Accounts) -> None:
        self.db = db
        self.accounts = accounts_

    # --- passwords ---------------------------------------------------------------------------------------
    def set_password(self, name: str, password: str) -> None:
        check_password_strength(password)
        user = self.accounts.account(name)
        if user is None or user["kind"] != "user":
            raise NotFound(f"No user named {name!r}")
        hashed = _hasher.hash(password)
        with self.db.write() as conn:
            conn.execute(delete(account_passwords).where(account_passwords.c.user_id == user["id"]))
            conn.execute(insert(account_passwords).values(user_id=user["id"], hash=hashed, updated_at=time.time()))

    def check_password(self, name: str, password: str, address: str) -> int:
        """The user id when `password` is right; raises TooManyAttempts or returns -1 otherwise. A failure
        counts against the account and the address, checked before any hashing."""
        name = name[:96]
        keys = [f"user:{name.lower()}", f"addr:{address[:100]}"]
        self._check_throttle(keys)
        with self.db.read() as conn:
            row = conn.execute(
                select(accounts.c.id, accounts.c.disabled, account_passwords.c.hash)
                .join(account_passwords, account_passwords.c.user_id == accounts.c.id)
                .where((accounts.c.name == name) & (accounts.c.kind == "user"))).first()
        ok = False
        try:
            ok = _hasher.verify(row.hash if row else _dummy_hash(), password[:MAX_PASSWORD_CHARS])
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok or row is None or row.disabled:
            self._fail(keys)
            return -1
        return int(row.id)

    def _check_throttle(self, keys: list[str]) -> None:
        now = time.time()
        with self.db.read() as conn:
            rows = conn.execute(select(login_attempts).where(login_attempts.c.key.in_(keys))).all()
        for r in rows:
            limit = MAX_FAILURES_ACCOUNT if r.key.startswith("user:") else MAX_FAILURES_ADDRESS
            if r.window_start > now - THROTTLE_WINDOW and r.failures >= limit:
                raise TooManyAttempts()

    def _fail(self, keys: list[str]) -> None:
        now = time.time()
        with self.db.write() as conn:
            for key in keys:
                row = conn.execute(select(login_attempts).where(login_attempts.c.key == key)).first()
                if row is None:
                    conn.execute(insert(login_attempts).values(key=key, window_start=now, failures=1))
                elif row.window_start <= now - THROTTLE_WINDOW:
                    conn.execute(update(login_attempts).where(login_attempts.c.key == key)
                                 .values(window_start=now, failures=1))
                else:
                    conn.execute(update(login_attempts).where(login_attempts.c.key == key)
                                 .values(failures=row.failures + 1))

    # --- sessions ------------------------------------------------------------------------------------------
    def open_session(self, user_id: int) -> Session:
        secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = time.time()
        with self.db.write() as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < now))  # keeps the table small
            conn.execute(insert(web_sessions).values(id=_sha(secret), user_id=user_id, csrf=csrf, created_at=now,
                                                     expires_at=now + SESSION_TTL))
        return Session(secret, user_id, csrf)

    def close_session(self, secret: str) -> None:
        with self.db.write() as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.id == _sha(secret)))

    def session_principal(self, secret: str) -> tuple[Principal, str] | None:
        """The signed-in person behind a session cookie and the session's CSRF token, or None."""
        with self.db.read() as conn:
            row = conn.execute(
                select(web_sessions.c.csrf, accounts.c.id, accounts.c.name, accounts.c.fullname, accounts.c.email,
                       accounts.c.is_admin)
                .join(accounts, accounts.c.id == web_sessions.c.user_id)
                .where((web_sessions.c.id == _sha(secret)) & (web_sessions.c.expires_at > time.time())
                       & ~accounts.c.disabled)).first()
            if row is None:
                return None
            orgs = conn.execute(select(accounts.c.name, memberships.c.role)
                                .join(memberships, memberships.c.org_id == accounts.c.id)
                                .where(memberships.c.user_id == row.id)).all()
        # a person signed in has every right of their account, as a write token would
        principal = Principal(user_id=row.id, name=row.name, fullname=row.fullname, email=row.email,
                              is_admin=bool(row.is_admin), token_name="web-session", token_role="write",
                              org_roles={o.name: o.role for o in orgs})
        return principal, row.csrf

    # --- sign-up -------------------------------------------------------------------------------------------
    def open_signup(self) -> bool:
        with self.db.read() as conn:
            return conn.execute(select(hub_meta.c.value).where(hub_meta.c.key == "open_signup")).scalar() == "1"

    def set_open_signup(self, value: bool) -> None:
        with self.db.write() as conn:
            conn.execute(delete(hub_meta).where(hub_meta.c.key == "open_signup"))
            conn.execute(insert(hub_meta).values(key="open_signup", value="1" if value else "0"))

    def invite(self, created_by: int | None) -> str:
        code = secrets.token_urlsafe(24)
        now = time.time()
        with self.db.write() as conn:
            conn.execute(insert(invitations).values(token_hash=_sha(code), created_by=created_by, created_at=now,
                                                    expires_at=now + INVITATION_TTL))
        return code

    def invitation_valid(self, code: str) -> bool:
        if not code or len(code) > 100:
            return False
        with self.db.read() as conn:
            row = conn.execute(select(invitations).where(invitations.c.token_hash == _sha(code))).first()
        return row is not None and row.used_by is None and row.expires_at > time.time()

    def sign_up(self, name: str, password: str, email: str | None, invitation: str | None) -> int:
        """A new user with a password. Needs open sign-up or an unused invitation (spent here)."""
        check_password_strength(password)
        if invitation:
            if not self.invitation_valid(invitation):
                raise BadRequest("This invitation is not valid (used or expired)")
        elif not self.open_signup():
            raise BadRequest("Sign-up needs an invitation from an administrator")
        user_id = self.accounts.add_user(name, "", email or None, False)
        self.set_password(name, password)
        if invitation:
            with self.db.write() as conn:
                conn.execute(update(invitations).where(invitations.c.token_hash == _sha(invitation))
                             .values(used_by=user_id))
        return user_id

    # --- OpenID Connect ------------------------------------------------------------------------------------
    def oidc_user(self, issuer: str, subject: str, preferred: str, email: str | None, fullname: str) -> int:
        """The user an identity signs in as, created on first sign-in under the first free name."""
        with self.db.read() as conn:
            uid = conn.execute(select(oidc_identities.c.user_id).where(
                (oidc_identities.c.issuer == issuer[:255]) & (oidc_identities.c.subject == subject[:255]))).scalar()
        if uid is not None:
            return int(uid)
        base = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "-" for c in preferred)[:40]
        base = base.strip("-._") or "user"
        for i in range(50):
            name = base if i == 0 else f"{base}-{i}"
            try:
                uid = self.accounts.add_user(name, fullname[:200], email, False)
                break
            except (Conflict, BadRequest):
                continue
        else:
            raise Conflict("Could not find a free user name for this identity")
        try:
            with self.db.write() as conn:
                conn.execute(insert(oidc_identities).values(issuer=issuer[:255], subject=subject[:255], user_id=uid))
        except IntegrityError:  # a parallel first sign-in of the same identity won
            return self.oidc_user(issuer, subject, preferred, email, fullname)
        return int(uid)

    def is_disabled(self, user_id: int) -> bool:
        with self.db.read() as conn:
            return bool(conn.execute(select(accounts.c.disabled).where(accounts.c.id == user_id)).scalar())
