"""Discussions and pull requests in the Hub's shapes (`huggingface_hub` community.py and `hf discussions`)."""

from __future__ import annotations

import html

from starlette.responses import Response

from hubd.api.http import Ctx, json_response
from hubd.api.repoctx import route_repo
from hubd.hub.discussions import MAX_TITLE, PER_PAGE, check_text
from hubd.hub.errors import BadRequest, Forbidden, NotFound, Unauthorized
from hubd.hub.models import Repo, iso
from hubd.hub.refs import MAIN

MAX_NUM = 2**31 - 1  # discussion numbers are counted per repo; a larger one overflows the database column
MAX_PAGE = 100_000


def _author(name: str | None, fullname: str | None = None) -> dict:
    if name is None:
        return {"name": "deleted", "type": "user"}
    return {"name": name, "fullname": fullname or name, "type": "user", "avatarUrl": f"/avatars/{name}.svg",
            "isPro": False}


def _discussion_json(repo: Repo, d: dict) -> dict:
    return {
        "num": d["num"],
        "title": d["title"],
        "status": d["status"],
        "createdAt": iso(d["created_at"]),
        "isPullRequest": bool(d["is_pull_request"]),
        "repo": {"name": repo.repo_id, "type": repo.type},
        "author": _author(d["author"]),
        "pinned": False,
        "numComments": d.get("num_comments", 0),
        "topReactions": [],
    }


def event_json(e: dict) -> dict:
    data = e["data"]
    author = _author(e.get("author"), e.get("fullname"))
    out: dict = {"id": e["id"], "type": e["type"], "createdAt": iso(e["created_at"]), "author": author}
    if e["type"] == "comment":
        raw = data.get("raw", "")
        out["data"] = {
            "edited": bool(data.get("edited")), "hidden": bool(data.get("hidden")),
            "latest": {"raw": raw, "html": "<p>" + html.escape(raw).replace("\n", "<br>") + "</p>",
                       "updatedAt": iso(data.get("updated_at", e["created_at"])),
                       "author": _author(data.get("editor") or e.get("author"))},
            "numEdits": len(data.get("history", [])),
            "editors": sorted({h.get("author") or "deleted" for h in data.get("history", [])}
                              | ({data["editor"]} if data.get("edited") and data.get("editor") else set())),
            "history": [{"raw": h.get("raw", ""), "updatedAt": iso(h.get("updatedAt") or e["created_at"]),
                         "author": _author(h.get("author"))} for h in data.get("history", [])],
            "reactions": [], "isReport": False,
        }
        if data.get("hidden_by"):
            out["data"]["hiddenBy"] = data["hidden_by"]
    else:
        out["data"] = {k: v for k, v in data.items()}
    return out


async def _discuss(ctx: Ctx) -> Repo:
    """Opening and commenting: a signed-in user with a write token who can see the repo (gated included)."""
    p = ctx.principal
    repo = await route_repo(ctx)
    if p is None:
        raise Unauthorized("You must be authenticated to take part in discussions")
    if p.token_role == "read":
        raise Forbidden("You need a token with write access to take part in discussions")
    return repo


def _num(ctx: Ctx) -> int:
    raw = ctx.params["num"].lstrip("0") or "0"  # the route allows digits only, but any number of them
    num = int(raw) if len(raw) <= 10 else MAX_NUM + 1
    if num > MAX_NUM or num < 1:
        raise NotFound("Discussion not found")
    return num


async def create(ctx: Ctx) -> Response:
    repo = await _discuss(ctx)
    body = await ctx.json_object()
    title = check_text(body.get("title"), "title", MAX_TITLE).strip()
    description = check_text(body.get("description"), "description", 65_536, required=False)
    pull_request = body.get("pullRequest")
    if pull_request is not None and not isinstance(pull_request, bool):
        raise BadRequest("pullRequest must be a boolean")
    hub = ctx.hub
    num = await ctx.run(hub.discussions.open, ctx.principal, repo, title, description, bool(pull_request))
    d = await ctx.run(hub.discussions.require, repo, num)
    out = _discussion_json(repo, d)
    out["url"] = f"{ctx.base_url}/{repo.url_path}/discussions/{num}"
    if d["is_pull_request"]:
        out["gitReference"] = f"refs/pr/{num}"
    return json_response(out)


