"""Signing in and out, sign-up by invitation (or open sign-up), and the shipped static files."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import FileResponse, Response

from hubd.api.http import Ctx
from hubd.clientaddr import client_address
from hubd.hub.errors import HubError, NotFound
from hubd.web import render
from hubd.web.base import form, page, safe_next, view
from hubd.web.session import COOKIE, cookie_args, cookie_value

STATIC = Path(__file__).parent / "static"
STATIC_FILES = {p.name for p in STATIC.iterdir() if p.is_file()}
MEDIA = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml", "woff2": "font/woff2"}


async def static(ctx: Ctx) -> Response:
    name = ctx.params["file"]
    if name not in STATIC_FILES:  # a fixed set of shipped files: no path ever reaches the file system
        raise NotFound("No such file")
    return FileResponse(STATIC / name, media_type=MEDIA.get(name.rsplit(".", 1)[-1], "application/octet-stream"),
                        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff",
                                 "Content-Security-Policy": render.CSP})


def _client_address(ctx: Ctx) -> str:
    client = ctx.request.client
    return client_address(client.host if client else None, ctx.request.headers.getlist("x-forwarded-for"),
                          ctx.hub.settings.trusted_proxies)


def _signed_in(ctx: Ctx, user_id: int, target: str) -> Response:
    session = ctx.hub.signin.open_session(user_id)
    response = render.redirect(safe_next(target))
    response.set_cookie(COOKIE, cookie_value(ctx.hub, session.secret), **cookie_args(ctx.hub))
    return response


@page
async def login(ctx: Ctx) -> Response:
    from hubd.web import oidc

    nxt = safe_next(ctx.request.query_params.get("next"))
    if ctx.request.method == "GET":
        return view(ctx, "login.html", next=nxt, oidc=oidc.enabled(ctx.hub), error=None, username="")
    fields = await form(ctx)
    username, password = fields.get("username", "").strip(), fields.get("password", "")
    nxt = safe_next(fields.get("next"))
    try:
        user_id = await ctx.run(ctx.hub.signin.check_password, username, password, _client_address(ctx))
    except HubError as exc:  # throttled
        return view(ctx, "login.html", exc.status, next=nxt, oidc=oidc.enabled(ctx.hub), error=exc.message,
                    username=username)
    if user_id < 0:
        return view(ctx, "login.html", 401, next=nxt, oidc=oidc.enabled(ctx.hub),
                    error="Wrong username or password", username=username)
    return await ctx.run(_signed_in, ctx, user_id, nxt)


@page
async def logout(ctx: Ctx) -> Response:
    if ctx.request.method == "GET":  # a link or a typed URL asks first: signing out is a form (CSRF)
        return view(ctx, "logout.html") if ctx.principal else render.redirect("/")
    await form(ctx)
    secret = getattr(ctx.request.state, "session_secret", None)
    if secret:
        await ctx.run(ctx.hub.signin.close_session, secret)
    response = render.redirect("/")
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    return response


@page
async def join(ctx: Ctx) -> Response:
    """Sign-up: with an invitation (?invite=…) or when an administrator opened sign-up to everyone."""
    s = ctx.hub.signin
    if ctx.request.method == "GET":
        code = ctx.request.query_params.get("invite", "")
        allowed = await ctx.run(s.invitation_valid, code) or await ctx.run(s.open_signup)
        return view(ctx, "join.html", allowed=allowed, invite=code, error=None, username="", email="")
    fields = await form(ctx)
    name, email = fields.get("username", "").strip(), fields.get("email", "").strip()[:256]
    try:
        user_id = await ctx.run(s.sign_up, name, fields.get("password", ""), email or None,
                                fields.get("invite") or None)
    except HubError as exc:
        return view(ctx, "join.html", 400, allowed=True, invite=fields.get("invite", ""), error=exc.message,
                    username=name, email=email)
    return await ctx.run(_signed_in, ctx, user_id, "/")
