"""Discussions and pull requests as pages: list, open, thread, comment (edit, hide), close/reopen, PR diff and
merge — through the collaboration domain (hub.discussions), which applies its own rules."""

from __future__ import annotations

from starlette.responses import Response

from hubd.api.http import Ctx
from hubd.hub.errors import BadRequest, HubError
from hubd.web import render
from hubd.web.base import form, page, require_user, view
from hubd.web.pages import repo_context, repo_of

MAX_DIFF_LINES = 3000


def _num(ctx: Ctx) -> int:
    raw = ctx.params["num"]
    if len(raw) > 9:
        raise BadRequest("No such discussion")
    return int(raw)


@page
async def discussion_list(ctx: Ctx) -> Response:
    hub = ctx.hub
    repo = await ctx.run(repo_of, ctx)
    error = None
    if ctx.request.method == "POST":
        p = require_user(ctx)
        fields = await form(ctx)
        try:
            num = await ctx.run(hub.discussions.open, p, repo, fields.get("title", "").strip(),
                                fields.get("description", ""), False)
            return render.redirect(f"/{repo.url_path}/discussions/{num}")
        except HubError as exc:
            error = exc.message
    status = ctx.request.query_params.get("status", "all")
    status = status if status in ("all", "open", "closed") else "all"
    rows, total, closed = await ctx.run(hub.discussions.list, repo, "all", status, None, 0)
    data = await ctx.run(repo_context, ctx, repo, "main", "discussions")
    return view(ctx, "discussions.html", 400 if error else 200, **data, items=rows, total=total, closed=closed,
                status=status, error=error)


@page
async def thread(ctx: Ctx) -> Response:
    hub = ctx.hub
    repo = await ctx.run(repo_of, ctx)
    num = _num(ctx)
    error = None
    status_code = 200
    if ctx.request.method == "POST":
        p = require_user(ctx)
        fields = await form(ctx)
        action = fields.get("action")
        try:
            if action == "comment":
                await ctx.run(hub.discussions.comment, p, repo, num, fields.get("comment", ""))
            elif action in ("open", "closed"):
                await ctx.run(hub.discussions.set_status, p, repo, num, action, fields.get("comment", ""))
            elif action == "edit":
                await ctx.run(hub.discussions.edit_comment, p, repo, num, fields.get("comment_id", ""),
                              fields.get("content", ""))
            elif action == "hide":
                await ctx.run(hub.discussions.hide_comment, p, repo, num, fields.get("comment_id", ""))
            elif action == "rename":
                await ctx.run(hub.discussions.rename, p, repo, num, fields.get("title", ""))
            elif action == "merge":
                writable = await ctx.run(hub.repos.for_write, p, repo.type, repo.namespace, repo.name, "contributor")
                await ctx.run(hub.discussions.merge, p, writable, num, fields.get("comment", ""))
            else:
                raise BadRequest("Unknown action")
            return render.redirect(f"/{repo.url_path}/discussions/{num}")
        except HubError as exc:
            error, status_code = exc.message, exc.status

    def build() -> dict:
        d = hub.discussions.require(repo, num)
        events = hub.discussions.events(repo, num)
        p = ctx.principal
        is_writer = hub.discussions.is_writer(p, repo)
        for e in events:
            if e["type"] == "comment":
                e["html"] = render.markdown_html(str(e["data"].get("raw", ""))[:65536])
                # the same rights hub.discussions enforces: the author edits; the author or a writer hides
                mine = p is not None and e["author_id"] == p.user_id and p.token_role != "read"
                e["can_edit"] = mine and not e["data"].get("hidden")
                e["can_hide"] = (mine or is_writer) and not e["data"].get("hidden")
        conflicts: list[str] = []
        diff_lines: list = []
        if d["is_pull_request"]:
            conflicts, diff = hub.discussions.pr_state(repo, d, True)
            for line in (diff or "").splitlines()[:MAX_DIFF_LINES]:
                css = "add" if line.startswith("+") and not line.startswith("+++") else \
                    "del" if line.startswith("-") and not line.startswith("---") else \
                    "hunk" if line.startswith("@@") else "ctx"
                diff_lines.append((css, line))
        return {**repo_context(ctx, repo, "main", "discussions"), "d": d, "events": events, "conflicts": conflicts,
                "diff_lines": diff_lines, "is_writer": is_writer,
                "is_author": hub.discussions.is_author(ctx.principal, d)}

    return view(ctx, "thread.html", status_code, **await ctx.run(build), error=error)
