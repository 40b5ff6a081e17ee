"""The lookups behind every /resolve (and the metadata calls of a snapshot), answered from memory when
they can be: the repo after its access check (under the access generation, hub/accesscache.py), a full
commit sha known to be in the repo, and (commit, path) -> entry. Only misses hop to a worker thread."""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.requests import Request

from hubd.api.http import Ctx
from hubd.hub.accesscache import ANONYMOUS
from hubd.hub.browse import MISSING, PathEntry
from hubd.hub.models import Repo

_FULL_SHA = re.compile(r"[0-9a-f]{40}")
MAX_KNOWN_COMMITS = 100_000


async def access_key(ctx: Ctx) -> tuple[str | None, int | None]:
    """What the caller's access decisions are cached by, and the access generation they were read at.
    A token's hash (read in app.py), "" for anonymous callers, None (no caching) for a session cookie."""
    state = getattr(ctx.request.state, "access", None)
    if state is not None:
        return state
    if ctx.principal is not None:
        return None, None
    key_gen = (ANONYMOUS, await ctx.hub.access.current())
    ctx.request.state.access = key_gen
    return key_gen


async def download_repo(ctx: Ctx, repo_type: str) -> Repo:
    """hub.repos.for_download for this request's caller, checked on every request (a cache hit is a decision
    taken under the access generation that is current now)."""
    return await _checked(ctx, ctx.hub.repos.for_download, repo_type)


async def read_repo(ctx: Ctx, repo_type: str) -> Repo:
    """hub.repos.for_read, as download_repo."""
    return await _checked(ctx, ctx.hub.repos.for_read, repo_type)


async def _checked(ctx: Ctx, check: Callable[..., Repo], repo_type: str) -> Repo:
    hub = ctx.hub
    ns, name = ctx.params["ns"], ctx.params["name"]
    if hub.mirror is not None:  # a mirror asks its upstream: nothing to cache by here
        return await ctx.run(check, ctx.principal, repo_type, ns, name)
    key, gen = await access_key(ctx)
    return await hub.access.repo(gen, key, check, ctx.principal, repo_type, ns, name)


async def commit_of(ctx: Ctx, repo: Repo, rev: str) -> str:
    """The commit a revision names. A full sha once found in the repo stays there (history is append-only
    and branch names cannot be full shas), so it is not looked up again."""
    known = ctx.hub.access.commits
    if _FULL_SHA.fullmatch(rev) and (repo.id, rev) in known:
        return rev
    sha: str = await ctx.run(ctx.hub.refs.resolve, repo, rev)
    if sha == rev:
        if len(known) >= MAX_KNOWN_COMMITS:
            known.clear()
        known.add((repo.id, rev))
    return sha


async def entry_at(ctx: Ctx, sha: str, path: str) -> PathEntry | None:
    found = ctx.hub.browse.cached(sha, path)
    if found is MISSING:
        found = await ctx.run(ctx.hub.browse.lookup, sha, path)
    return found  # type: ignore[return-value]


def is_full_sha(rev: str) -> bool:
    return _FULL_SHA.fullmatch(rev) is not None


def not_modified(request: Request, etag: str) -> bool:
    """If-None-Match names this ETag (or *): the client's copy is current."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags
