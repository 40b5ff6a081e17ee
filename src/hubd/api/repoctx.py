"""The repo a route names, resolved under the access rule the route declares (api/routes.py): handlers ask
`await route_repo(ctx)` instead of choosing a `Hub.repo_for_*` call and rebuilding its arguments, so a
route's declared rule and the check its handler makes cannot drift apart."""

from __future__ import annotations

from hubd.api.hotpath import download_repo, read_repo
from hubd.api.http import Ctx
from hubd.hub.models import Repo
from hubd.hub.names import PLURAL_TO_TYPE, PREFIX_TYPE

# rules that name a repo to write to, and the least role each needs (hub.access)
_WRITE_RULES = ("pr", "contributor", "write")


def route_repo_type(ctx: Ctx) -> str:
    """The repo type in the path: the plural of /api/{types}/… or the optional prefix of page and file URLs."""
    if "types" in ctx.params:
        return PLURAL_TO_TYPE[ctx.params["types"]]
    return PREFIX_TYPE[ctx.params.get("prefix")]


async def route_repo(ctx: Ctx) -> Repo:
    """The path's repo, checked for this caller under the route's rule: "read" (see it), "download" (read
    its content; gated: granted), "pr", "contributor" or "write" (the role hub.access names). Private and
    missing raise the same error."""
    repo_type = route_repo_type(ctx)
    if ctx.rule == "read":
        return await read_repo(ctx, repo_type)  # from memory while access is unchanged
    if ctx.rule == "download":
        return await download_repo(ctx, repo_type)
    if ctx.rule in _WRITE_RULES:
        repo: Repo = await ctx.run(ctx.hub.repos.for_write, ctx.principal, repo_type, ctx.params["ns"],
                                   ctx.params["name"], ctx.rule)
        return repo
    raise AssertionError(f"the route's rule {ctx.rule!r} names no repo to resolve")
