"""Discussions and pull requests, as far as the client needs them to open a PR and commit to it."""

from __future__ import annotations

from starlette.responses import Response

from hubd.api.http import Ctx, json_response
from hubd.hub.errors import BadRequest, NotFound
from hubd.hub.models import Repo, iso
from hubd.hub.names import PLURAL_TO_TYPE

MAX_NUM = 2**31 - 1  # discussion numbers are counted per repo; a larger one overflows the database column
MAX_TITLE = 500


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
                         ctx.params["name"], "pr")
    body = await ctx.json_object()
    title, description, pull_request = body.get("title"), body.get("description"), body.get("pullRequest")
    description = "" if description is None else description
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
        raise BadRequest(f"title is required, at most {MAX_TITLE} characters")
    if not isinstance(description, str):
        raise BadRequest("description must be a string")
    if pull_request is not None and not isinstance(pull_request, bool):
        raise BadRequest("pullRequest must be a boolean")
    if "\0" in title or "\0" in description:
        raise BadRequest("title and description cannot contain NUL characters")
    num = await ctx.run(ctx.hub.open_discussion, p, repo, title.strip(), description, bool(pull_request))
    d = await ctx.run(ctx.hub.discussion, repo, num)
    return json_response(_discussion_json(repo, d, details=False))


async def details(ctx: Ctx) -> Response:
    repo = await _repo(ctx)
    raw = ctx.params["num"].lstrip("0") or "0"  # the route allows digits only, but any number of them
    num = int(raw) if len(raw) <= 10 else MAX_NUM + 1
    d = await ctx.run(ctx.hub.discussion, repo, num) if num <= MAX_NUM else None
    if d is None:
        raise NotFound("Discussion not found")
    return json_response(_discussion_json(repo, d, details=True))


async def listing(ctx: Ctx) -> Response:
    repo = await _repo(ctx)
    items = [_discussion_json(repo, d, False) for d in await ctx.run(ctx.hub.list_discussions, repo)]
    return json_response({"discussions": items, "count": len(items), "start": 0, "numClosedDiscussions": 0})
