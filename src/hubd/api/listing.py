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
# Bounds on what one listing query may ask of the database: each term and tag is a filter of its own.
MAX_TERMS = 10
MAX_TAGS = 50
MAX_TERM_CHARS = 256


def _clean(values: list[str], what: str) -> list[str]:
    for v in values:
        if len(v) > MAX_TERM_CHARS:
            raise BadRequest(f"{what} may be at most {MAX_TERM_CHARS} characters long")
        if any(ord(c) < 32 or ord(c) == 127 for c in v):
            # PostgreSQL refuses NUL in a string (a 503 from the database); no name or tag holds control chars
            raise BadRequest(f"{what} cannot contain control characters")
    return values


def _query(ctx: Ctx) -> ListQuery:
    qp = ctx.request.query_params
    tags = [t for raw in ctx.query_list("filter") for t in raw.split(",") if t]
    for key in ("pipeline_tag", "library", "language", "tags"):
        tags += [t for raw in qp.getlist(key) for t in raw.split(",") if t]
    search = [s for s in qp.getlist("search") if s]
    if len(tags) > MAX_TAGS or len(search) > MAX_TERMS:
        raise BadRequest(f"At most {MAX_TERMS} search terms and {MAX_TAGS} filters per query")
    _clean(tags, "A filter")
    _clean(search, "A search term")
    author, sort, cursor = qp.get("author") or None, qp.get("sort") or "createdAt", qp.get("cursor") or None
    _clean([v for v in (author, sort, cursor) if v], "A query parameter")
    direction = qp.get("direction")
    if direction not in (None, "", "-1", "1"):
        raise BadRequest("direction must be -1 or 1")
    raw_limit = qp.get("limit") or str(DEFAULT_LIMIT)
    if not raw_limit.isascii() or not raw_limit.lstrip("-").isdigit() or len(raw_limit) > 12:
        raise BadRequest("Invalid limit: a whole number from 1 to 1000")
    limit = int(raw_limit)
    return ListQuery(
        repo_type=PLURAL_TO_TYPE[ctx.params["types"]],
        search=search,
        author=author,
        tags=tags,
        sort=sort,
        descending=direction != "1",
        limit=limit,
        cursor=cursor,
    )


async def list_repos_route(ctx: Ctx) -> Response:
    q = _query(ctx)
    hub = ctx.hub
    repo_type = PLURAL_TO_TYPE[ctx.params["types"]]
    if hub.mirror is not None and hub.mirror.listings.covers(repo_type, q.author, q.cursor):  # hubd.mirror
        return json_response(await ctx.run(hub.mirror.listings.listing, ctx.principal, repo_type, q.author,
                                           ctx.request.query_params.multi_items()))
    full, card, config = ctx.query_bool("full"), ctx.query_bool("cardData"), ctx.query_bool("config")
    expand = ctx.query_list("expand")
    needs_files = full or "siblings" in expand

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
