"""Endpoints that only answer who may do what: `auth_check` and the storage overview of a namespace."""

from __future__ import annotations

from starlette.responses import Response

from hubd.api.http import Ctx, json_response
from hubd.api.repoctx import route_repo
from hubd.hub.errors import BadRequest, Forbidden, Unauthorized
from hubd.hub.models import iso

PAGE = 100


async def auth_check(ctx: Ctx) -> Response:
    """GET /api/{types}/{id}/auth-check[/write]: 200 when the caller may download (or write to) the repo,
    else the error that download (or a commit) would get: RepoNotFound, GatedRepo, Forbidden."""
    await route_repo(ctx)  # the two routes declare "download" and "contributor"
    return json_response({})


async def repositories(ctx: Ctx) -> Response:
    """GET /api/settings/repositories and /api/organizations/{org}/settings/repositories: every repo of the
    caller's (or an org's) namespace with its storage, for `list_user_repos` / `hf repos list`."""
    p = ctx.principal
    if p is None:
        raise Unauthorized("You must be authenticated to list your repositories")
    namespace = ctx.params.get("org") or p.name
    if p.namespace_role(namespace) is None:
        raise Forbidden(f"You are not a member of {namespace}")
    cursor = ctx.request.query_params.get("cursor", "0")
    if not cursor.isdigit() or len(cursor) > 18:
        raise BadRequest("Invalid cursor")
    found, total = await ctx.run(ctx.hub.repos.of_namespace, namespace, int(cursor), PAGE + 1)
    page = found[:PAGE]
    total = total or 1
    items = [{"id": r.repo_id, "type": r.type, "updatedAt": iso(r.last_modified),
              "visibility": "private" if r.private else "public", "storage": r.used_storage,
              "storagePercent": round(100 * r.used_storage / total, 2)} for r in page]
    headers = {}
    if len(found) > PAGE:
        headers["Link"] = ctx.next_link(ctx.request.url.path, {"cursor": str(page[-1].id)})
    return json_response(items, headers=headers)
