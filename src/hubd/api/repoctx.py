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
# rules whose repo part is "see it" or "download it"; the rest of such a rule (a signed-in caller, a write token,
# the discussion's author) is its handler's to check, in the order its answers need (a like asks for a user
# before it looks for the repo, a gate form after)
_SEE_RULES = ("user-read", "discuss", "discussion-author")
_COPY_RULES = ("create-from",)


def route_repo_type(ctx: Ctx) -> str:
    """The repo type in the path: the plural of /api/{types}/… or the optional prefix of page and file URLs."""
    if "types" in ctx.params:
        return PLURAL_TO_TYPE[ctx.params["types"]]
    return PREFIX_TYPE[ctx.params.get("prefix")]


async def route_repo(ctx: Ctx) -> Repo:
    """The path's repo, checked for this caller under the route's rule: "read" (see it), "download" (read
    its content; gated: granted), "pr", "contributor" or "write" (the role hub.access names); the repo part
    of "user-read", "discuss", "discussion-author" (see it) and "create-from" (download it). Private and
    missing raise the same error."""
    repo_type = route_repo_type(ctx)
    repos, p, ns, name = ctx.hub.repos, ctx.principal, ctx.params["ns"], ctx.params["name"]
    if ctx.rule == "read":
        return await read_repo(ctx, repo_type)  # from memory while access is unchanged
    if ctx.rule == "download":
        return await download_repo(ctx, repo_type)
    repo: Repo
    if ctx.rule in _WRITE_RULES:
        repo = await ctx.run(repos.for_write, p, repo_type, ns, name, ctx.rule)
        return repo
    if ctx.rule in _SEE_RULES:  # writes of their own kind (likes, comments): rare, not worth the cache
        repo = await ctx.run(repos.for_read, p, repo_type, ns, name)
        return repo
    if ctx.rule in _COPY_RULES:
        repo = await ctx.run(repos.for_download, p, repo_type, ns, name)
        return repo
    raise AssertionError(f"the route's rule {ctx.rule!r} names no repo to resolve")
