"""What every page handler shares: the page decorator (errors as pages), template context, forms."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from starlette.responses import Response

from hubd.api.http import Ctx
from hubd.hub.access import Principal
from hubd.hub.errors import BadRequest, Forbidden, HubError, NotFound, PayloadTooLarge, Unauthorized
from hubd.web import render
from hubd.web.session import ANON_CSRF_COOKIE, CSRF_FIELD, cookie_args, csrf_ok, csrf_token

MAX_FORM_BYTES = 64 * 1024
NOT_FOUND_CODES = ("RepoNotFound", "EntryNotFound", "RevisionNotFound", "NotFound")


class SignInRequired(Unauthorized):
    """A page that needs a signed-in person: the browser is sent to /login and back."""


def view(ctx: Ctx, template: str, status_code: int = 200, headers: dict[str, str] | None = None,
         **context: Any) -> Response:
    body = render.render(template, user=ctx.principal, csrf=csrf_token(ctx.request), base_url=ctx.base_url,
                         path=ctx.request.url.path, **context)
    return render.html_page(body, status_code, headers)


def page(fn: Callable[[Ctx], Awaitable[Response]]) -> Callable[[Ctx], Awaitable[Response]]:
    """Errors become pages in the Hub's shape (status, X-Error-Code, X-Error-Message): one 404 page for a
    missing and a private repo alike, whoever asks; a page needing an account sends the browser to sign in."""

    @functools.wraps(fn)
    async def handler(ctx: Ctx) -> Response:
        try:
            response = await fn(ctx)
        except Unauthorized:
            if ctx.request.method in ("GET", "HEAD"):
                target = ctx.request.url.path + (f"?{ctx.request.url.query}" if ctx.request.url.query else "")
                response = render.redirect("/login?next=" + quote(target, safe=""))
            else:
                response = error_page(ctx, Unauthorized("Sign in first"))
        except HubError as exc:
            response = error_page(ctx, exc)
        fresh = getattr(ctx.request.state, "new_anon_csrf", None)
        if fresh:
            response.set_cookie(ANON_CSRF_COOKIE, fresh, **cookie_args(ctx.hub, None))
        return response

    return handler


def error_page(ctx: Ctx, exc: HubError) -> Response:
    not_found = exc.code in NOT_FOUND_CODES or exc.status == 404
    status = 404 if not_found else exc.status
    # RepoNotFound says the same for a missing and a private repo: the page shows only a fixed text
    message = "This page does not exist, or you do not have access to it." if not_found else exc.message
    headers = {"X-Error-Message": message[:500].encode("latin-1", "replace").decode("latin-1")}
    if exc.code:
        headers["X-Error-Code"] = exc.code
    return view(ctx, "error.html", status, headers, status=status, message=message, not_found=not_found)


def require_user(ctx: Ctx) -> Principal:
    if ctx.principal is None:
        raise SignInRequired()
    return ctx.principal


def require_admin(ctx: Ctx) -> Principal:
    p = require_user(ctx)
    if not p.is_admin:
        raise Forbidden("Only administrators can open this page")
    return p


async def form(ctx: Ctx, max_fields: int = 100) -> dict[str, str]:
    """A POSTed urlencoded form (bounded), after its CSRF field is checked against the session's token."""
    length = ctx.request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
        raise PayloadTooLarge(f"A form is at most {MAX_FORM_BYTES} bytes")
    body = await ctx.body()
    if len(body) > MAX_FORM_BYTES:
        raise PayloadTooLarge(f"A form is at most {MAX_FORM_BYTES} bytes")
    try:
        fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=max_fields))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("The form could not be read") from None
    if not csrf_ok(ctx.request, fields.get(CSRF_FIELD)):
        raise Forbidden("The form expired or did not come from this site; reload the page and try again")
    if any("\0" in v for v in fields.values()):
        raise BadRequest("Form fields cannot contain NUL characters")
    return fields


def safe_next(target: str | None) -> str:
    """Where to go after sign-in: a path on this site only (no //host, no scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target or len(target) > 2000:
        return "/"
    return target


async def unknown_path(ctx: Ctx) -> Response:
    """A path no route serves (the router's fallback): the 404 page for a browser that asks for HTML, outside /api/;
    for every API client the router's own JSON answer, as before. The page names no repo, so an unknown page
    under a private repo and under a missing one are the same page."""
    scope = ctx.request.scope
    raw = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
    wants_html = "text/html" in ctx.request.headers.get("accept", "").lower()
    if ctx.request.method in ("GET", "HEAD") and wants_html and not raw.startswith("/api/"):
        return error_page(ctx, NotFound("Not found"))
    raise NotFound(f"Not found: {unquote(raw)}")
