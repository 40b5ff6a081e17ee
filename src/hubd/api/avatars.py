"""GET /avatars/{name}.svg: every account's avatar (whoami's avatarUrl points here)."""

from __future__ import annotations

from starlette.responses import Response

from hubd.api.http import Ctx
from hubd.hub.avatars import avatar_svg
from hubd.hub.errors import NotFound
from hubd.hub.names import check_account_name


def avatar_url(ctx: Ctx, name: str) -> str:
    return f"{ctx.base_url}/avatars/{name}.svg"


async def avatar(ctx: Ctx) -> Response:
    name = ctx.params["name"]
    check_account_name(name)
    if await ctx.run(ctx.hub.accounts.account, name) is None:
        raise NotFound(f"No account named {name}")
    return Response(avatar_svg(name), media_type="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=86400",
                             "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})
