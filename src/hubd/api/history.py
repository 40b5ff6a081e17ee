"""History tools: POST super-squash/{rev}, GET lfs-files, POST lfs-files/batch (permanent deletion)."""

from __future__ import annotations

from starlette.responses import Response

from hubd.api.http import Ctx, json_response
from hubd.api.repoctx import route_repo


async def _repo(ctx: Ctx):
    return await route_repo(ctx)  # "write" routes only


async def super_squash(ctx: Ctx) -> Response:
    repo = await _repo(ctx)
    body = await ctx.json_object()
    sha = await ctx.run(ctx.hub.history.super_squash, ctx.principal, repo, ctx.params["rev"], body.get("message"))
    return json_response({"commitId": sha})


async def lfs_files(ctx: Ctx) -> Response:
    repo = await _repo(ctx)
    return json_response(await ctx.run(ctx.hub.history.lfs_files, repo))


async def delete_lfs_files(ctx: Ctx) -> Response:
    repo = await _repo(ctx)
    body = await ctx.json_object()
    await ctx.run(ctx.hub.history.delete_lfs_files, ctx.principal, repo, body)
    return json_response({})
