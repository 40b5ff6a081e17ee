"""Discussions and pull requests, as far as the client needs them to open a PR and commit to it."""

from __future__ import annotations

from starlette.responses import Response

from hubd.api.http import Ctx, json_response
from hubd.hub.errors import BadRequest, NotFound
from hubd.hub.models import Repo, iso
from hubd.hub.names import PLURAL_TO_TYPE


def _discussion_json(repo: Repo, d: dict, details: bool) -> dict:
    out: dict = {
        "num": d["num"],
        "title": d["title"],
        "status": d["status"],
        "createdAt": iso(d["created_at"]),
        "isPullRequest": bool(d["is_pull_request"]),
        "repo": {"name": repo.repo_id, "type": repo.type},
        "author": {"name": d["author"] or "deleted", "type": "user"},
        "pinned": False,
        "numComments": 1 if d["description"] else 0,
        "topReactions": [],
    }
    if details:
        out["events"] = []
        if d["is_pull_request"]:
            out["changes"] = {"base": d["base_ref"] or "refs/heads/main", "mergeCommitId": None}
            out["filesWithConflicts"] = []
            out["diff"] = ""
    return out


async def _repo(ctx: Ctx) -> Repo:
    return await ctx.run(ctx.hub.repo_for_read, ctx.principal, PLURAL_TO_TYPE[ctx.params["types"]],
                         ctx.params["ns"], ctx.params["name"])


async def create(ctx: Ctx) -> Response:
    p = ctx.principal
    repo = await ctx.run(ctx.hub.repo_for_write, p, PLURAL_TO_TYPE[ctx.params["types"]], ctx.params["ns"],
                         ctx.params["name"])
    body = await ctx.json()
    title = body.get("title") if isinstance(body, dict) else None
    if not isinstance(title, str) or not title.strip():
        raise BadRequest("title is required")
    description = body.get("description") or ""
    num = await ctx.run(ctx.hub.open_discussion, p, repo, title.strip(), str(description),
                        bool(body.get("pullRequest")))
    d = await ctx.run(ctx.hub.discussion, repo, num)
    return json_response(_discussion_json(repo, d, details=False))


async def details(ctx: Ctx) -> Response:
    repo = await _repo(ctx)
    d = await ctx.run(ctx.hub.discussion, repo, int(ctx.params["num"]))
    if d is None:
        raise NotFound("Discussion not found")
    return json_response(_discussion_json(repo, d, details=True))


async def listing(ctx: Ctx) -> Response:
    repo = await _repo(ctx)
    items = [_discussion_json(repo, d, False) for d in await ctx.run(ctx.hub.list_discussions, repo)]
    return json_response({"discussions": items, "count": len(items), "start": 0, "numClosedDiscussions": 0})
