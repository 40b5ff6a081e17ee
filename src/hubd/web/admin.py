"""The admin area: users (disable, delete, make admin), organizations, every token, sign-up and invitations."""

from __future__ import annotations

from starlette.responses import Response

from hubd.api.http import Ctx
from hubd.hub.errors import BadRequest, HubError
from hubd.web.base import form, page, require_admin, view


@page
async def admin(ctx: Ctx) -> Response:
    p = require_admin(ctx)
    hub = ctx.hub
    error = message = invite = None
    if ctx.request.method == "POST":
        fields = await form(ctx)
        action, name = fields.get("action", ""), fields.get("name", "").strip()
        try:
            if name == p.name and action in ("disable", "delete", "unadmin"):
                raise BadRequest("You cannot lock yourself out: ask another administrator")
            if action == "disable":
                await ctx.run(hub.accounts.set_disabled, name, True)
            elif action == "enable":
                await ctx.run(hub.accounts.set_disabled, name, False)
            elif action == "delete":
                if fields.get("confirm") != name:
                    raise BadRequest(f"Type {name} to confirm")
                await ctx.run(hub.accounts.delete_user, name)
            elif action in ("admin", "unadmin"):
                await ctx.run(hub.accounts.set_admin, name, action == "admin")
            elif action == "add-org":
                await ctx.run(hub.accounts.add_org, name)
            elif action == "revoke-token":
                raw = fields.get("token_id", "")
                if not raw.isdigit():
                    raise BadRequest("No such token")
                await ctx.run(hub.accounts.revoke_token, int(raw))
            elif action == "signup":
                await ctx.run(hub.signin.set_open_signup, fields.get("open") == "1")
            elif action == "invite":
                code = await ctx.run(hub.signin.invite, p.user_id)
                invite = f"{ctx.base_url}/join?invite={code}"
            else:
                raise BadRequest("Unknown action")
            message = "Done"
        except HubError as exc:
            error = exc.message

    def build() -> dict:
        accounts = hub.accounts
        return {"users": accounts.list_users(), "orgs": accounts.list_orgs(), "tokens": accounts.list_tokens(),
                "open_signup": hub.signin.open_signup()}

    return view(ctx, "admin.html", 400 if error else 200, error=error, message=message, invite=invite,
                **await ctx.run(build))
