"""GET /api/models, /api/datasets, /api/spaces: search, filters, sort, and Link pagination."""

from __future__ import annotations

from dataclasses import replace

from starlette.responses import Response

from hubd.api.http import Ctx, json_response
from hubd.api.shapes import sibling_json
from hubd.hub.errors import BadRequest
from hubd.hub.listing import ListQuery, list_repos, tags_of
from hubd.hub.models import Repo, iso
from hubd.hub.names import PLURAL_TO_TYPE

LISTING = "/api/(?P<types>models|datasets|spaces)"


def _int(ctx: Ctx, name: str, default: int) -> int:
    raw = ctx.request.query_params.get(name)
    try:
        return default if raw in (None, "") else int(raw)
    except ValueError:
        raise BadRequest(f"Invalid {name}: {raw!r}") from None


def _query(ctx: Ctx) -> ListQuery:
    qp = ctx.request.query_params
    tags = [t for raw in ctx.query_list("filter") for t in raw.split(",") if t]
    for key in ("pipeline_tag", "library", "language", "tags"):
        tags += [t for raw in qp.getlist(key) for t in raw.split(",") if t]
    direction = qp.get("direction")
    if direction not in (None, "", "-1", "1"):
        raise BadRequest("direction must be -1 or 1")
    return ListQuery(
        repo_type=PLURAL_TO_TYPE[ctx.params["types"]],
        search=[s for s in qp.getlist("search") if s],
        author=qp.get("author") or None,
        tags=tags,
        sort=qp.get("sort") or "createdAt",
        descending=direction != "1",
        limit=_int(ctx, "limit", 30),
        offset=_int(ctx, "cursor", 0),
    )


def _item(ctx: Ctx, repo: Repo, tags: list[str], full: bool, card: bool, expand: list[str]) -> dict:
    hub = ctx.hub
    item: dict = {
        "_id": f"{repo.id:024x}",
        "id": repo.repo_id,
        "author": repo.namespace,
        "private": repo.private,
        "gated": repo.gated_value,
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        "trendingScore": 0,
        "tags": tags,
        "createdAt": iso(repo.created_at),
        "lastModified": iso(repo.last_modified),
    }
    if repo.type == "model":
        item["modelId"] = repo.repo_id
    if repo.type == "space":
        item["sdk"] = repo.sdk
    wants_card = card or full or "cardData" in expand
    data = hub.card(repo.head_sha) if (wants_card or repo.type == "model") and repo.head_sha else None
    if data is not None and wants_card:
        item["cardData"] = data
    if data is not None and repo.type == "model":
        for key in ("library_name", "pipeline_tag"):
            if isinstance(data.get(key), str):
                item[key] = data[key]
    if (full or "siblings" in expand) and repo.head_sha:
        item["siblings"] = [sibling_json(f, False) for f in hub.browse.files(repo.head_sha)]
        item["sha"] = repo.head_sha
    if expand:
        item = {k: v for k, v in item.items() if k in ("_id", "id") or k in expand}
    return item


async def list_repos_route(ctx: Ctx) -> Response:
    q = _query(ctx)
    full, card = ctx.query_bool("full"), ctx.query_bool("cardData")
    expand = ctx.query_list("expand")

    def page() -> tuple[list[dict], bool]:
        found = list_repos(ctx.hub.db, ctx.principal, replace(q, limit=q.limit + 1))
        tags = tags_of(ctx.hub.db, [r.id for r in found[: q.limit]])
        return [_item(ctx, r, tags[r.id], full, card, expand) for r in found[: q.limit]], len(found) > q.limit

    items, more = await ctx.run(page)
    headers = {}
    if more:
        params = [(k, v) for k, v in ctx.request.query_params.multi_items() if k != "cursor"]
        params.append(("cursor", str(q.offset + q.limit)))
        headers["Link"] = ctx.next_link(f"/api/{ctx.params['types']}", params)
    return json_response(items, headers=headers)
