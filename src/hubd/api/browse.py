"""Reading a repo: tree listings, paths-info, refs, commit history; and moving refs (branches, tags)."""

from __future__ import annotations

from itertools import islice
from urllib.parse import parse_qs, quote

from starlette.responses import Response

from hubd.api.hotpath import commit_of, is_full_sha
from hubd.api.http import Ctx, json_response, loads_object
from hubd.api.repoctx import route_repo
from hubd.api.shapes import commit_json, last_commit_json, tree_entry_json
from hubd.hub.errors import BadRequest
from hubd.hub.models import Repo

TREE_PAGE = 1000
TREE_PAGE_EXPANDED = 100
COMMITS_PAGE = 50
MAX_CURSOR = 10**9  # beyond any tree or history hubd holds; islice refuses more than sys.maxsize (a 500)
MAX_PATHS = 10_000  # paths-info: each path is a tree walk


async def _repo(ctx: Ctx) -> Repo:
    return await route_repo(ctx)  # "read" routes: from memory while access is unchanged


def _cursor(ctx: Ctx) -> int:
    raw = ctx.request.query_params.get("cursor") or ctx.request.query_params.get("p") or "0"
    # checked as text first: int() of a long enough string is itself costly, and of 4,300 digits an error
    if not raw.isascii() or not raw.isdigit() or len(raw.lstrip("0")) > len(str(MAX_CURSOR)):
        raise BadRequest(f"Invalid cursor: a whole number from 0 to {MAX_CURSOR}")
    value = int(raw)
    if value > MAX_CURSOR:
        raise BadRequest(f"Invalid cursor: a whole number from 0 to {MAX_CURSOR}")
    return value


async def tree(ctx: Ctx) -> Response:
    hub = ctx.hub
    repo = await _repo(ctx)
    sha = await commit_of(ctx, repo, ctx.params["rev"])
    path = ctx.params.get("path", "").strip("/")
    recursive, expand = ctx.query_bool("recursive"), ctx.query_bool("expand")
    page = TREE_PAGE_EXPANDED if expand else TREE_PAGE
    start = _cursor(ctx)
    # a page at a commit named by its sha (as snapshots ask) never changes: built once, kept in memory
    key = (repo.id, sha, path, recursive, start) if not expand and is_full_sha(ctx.params["rev"]) else None
    cached = hub.access.tree_pages.get(key) if key else None

    def listing() -> tuple[list[dict], bool]:
        entries = list(islice(hub.browse.list_dir(sha, path, recursive), start, start + page + 1))
        xet = hub.objects.xet_hashes(repo.id, [e.lfs.oid for e in entries[:page] if e.lfs is not None])
        out = []
        for e in entries[:page]:
            item = tree_entry_json(e, xet)
            if expand:
                item["lastCommit"] = last_commit_json(*hub.browse.last_commit(sha, e.path))
            out.append(item)
        return out, len(entries) > page

    if cached is not None:
        items, more = cached
    else:
        items, more = await ctx.run(listing)
        if key:
            hub.access.keep_tree_page(key, (items, more))
    headers = {}
    if more:
        # Later pages name the commit, not the branch, so a walk sees one consistent tree.
        suffix = f"/{quote(path, safe='')}" if path else ""
        headers["Link"] = ctx.next_link(
            f"/api/{ctx.params['types']}/{repo.repo_id}/tree/{sha}{suffix}",
            {"recursive": str(recursive).lower(), "expand": str(expand).lower(), "cursor": start + page},
        )
    return json_response(items, headers=headers)


