"""Who is calling: whoami, plus the client's side-channel lookups."""

from __future__ import annotations

from starlette.responses import Response

from hubd.api.avatars import avatar_url
from hubd.api.http import Ctx, json_response
from hubd.api.repos import require_user


async def whoami(ctx: Ctx) -> Response:
    p = require_user(ctx)
    orgs = await ctx.run(ctx.hub.accounts.orgs_of, p.user_id)
    token: dict = {"displayName": p.token_name, "role": p.token_role}
    if p.scopes is not None:  # as the Hub shows a fine-grained token: its scopes under current names
        token["fineGrained"] = p.scopes.shown
    return json_response({
        "type": "user",
        "id": f"{p.user_id:024x}",
        "name": p.name,
        "fullname": p.fullname,
        **({"email": p.email} if p.email else {}),
        "emailVerified": p.email is not None,
        "isPro": False,
        "canPay": False,
        "avatarUrl": avatar_url(ctx, p.name),
        "orgs": [
            {"type": "org", "name": o["name"], "fullname": o["fullname"], "roleInOrg": o["roleInOrg"],
             "avatarUrl": avatar_url(ctx, o["name"]), "isEnterprise": False}
            for o in orgs
        ],
        "auth": {"type": "access_token", "accessToken": token},
    })


async def agent_harnesses(ctx: Ctx) -> Response:
    return json_response({"standardEnvVars": [], "harnesses": {}})
