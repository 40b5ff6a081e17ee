"""GET /api/models, /api/datasets, /api/spaces: search, filters, sort, keyset Link pagination."""

from __future__ import annotations

from starlette.responses import Response

from hubd.api.http import Ctx, json_response
from hubd.api.repojson import Meta, repo_json, select_fields
from hubd.hub.errors import BadRequest
from hubd.hub.listing import ListQuery, list_repos
from hubd.hub.names import PLURAL_TO_TYPE

LISTING = "/api/(?P<types>models|datasets|spaces)"
DEFAULT_LIMIT = 30


def _query(ctx: Ctx) -> ListQuery:
    qp = ctx.request.query_params
    tags = [t for raw in ctx.query_list("filter") for t in raw.split(",") if t]
    for key in ("pipeline_tag", "library", "language", "tags"):
        tags += [t for raw in qp.getlist(key) for t in raw.split(",") if t]
    direction = qp.get("direction")
    if direction not in (None, "", "-1", "1"):
        raise BadRequest("direction must be -1 or 1")
    raw_limit = qp.get("limit") or str(DEFAULT_LIMIT)
    try:
        limit = int(raw_limit)
    except ValueError:
        raise BadRequest(f"Invalid limit: {raw_limit!r}") from None
    return ListQuery(
        repo_type=PLURAL_TO_TYPE[ctx.params["types"]],
        search=[s for s in qp.getlist("search") if s],
        author=qp.get("author") or None,
        tags=tags,
        sort=qp.get("sort") or "createdAt",
        descending=direction != "1",
        limit=limit,
        cursor=qp.get("cursor") or None,
    )


async def list_repos_route(ctx: Ctx) -> Response:
    q = _query(ctx)
    full, card, config = ctx.query_bool("full"), ctx.query_bool("cardData"), ctx.query_bool("config")
    expand = ctx.query_list("expand")
    needs_files = full or "siblings" in expand
    hub = ctx.hub

    def page() -> tuple[list[dict], str | None]:
        with_meta = full or card or config or bool(expand)
        listed, next_cursor = list_repos(hub.db, ctx.principal, q, with_meta)
        items = []
        for it in listed:
            r = it.repo
            meta = Meta(it.tags, it.card_data, it.config, it.transformers_info, it.safetensors, r.pipeline_tag,
                        r.library_name, r.used_storage)
            files = hub.browse.files(r.head_sha) if needs_files and r.head_sha else None
            item = repo_json(r, r.head_sha, r.last_modified, meta, files)
            items.append(select_fields(item, expand, full, card, config))
        return items, next_cursor

    items, next_cursor = await ctx.run(page)
    headers = {}
    if next_cursor:
        params = [(k, v) for k, v in ctx.request.query_params.multi_items() if k != "cursor"]
        params.append(("cursor", next_cursor))
        headers["Link"] = ctx.next_link(f"/api/{ctx.params['types']}", params)
    return json_response(items, headers=headers)
