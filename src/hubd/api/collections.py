"""Collections: /api/collections (list, create), /api/collections/{slug} (get, update, delete) and its items."""

from __future__ import annotations

from starlette.responses import Response

from hubd.api.http import Ctx, error_response, json_response
from hubd.hub.collections import CollectionExists
from hubd.hub.errors import BadRequest

SLUG = "(?P<slug>[^/]+/[^/]+)"


def _limit(ctx: Ctx) -> int:
    raw = ctx.request.query_params.get("limit", "100")
    if not raw.isdigit() or len(raw) > 6:
        raise BadRequest("limit must be a positive integer")
    return int(raw)


async def listing(ctx: Ctx) -> Response:
    owners = ctx.query_list("owner")
    items = ctx.query_list("item")
    found = await ctx.run(ctx.hub.collections.list, ctx.principal, owners, items,
                          ctx.request.query_params.get("sort"), _limit(ctx))
    return json_response(found)


async def create(ctx: Ctx) -> Response:
    body = await ctx.json_object()
    try:
        return json_response(await ctx.run(ctx.hub.collections.create, ctx.principal, body))
    except CollectionExists as exc:
        # the client's exists_ok reads the existing collection's slug from the 409's body
        r = error_response(exc, ctx.principal, "POST")
        headers = {k: v for k, v in r.headers.items() if k.lower().startswith("x-error-")}
        return json_response({"error": exc.message, "slug": exc.slug}, 409, headers)


async def get(ctx: Ctx) -> Response:
    return json_response(await ctx.run(ctx.hub.collections.get, ctx.principal, ctx.params["slug"]))


async def update(ctx: Ctx) -> Response:
    body = await ctx.json_object()
    data = await ctx.run(ctx.hub.collections.update_metadata, ctx.principal, ctx.params["slug"], body)
    return json_response({"success": True, "data": data})


async def delete(ctx: Ctx) -> Response:
    await ctx.run(ctx.hub.collections.delete, ctx.principal, ctx.params["slug"])
    return json_response({})


async def add_item(ctx: Ctx) -> Response:
    body = await ctx.json_object()
    return json_response(await ctx.run(ctx.hub.collections.add_item, ctx.principal, ctx.params["slug"], body))


async def item(ctx: Ctx) -> Response:
    slug, item_id = ctx.params["slug"], ctx.params["item"]
    if ctx.request.method == "DELETE":
        await ctx.run(ctx.hub.collections.delete_item, ctx.principal, slug, item_id)
    else:
        body = await ctx.json_object()
        await ctx.run(ctx.hub.collections.update_item, ctx.principal, slug, item_id, body)
    return json_response({"success": True})
