"""Creating repos, their settings (visibility, gating, move, delete), and likes — through the domain's rules."""

from __future__ import annotations

from starlette.responses import Response

from hubd.api.http import Ctx
from hubd.hub.cardcheck import SDKS
from hubd.hub.errors import BadRequest, HubError
from hubd.web import render
from hubd.web.base import form, page, require_user, view
from hubd.web.pages import owned_repo, repo_context, repo_of

NEW_PAGES = {"/new": "model", "/new-dataset": "dataset", "/new-space": "space"}


@page
async def new_repo(ctx: Ctx) -> Response:
    p = require_user(ctx)
    repo_type = NEW_PAGES[ctx.request.url.path]
    owners = [p.name] + sorted(o for o, role in p.org_roles.items() if role in ("contributor", "write", "admin"))
    values = {"owner": p.name, "name": "", "visibility": "public", "sdk": "static"}
    error = None
    if ctx.request.method == "POST":
        fields = await form(ctx)
        values.update({k: fields.get(k, "").strip() for k in values})
        try:
            if values["visibility"] not in ("public", "private"):
                raise BadRequest("Choose public or private")
            repo = await ctx.run(ctx.hub.repos.create, p, repo_type, values["owner"], values["name"],
                                 values["visibility"] == "private", values["sdk"] if repo_type == "space" else None)
            return render.redirect("/" + repo.url_path)
        except HubError as exc:
            error = exc.message
    return view(ctx, "new.html", 400 if error else 200, repo_type=repo_type, owners=owners, values=values,
                sdks=SDKS, error=error)


@page
async def settings(ctx: Ctx) -> Response:
    hub = ctx.hub
    repo = await ctx.run(repo_of, ctx)  # a private repo is the 404 page, even for a visitor not signed in
    p = require_user(ctx)
    repo = await ctx.run(owned_repo, ctx)
    error = message = None
    if ctx.request.method == "POST":
        fields = await form(ctx)
        action = fields.get("action")
        try:
            if action == "visibility":
                if fields.get("visibility") not in ("public", "private"):
                    raise BadRequest("Choose public or private")
                await ctx.run(hub.repos.update_settings, repo, fields["visibility"] == "private", None)
                message = "Visibility saved"
            elif action == "gating":
                await ctx.run(hub.repos.update_settings, repo, None, fields.get("gated", "false"))
                message = "Access settings saved"
            elif action == "move":
                moved = await ctx.run(hub.repos.move, p, repo.type, repo.repo_id, fields.get("to", "").strip())
                return render.redirect("/" + moved.url_path)
            elif action == "delete":
                if fields.get("confirm", "") != repo.repo_id:
                    raise BadRequest(f"Type {repo.repo_id} to confirm the deletion")
                await ctx.run(hub.repos.delete, p, repo.type, repo.namespace, repo.name)
                return render.redirect(f"/{p.name}")
            else:
                raise BadRequest("Unknown action")
        except HubError as exc:
            error = exc.message
        repo = await ctx.run(owned_repo, ctx)  # as changed (visibility, gating)
    data = await ctx.run(repo_context, ctx, repo, "main", "settings")
    return view(ctx, "settings.html", 400 if error else 200, **data, error=error, message=message)


@page
async def like(ctx: Ctx) -> Response:
    p = require_user(ctx)
    fields = await form(ctx)
    repo = await ctx.run(repo_of, ctx)
    if fields.get("action") == "unlike":
        await ctx.run(ctx.hub.likes.unlike, p.user_id, repo.id)
    else:
        await ctx.run(ctx.hub.likes.like, p.user_id, repo.id)
    return render.redirect("/" + repo.url_path)
