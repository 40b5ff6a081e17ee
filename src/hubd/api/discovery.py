"""Tags by type, metrics, likes."""

from __future__ import annotations

from starlette.responses import Response

from hubd.api.avatars import avatar_url
from hubd.api.http import Ctx, json_response
from hubd.api.repoctx import route_repo
from hubd.api.repos import require_user
from hubd.hub.errors import NotFound
from hubd.hub.models import iso


async def models_tags_by_type(ctx: Ctx) -> Response:
    return json_response(await ctx.run(ctx.hub.catalog.model_tags_by_type))


async def datasets_tags_by_type(ctx: Ctx) -> Response:
    return json_response(await ctx.run(ctx.hub.catalog.dataset_tags_by_type))


async def metrics(ctx: Ctx) -> Response:
    return json_response(await ctx.run(ctx.hub.catalog.metrics))


async def like(ctx: Ctx) -> Response:
    p = require_user(ctx)
    repo = await route_repo(ctx)
    if ctx.request.method == "DELETE":
        await ctx.run(ctx.hub.likes.unlike, p.user_id, repo.id)
    else:
        await ctx.run(ctx.hub.likes.like, p.user_id, repo.id)
    return json_response({})


async def likers(ctx: Ctx) -> Response:
    repo = await route_repo(ctx)
    users = await ctx.run(ctx.hub.likes.likers, repo.id)
    return json_response([{"user": u["name"], "fullname": u["fullname"], "type": "user",
                           "avatarUrl": avatar_url(ctx, u["name"]), "isPro": False} for u in users])


async def user_likes(ctx: Ctx) -> Response:
    account = await ctx.run(ctx.hub.accounts.account, ctx.params["user"])
    if account is None:
        raise NotFound("User not found")
    liked = await ctx.run(ctx.hub.likes.liked_by, account["id"])
    visible = []
    for row in liked:
        repo = await ctx.run(ctx.hub.repos.find, row["type"], row["namespace"], row["name"])
        if repo is not None and (not repo.private or (ctx.principal and ctx.principal.namespace_role(
                repo.namespace))):
            visible.append({"createdAt": iso(row["created_at"]),
                            "repo": {"name": repo.repo_id, "type": repo.type}})
    return json_response(visible)
