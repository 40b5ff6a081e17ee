"""Session cookies and CSRF: who is signed in on a page request, and whether a form really came from hubd."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from itsdangerous import BadSignature, TimestampSigner
from starlette.requests import Request

from hubd.hub.access import Principal
from hubd.hub.service import Hub
from hubd.hub.signin import SESSION_TTL

COOKIE = "hubd_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
ANON_CSRF_COOKIE = "hubd_csrf"  # double-submit token of forms shown before sign-in (login, sign-up)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _signer(hub: Hub) -> TimestampSigner:
    s = hub.__dict__.get("_web_cookie_signer")
    if s is None:
        # the hub-wide key from the database: every replica signs and checks cookies alike
        s = hub.__dict__["_web_cookie_signer"] = TimestampSigner(hub.signing_key, salt="hubd-session")
    return s


def cookie_value(hub: Hub, secret: str) -> str:
    return _signer(hub).sign(secret).decode()


def cookie_secret(hub: Hub, value: str) -> str | None:
    if not value or len(value) > 200:
        return None
    try:
        return _signer(hub).unsign(value, max_age=SESSION_TTL).decode()
    except BadSignature:
        return None


def secure(hub: Hub) -> bool:
    return hub.settings.base_url.startswith("https://")


def cookie_args(hub: Hub, max_age: int | None = SESSION_TTL) -> dict[str, Any]:
    return {"httponly": True, "samesite": "lax", "secure": secure(hub), "path": "/", "max_age": max_age}


def cookie_principal(hub: Hub, request: Request, web_handler: bool) -> Principal | None:
    """The person a session cookie signs in, for a request without a token (runs in a worker thread).

    Pages check their forms' CSRF field themselves; an API call made with the cookie alone changes
    something only with the session's CSRF token in X-CSRF-Token (a cross-site form cannot set a header),
    otherwise it counts as anonymous."""
    secret = cookie_secret(hub, request.cookies.get(COOKIE, ""))
    if secret is None:
        return None
    found = hub.signin.session_principal(secret)
    if found is None:
        return None
    principal, csrf = found
    request.state.session_secret = secret
    request.state.csrf = csrf
    if not web_handler and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), csrf.encode()):
            return None
    return principal


def csrf_token(request: Request) -> str:
    """The token a form of this page carries: the session's, or a double-submit cookie's before sign-in."""
    token = getattr(request.state, "csrf", None)
    if token:
        return token
    token = request.cookies.get(ANON_CSRF_COOKIE, "")
    if not (20 <= len(token) <= 100 and token.replace("-", "").replace("_", "").isalnum()):
        token = secrets.token_urlsafe(32)
        request.state.new_anon_csrf = token
    request.state.csrf = token
    return token


def csrf_ok(request: Request, sent: str | None) -> bool:
    expected = getattr(request.state, "csrf", None) or request.cookies.get(ANON_CSRF_COOKIE, "")
    return bool(expected) and bool(sent) and hmac.compare_digest(str(sent).encode(), expected.encode())
