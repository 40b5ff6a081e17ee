"""A user's own access tokens: POST/GET /api/settings/tokens and DELETE /api/settings/tokens/{id}.

POST body (the Hub's token form as JSON): {"displayName": str, "role": "read" | "write" | "fineGrained",
"expiresAt": ISO 8601 or null, "fineGrained": {"canReadGatedRepos": bool, "global": [...],
"scoped": [{"entity": {"type": "user|org|model|dataset|space", "name": ...}, "permissions": [...]}]}}.
The answer carries the secret once, in "token"; listings never do. Only a classic write token (or a web
session) manages tokens, so a read or fine-grained token cannot mint a stronger one."""

from __future__ import annotations

from starlette.responses import Response

from hubd.api.http import Ctx, json_response
from hubd.api.repos import require_user
from hubd.hub.errors import NotFound


async def create(ctx: Ctx) -> Response:
    p = require_user(ctx)
    body = await ctx.json_object()
    return json_response(await ctx.run(ctx.hub.accounts.create_own_token, p, body))


async def listing(ctx: Ctx) -> Response:
    p = require_user(ctx)
    return json_response(await ctx.run(ctx.hub.accounts.own_tokens, p))


async def revoke(ctx: Ctx) -> Response:
    p = require_user(ctx)
    raw = ctx.params["token_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"No token with id {raw}")
    await ctx.run(ctx.hub.accounts.revoke_own_token, p, int(raw))
    return json_response({})