async def paths_info(ctx: Ctx) -> Response:
    hub = ctx.hub
    repo = await _repo(ctx)
    sha = await ctx.run(hub.refs.resolve, repo, ctx.params["rev"])
    body = await ctx.body()
    if ctx.request.headers.get("content-type", "").startswith("application/json"):
        data = loads_object(body)
        paths, expand = data.get("paths", []), data.get("expand", False)
        if not isinstance(expand, bool):
            raise BadRequest("expand must be a boolean")
    else:
        form = parse_qs(body.decode("utf-8", errors="replace"))
        paths = form.get("paths", [])
        expand = (form.get("expand", ["false"])[0]).lower() == "true"
    if not isinstance(paths, list) or not all(isinstance(x, str) for x in paths):
        raise BadRequest("paths must be a list of strings")
    if len(paths) > MAX_PATHS:
        raise BadRequest(f"At most {MAX_PATHS} paths per request")
    if any("\0" in x for x in paths):
        raise BadRequest("Paths cannot contain NUL characters")

    def lookup() -> list[dict]:
        out = []
        found = [hub.browse.lookup(sha, path) if path else None for path in dict.fromkeys(p.strip("/") for p in paths)]
        entries = [e for e in found if e is not None]
        xet = hub.objects.xet_hashes(repo.id, [e.lfs.oid for e in entries if e.lfs is not None])
        for entry in entries:
            item = tree_entry_json(entry, xet)
            if expand:
                item["lastCommit"] = last_commit_json(*hub.browse.last_commit(sha, entry.path))
            out.append(item)
        return out

    return json_response(await ctx.run(lookup))


async def list_refs(ctx: Ctx) -> Response:
    repo = await _repo(ctx)
    out: dict[str, list] = {"branches": [], "converts": [], "tags": []}
    include_prs = ctx.query_bool("include_prs")
    if include_prs:
        out["pullRequests"] = []
    for name, target in await ctx.run(ctx.hub.refs.all, repo):
        for prefix, key in (("refs/heads/", "branches"), ("refs/tags/", "tags"), ("refs/convert/", "converts"),
                            ("refs/pr/", "pullRequests")):
            if name.startswith(prefix) and key in out:
                short = name if key == "pullRequests" else name[len(prefix):]
                out[key].append({"name": short, "ref": name, "targetCommit": target})
    return json_response(out)


async def list_commits(ctx: Ctx) -> Response:
    hub = ctx.hub
    repo = await _repo(ctx)
    sha = await ctx.run(hub.refs.resolve, repo, ctx.params["rev"])
    start = _cursor(ctx)
    formatted = "formatted" in ctx.query_list("expand")
    raw_limit = ctx.request.query_params.get("limit") or str(COMMITS_PAGE)
    if not raw_limit.isascii() or not raw_limit.isdigit() or len(raw_limit) > 12:
        raise BadRequest("Invalid limit: a whole number from 1 to 1000")
    limit = max(1, min(int(raw_limit), 1000))

    def page() -> tuple[list[dict], bool]:
        commits = list(islice(hub.browse.history(sha), start, start + limit + 1))
        return [commit_json(s, c, formatted) for s, c in commits[:limit]], len(commits) > limit

    items, more = await ctx.run(page)
    headers = {}
    if more:
        params: dict = {"p": start + limit, "limit": limit}
        if formatted:
            params["expand[]"] = "formatted"
        headers["Link"] = ctx.next_link(f"/api/{ctx.params['types']}/{repo.repo_id}/commits/{sha}", params)
    return json_response(items, headers=headers)


async def create_branch(ctx: Ctx) -> Response:
    repo = await route_repo(ctx)
    body = await ctx.json_object()
    start, empty = body.get("startingPoint"), body.get("emptyBranch", False)
    if start is not None and (not isinstance(start, str) or not start or "\0" in start):
        raise BadRequest("startingPoint must be a revision (a branch, tag or commit id)")
    if not isinstance(empty, bool):
        raise BadRequest("emptyBranch must be a boolean")
    await ctx.run(ctx.hub.branches.create, ctx.principal, repo, ctx.params["ref"], start, empty)
    return json_response({})


async def delete_branch(ctx: Ctx) -> Response:
    repo = await route_repo(ctx)
    await ctx.run(ctx.hub.branches.delete, repo, f"refs/heads/{ctx.params['ref']}", f"Branch {ctx.params['ref']}")
    return json_response({})


async def create_tag(ctx: Ctx) -> Response:
    repo = await route_repo(ctx)
    body = await ctx.json_object()
    tag = body.get("tag")
    if not isinstance(tag, str) or not tag or "\0" in tag:
        raise BadRequest("tag is required (a string)")
    await ctx.run(ctx.hub.branches.create_tag, repo, tag, ctx.params["ref"])
    return json_response({})


async def delete_tag(ctx: Ctx) -> Response:
    repo = await route_repo(ctx)
    await ctx.run(ctx.hub.branches.delete, repo, f"refs/tags/{ctx.params['ref']}", f"Tag {ctx.params['ref']}")
    return json_response({})
