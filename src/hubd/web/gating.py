"""Gated repos on the pages: the requester's form on the repo page, and the owners' queue of access requests
(pending, accepted, rejected; accept, reject with a reason, grant) — through hub.gating, as the API does."""

from __future__ import annotations

from starlette.responses import Response

from hubd.api.http import Ctx
from hubd.hub.errors import BadRequest, HubError
from hubd.hub.gating import MAX_REASON, STATUSES
from hubd.hub.models import Repo
from hubd.web import render
from hubd.web.base import form, page, require_user, view
from hubd.web.pages import can_download, owned_repo, repo_context, repo_of

PER_PAGE = 100
ACTIONS = {"accept": "accepted", "reject": "rejected", "pending": "pending"}


def field_kind(kind: object) -> tuple[str, list[str]]:
    """A card's `extra_gated_fields` entry → (input kind, options): text, checkbox or select."""
    if isinstance(kind, dict):
        options = kind.get("options")
        if isinstance(options, list) and options:
            return "select", [str(o.get("value", o.get("label")) if isinstance(o, dict) else o) for o in options][:200]
        kind = kind.get("type")
    return ("checkbox", []) if kind == "checkbox" else ("text", [])


def gate_context(ctx: Ctx, repo: Repo) -> dict | None:
    """What the repo page shows a visitor of a gated repo (runs in a worker thread): None when not gated or
    already allowed; otherwise their request's status, or the form to ask."""
    if not repo.gated or can_download(ctx, repo):
        return None
    p = ctx.principal
    status = ctx.hub.gating.status_of(repo, p.user_id) if p is not None else None
    fields = [(label, *field_kind(kind)) for label, kind in ctx.hub.gating.form_fields(repo).items()]
    card = (ctx.hub.content.card(repo.head_sha) if repo.head_sha else None) or {}
    prompt = _card_text(card, "extra_gated_prompt", 20_000)
    return {"status": status, "fields": fields, "heading": _card_text(card, "extra_gated_heading", 200),
            "description": _card_text(card, "extra_gated_description", 2000),
            "button": _card_text(card, "extra_gated_button_content", 100),
            # the owners' conditions, in markdown as on the Hub: rendered and sanitized like a card
            "prompt": render.markdown_html(prompt) if prompt else None}


def _card_text(card: dict, key: str, limit: int) -> str | None:
    value = card.get(key)
    return (value.strip()[:limit] or None) if isinstance(value, str) else None


@page
async def request_access(ctx: Ctx) -> Response:
    """The gate form's POST (the API's /ask-access takes the session only with an X-CSRF-Token header)."""
    repo = await ctx.run(repo_of, ctx)
    p = require_user(ctx)
    fields = await form(ctx)
    fields.pop("csrf_token", None)
    await ctx.run(ctx.hub.gating.ask, p, repo, fields)
    return render.redirect("/" + repo.url_path)


@page
async def access_requests(ctx: Ctx) -> Response:
    hub = ctx.hub
    repo = await ctx.run(repo_of, ctx)  # a private repo is the 404 page, even for a visitor not signed in
    require_user(ctx)
    repo = await ctx.run(owned_repo, ctx)
    status = ctx.request.query_params.get("status", "pending")
    status = status if status in STATUSES else "pending"
    raw_after = ctx.request.query_params.get("after", "0")
    after = int(raw_after) if raw_after.isdigit() and len(raw_after) < 19 else 0
    error = message = None
    status_code = 200
    if ctx.request.method == "POST":
        fields = await form(ctx)
        action = fields.get("action", "")
        user = fields.get("user", "").strip()
        try:
            if action == "grant":
                await ctx.run(hub.gating.grant, repo, user)
                message = f"{user} was granted access"
            elif action in ACTIONS:
                reason = (fields.get("reason", "").strip() or None) if action == "reject" else None
                await ctx.run(hub.gating.handle, repo, user, None, ACTIONS[action], reason)
                message = f"The request of {user} is now {ACTIONS[action]}"
            else:
                raise BadRequest("Unknown action")
        except HubError as exc:
            error, status_code = exc.message, exc.status

    def build() -> dict:
        rows = hub.gating.list(repo, status, after, PER_PAGE + 1) if repo.gated else []
        return {**repo_context(ctx, repo, "main", "settings"), "status": status, "requests": rows[:PER_PAGE],
                "next_after": rows[PER_PAGE - 1]["user_id"] if len(rows) > PER_PAGE else None,
                "statuses": STATUSES, "max_reason": MAX_REASON}

    return view(ctx, "access_requests.html", status_code, **await ctx.run(build), error=error,
                message=message)