async def details(ctx: Ctx) -> Response:
    repo = await route_repo(ctx)
    num = _num(ctx)
    hub = ctx.hub

    def load() -> dict:
        d = hub.discussions.require(repo, num)
        out = _discussion_json(repo, d)
        out["events"] = [event_json(e) for e in hub.discussions.events(repo, num)]
        out["numComments"] = sum(1 for e in out["events"] if e["type"] == "comment")
        if d["is_pull_request"]:
            conflicts, diff = hub.discussions.pr_state(repo, d, ctx.query_bool("diff"))
            base = d["base_ref"] or MAIN
            out["changes"] = {"base": base, "mergeCommitId": d["merge_commit"],
                              "headCommitId": hub.refs.get(repo, f"refs/pr/{num}")}
            out["filesWithConflicts"] = conflicts
            if diff is not None:
                out["diff"] = diff
        return out

    return json_response(await ctx.run(load))


def _choice(ctx: Ctx, name: str, allowed: tuple[str, ...]) -> str:
    value = ctx.request.query_params.get(name) or "all"
    if value not in allowed:
        raise BadRequest(f"{name} must be one of {', '.join(allowed)}")
    return value


async def listing(ctx: Ctx) -> Response:
    repo = await route_repo(ctx)
    kind = _choice(ctx, "type", ("all", "discussion", "pull_request"))
    status = _choice(ctx, "status", ("all", "open", "closed"))
    author = ctx.request.query_params.get("author") or None
    page_raw = ctx.request.query_params.get("p", "0")
    if not page_raw.isdigit() or int(page_raw) > MAX_PAGE:
        raise BadRequest(f"p must be a page number up to {MAX_PAGE}")
    if author is not None and len(author) > 96:
        raise BadRequest("author is a user name")
    page = int(page_raw)
    rows, total, closed = await ctx.run(ctx.hub.discussions.list, repo, kind, status, author, page)
    return json_response({"discussions": [_discussion_json(repo, d) for d in rows], "count": total,
                          "start": page * PER_PAGE, "numClosedDiscussions": closed})


async def comment(ctx: Ctx) -> Response:
    repo = await _discuss(ctx)
    num = _num(ctx)
    body = await ctx.json_object()
    e = await ctx.run(ctx.hub.discussions.comment, ctx.principal, repo, num, body.get("comment"))
    return json_response({"newMessage": event_json(e)})


async def edit_comment(ctx: Ctx) -> Response:
    repo = await _discuss(ctx)
    num = _num(ctx)
    body = await ctx.json_object()
    e = await ctx.run(ctx.hub.discussions.edit_comment, ctx.principal, repo, num, ctx.params["comment"],
                      body.get("content"))
    return json_response({"updatedComment": event_json(e)})


async def hide_comment(ctx: Ctx) -> Response:
    repo = await _discuss(ctx)
    num = _num(ctx)
    e = await ctx.run(ctx.hub.discussions.hide_comment, ctx.principal, repo, num, ctx.params["comment"])
    return json_response({"updatedComment": event_json(e)})


async def _moderated(ctx: Ctx) -> tuple[Repo, int]:
    """Renaming and status changes: the discussion's author or the repo's writers (checked per discussion
    before the body is read)."""
    repo = await route_repo(ctx)
    if ctx.principal is None:
        raise Unauthorized("You must be authenticated to change a discussion")
    num = _num(ctx)
    d = await ctx.run(ctx.hub.discussions.require, repo, num)
    await ctx.run(ctx.hub.discussions.need_author_or_writer, ctx.principal, repo, d, "change it")
    return repo, num


async def rename(ctx: Ctx) -> Response:
    repo, num = await _moderated(ctx)
    body = await ctx.json_object()
    e = await ctx.run(ctx.hub.discussions.rename, ctx.principal, repo, num, body.get("title"))
    return json_response({"newTitle": event_json(e)})


async def status(ctx: Ctx) -> Response:
    repo, num = await _moderated(ctx)
    body = await ctx.json_object()
    e = await ctx.run(ctx.hub.discussions.set_status, ctx.principal, repo, num, body.get("status"),
                      body.get("comment"))
    return json_response({"newStatus": event_json(e)})


async def merge(ctx: Ctx) -> Response:
    repo = await route_repo(ctx)
    num = _num(ctx)
    body = await ctx.json_object()
    sha = await ctx.run(ctx.hub.discussions.merge, ctx.principal, repo, num, body.get("comment"))
    return json_response({"success": True, "mergeCommitId": sha})
