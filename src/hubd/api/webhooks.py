"""Webhooks of the signed-in user: /api/settings/webhooks[/{id}[/enable|/disable|/deliveries]]."""

from __future__ import annotations

from starlette.responses import Response

from hubd.api.http import Ctx, json_response
from hubd.api.repos import require_user

HOOK = "(?P<hook>[^/]+)"


async def collection(ctx: Ctx) -> Response:
    p = require_user(ctx)
    if ctx.request.method == "POST":
        body = await ctx.json_object()
        return json_response({"webhook": await ctx.run(ctx.hub.webhooks.create, p, body)})
    return json_response(await ctx.run(ctx.hub.webhooks.list, p))


async def one(ctx: Ctx) -> Response:
    p = require_user(ctx)
    hook = ctx.params["hook"]
    if ctx.request.method == "DELETE":
        await ctx.run(ctx.hub.webhooks.delete, p, hook)
        return json_response({})
    if ctx.request.method == "POST":
        body = await ctx.json_object()
        return json_response({"webhook": await ctx.run(ctx.hub.webhooks.update, p, hook, body)})
    return json_response({"webhook": await ctx.run(ctx.hub.webhooks.get, p, hook)})


async def enable(ctx: Ctx) -> Response:
    p = require_user(ctx)
    return json_response({"webhook": await ctx.run(ctx.hub.webhooks.set_disabled, p, ctx.params["hook"], False)})


async def disable(ctx: Ctx) -> Response:
    p = require_user(ctx)
    return json_response({"webhook": await ctx.run(ctx.hub.webhooks.set_disabled, p, ctx.params["hook"], True)})


async def deliveries(ctx: Ctx) -> Response:
    """The delivery log (hubd's own; the Hub shows it on its settings page)."""
    p = require_user(ctx)
    return json_response(await ctx.run(ctx.hub.webhooks.deliveries, p, ctx.params["hook"]))
