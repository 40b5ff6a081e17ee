"""GET /api/models, /api/datasets, /api/spaces: search, filters, sort, keyset Link pagination.

Pages are cached whole (hub.listing_cache) under the catalogue generation, read once per request; a query
string already answered at this generation for this visibility class is not even parsed again."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import orjson
from starlette.responses import Response

from hubd.api.http import Ctx, json_response
from hubd.api.repojson import Meta, repo_json, select_fields
from hubd.hub.errors import BadRequest
from hubd.hub.listing import ListQuery, visibility_class
from hubd.hub.listing_cache import Page
from hubd.hub.listing_fragment import listing_fragment
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


def _page_response(page: Page) -> Response:
    return Response(page.body, headers={"Link": page.link} if page.link else None, media_type="application/json")


async def list_repos_route(ctx: Ctx) -> Response:
    hub = ctx.hub
    if hub.mirror is None:
        key = (ctx.params["types"], ctx.request.scope.get("query_string", b""), visibility_class(ctx.principal))
        generation = await hub.listings.generation()
        if generation is not None:
            cached = hub.listing_pages.get(generation, key)
            if cached is not None:
                return _page_response(cached)
        page = await ctx.run(_build, ctx, _query(ctx))
        if generation is not None:
            hub.listing_pages.put(generation, key, page)
        return _page_response(page)
    q = _query(ctx)
    repo_type = PLURAL_TO_TYPE[ctx.params["types"]]
    if hub.mirror.listings.covers(repo_type, q.author, q.cursor):  # hubd.mirror
        return json_response(await ctx.run(hub.mirror.listings.listing, ctx.principal, repo_type, q.author,
                                           ctx.request.query_params.multi_items()))
    return _page_response(await ctx.run(_build, ctx, q))


def _build(ctx: Ctx, q: ListQuery) -> Page:
    """One page, as the bytes of its JSON and its Link header (on a worker thread: it queries)."""
    hub = ctx.hub
    full, card, config = ctx.query_bool("full"), ctx.query_bool("cardData"), ctx.query_bool("config")
    expand = ctx.query_list("expand")
    with_meta = full or card or config or bool(expand)
    if with_meta:
        listed, next_cursor = hub.listings.page(ctx.principal, q, with_meta)
        needs_files = full or "siblings" in expand
        items = []
        for it in listed:
            r = it.repo
            meta = Meta(it.tags, it.card_data, it.config, it.transformers_info, it.safetensors, r.pipeline_tag,
                        r.library_name, r.used_storage)
            files = hub.browse.files(r.head_sha) if needs_files and r.head_sha else None
            items.append(select_fields(repo_json(r, r.head_sha, r.last_modified, meta, files), expand, full, card,
                                       config))
        body = json.dumps(items, separators=(",", ":")).encode()
    else:
        rows, next_cursor = hub.listings.rows(ctx.principal, q)
        body = b"[" + b",".join([_item(*row) for row in rows]) + b"]"
    link = None
    if next_cursor:
        params = [(k, v) for k, v in ctx.request.query_params.multi_items() if k != "cursor"]
        params.append(("cursor", next_cursor))
        link = ctx.next_link(f"/api/{ctx.params['types']}", params)
    return Page(body, link)


_dumps = orjson.dumps
_GATED = {"": b"false", "auto": b'"auto"', "manual": b'"manual"'}


def _iso(ts: float) -> bytes:
    """models.iso (milliseconds, truncated, and a Z) without strftime, which is most of its cost."""
    d = datetime.fromtimestamp(ts, UTC)
    return b"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (d.year, d.month, d.day, d.hour, d.minute, d.second,
                                                    d.microsecond // 1000)


def _item(repo_id: int, repo_type: str, namespace: str, name: str, private: bool, gated: str, sdk: str | None,
          created_at: float, last_modified: float, head_sha: str | None, downloads: int, likes: int,
          trending_score: float, pipeline_tag: str | None, library_name: str | None, fragment: str | None,
          tags_json: str | None, _sort_key: object = None) -> bytes:
    """The default listing item (repojson.LISTING_FIELDS, as repo_json + select_fields shape it) from a row of
    hub.listing.list_rows, spliced with the derive job's stored fragment."""
    if fragment is None:  # not derived yet: the same members from the row
        fragment = listing_fragment(repo_type, orjson.loads(tags_json) if tags_json else [], pipeline_tag,
                                    library_name, None)
    full_id = _dumps(f"{namespace}/{name}")
    tail = b',"modelId":' + full_id if repo_type == "model" else (
        b',"sdk":' + _dumps(sdk) if repo_type == "space" and sdk is not None else b"")
    return b"".join((
        b'{"_id":"%024x","id":' % repo_id, full_id, b',"author":', _dumps(namespace), b',"sha":', _dumps(head_sha),
        b',"lastModified":"', _iso(last_modified), b'","createdAt":"', _iso(created_at),
        b'","private":true,"gated":' if private else b'","private":false,"gated":',
        _GATED.get(gated or "") or _dumps(gated), b',"disabled":false,"downloads":%d,"likes":%d,"trendingScore":%d,'
        % (downloads or 0, likes or 0, round(trending_score or 0)), fragment.encode(), tail, b"}"))
