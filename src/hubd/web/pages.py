"""Repo pages: the card, files (tree and blob), history and the diff of a commit."""

from __future__ import annotations

from itertools import islice
from urllib.parse import quote

from starlette.responses import Response

from hubd.api.files import PREFIX_TYPE
from hubd.api.http import Ctx
from hubd.hub import access
from hubd.hub.derive import for_revision
from hubd.hub.errors import EntryNotFound, GatedRepo, HubError
from hubd.hub.models import Repo
from hubd.hub.names import PREFIXES_RE
from hubd.web import repo_view
from hubd.web.base import page, view

# the page patterns: an id never starts with the reserved "api" namespace, so no API path reaches a page
REPO = rf"(?:(?P<prefix>{PREFIXES_RE})/)?(?P<ns>(?!api/)[^/]+)/(?P<name>[^/]+)"
COMMITS_PER_PAGE = 50


def repo_of(ctx: Ctx) -> Repo:
    """The repo a page is about; a private one is missing to whoever may not see it (RepoNotFound)."""
    p = ctx.params
    return ctx.hub.repos.for_read(ctx.principal, PREFIX_TYPE[p.get("prefix")], p["ns"], p["name"])


def owned_repo(ctx: Ctx) -> Repo:
    """The repo of a page only its writers use (settings, access requests): missing to whoever may not see
    it, as any page; then the write check (403 for readers). Call after require_user."""
    repo = repo_of(ctx)
    return ctx.hub.repos.for_write(ctx.principal, repo.type, repo.namespace, repo.name, "write")


def can_download(ctx: Ctx, repo: Repo) -> bool:
    try:
        ctx.hub.repos.for_download(ctx.principal, repo.type, repo.namespace, repo.name)
    except GatedRepo:
        return False
    return True


def _liked(ctx: Ctx, repo: Repo) -> bool:
    return ctx.principal is not None and ctx.hub.likes.likes(ctx.principal.user_id, repo.id)


def repo_context(ctx: Ctx, repo: Repo, rev: str, tab: str) -> dict:
    refs = ctx.hub.refs.all(repo)
    branches = sorted(n.removeprefix("refs/heads/") for n, _t in refs if n.startswith("refs/heads/"))
    tags = sorted(n.removeprefix("refs/tags/") for n, _t in refs if n.startswith("refs/tags/"))
    can_write = access.can_write(ctx.principal, repo.namespace, repo.created_by, "write")
    return {"repo": repo, "rev": rev, "rev_q": quote(rev, safe=""), "tab": tab, "branches": branches, "tags": tags,
            "can_write": can_write, "liked": _liked(ctx, repo), "url": "/" + repo.url_path,
            "type_label": repo.type.capitalize()}


@page
async def repo_page(ctx: Ctx) -> Response:
    from hubd.web.gating import gate_context

    hub = ctx.hub

    def build() -> dict:
        repo = repo_of(ctx)
        rev = ctx.params.get("rev", "main")
        sha = hub.refs.resolve(repo, rev)
        derived = for_revision(hub, repo, sha)
        readme_html, readme_entry = repo_view.readme(hub, sha)
        card = derived.card_data if isinstance(derived.card_data, dict) else {}
        st = derived.safetensors if isinstance(derived.safetensors, dict) else None
        return {
            **repo_context(ctx, repo, rev, "card"), "sha": sha, "derived": derived, "card": card,
            "readme_html": readme_html, "readme_entry": readme_entry,
            "licenses": repo_view.card_list(card, "license"), "datasets": repo_view.card_list(card, "datasets"),
            "base_models": repo_view.card_list(card, "base_model"),
            "results": repo_view.model_index_rows(card),
            "params": st.get("total") if st else None,
            "dtypes": sorted((st.get("parameters") or {}).keys()) if st else [],
            "gate": gate_context(ctx, repo),
        }

    data = await ctx.run(build)
    return view(ctx, "repo.html", **data)


@page
async def tree_page(ctx: Ctx) -> Response:
    hub = ctx.hub

    def build() -> dict:
        repo = repo_of(ctx)
        rev, path = ctx.params["rev"], ctx.params.get("path", "").strip("/")
        sha = hub.refs.resolve(repo, rev)
        entry = hub.browse.lookup(sha, path)
        if entry is None or not entry.is_dir:
            raise EntryNotFound(f"{path} is not a folder")
        rows = repo_view.folder_rows(hub, repo, sha, path)
        crumbs = _crumbs(path)
        return {**repo_context(ctx, repo, rev, "files"), "sha": sha, "folder": path, "rows": rows, "crumbs": crumbs}

    return view(ctx, "tree.html", **await ctx.run(build))


def _crumbs(path: str) -> list[tuple[str, str]]:
    parts = [p for p in path.split("/") if p]
    return [(p, "/".join(parts[: i + 1])) for i, p in enumerate(parts)]


@page
async def blob_page(ctx: Ctx) -> Response:
    hub = ctx.hub

    def build() -> dict:
        repo = repo_of(ctx)
        rev, path = ctx.params["rev"], ctx.params["path"]
        sha = hub.refs.resolve(repo, rev)
        entry = hub.browse.lookup(sha, path)
        if entry is None or entry.is_dir:
            raise EntryNotFound(f"{path} is not a file")
        kind = repo_view.file_kind(entry)
        allowed = can_download(ctx, repo)
        code = None
        if allowed and kind == "text":
            try:
                text = repo_view.read_text(hub, repo, entry)
            except HubError:  # e.g. an LFS object this repo never linked: shown as absent, never another's
                text = None
            if text is None:
                kind = "binary"
            else:
                code = repo_view.render.highlighted(text, path)
        lc_sha, lc = hub.browse.last_commit(sha, path)
        return {**repo_context(ctx, repo, rev, "files"), "sha": sha, "entry": entry, "kind": kind, "code": code,
                "allowed": allowed, "crumbs": _crumbs(path), "file_path": path, "path_q": quote(path),
                "last_sha": lc_sha, "last_title": repo_view.commit_title(lc), "last_time": lc.commit_time,
                "max_view": repo_view.MAX_TEXT_VIEW}

    return view(ctx, "blob.html", **await ctx.run(build))


@page
async def commits_page(ctx: Ctx) -> Response:
    hub = ctx.hub
    raw = ctx.request.query_params.get("p", "0")
    start = int(raw) if raw.isdigit() and len(raw) < 7 else 0

    def build() -> dict:
        repo = repo_of(ctx)
        rev = ctx.params["rev"]
        sha = hub.refs.resolve(repo, rev)
        commits = list(islice(hub.browse.history(sha), start, start + COMMITS_PER_PAGE + 1))
        items = [{"sha": s, "title": repo_view.commit_title(c), "author": repo_view.author(c), "time": c.commit_time}
                 for s, c in commits[:COMMITS_PER_PAGE]]
        return {**repo_context(ctx, repo, rev, "commits"), "sha": sha, "commits": items,
                "next_p": start + COMMITS_PER_PAGE if len(commits) > COMMITS_PER_PAGE else None,
                "prev_p": max(0, start - COMMITS_PER_PAGE) if start else None}

    return view(ctx, "commits.html", **await ctx.run(build))


@page
async def commit_page(ctx: Ctx) -> Response:
    hub = ctx.hub

    def build() -> dict:
        repo = repo_of(ctx)
        sha = hub.refs.resolve(repo, ctx.params["sha"])  # only a commit of this repo resolves
        commit = hub.git.commit(sha)
        changes = repo_view.commit_changes(hub, sha)
        return {**repo_context(ctx, repo, "main", "commits"), "sha": sha, "title": repo_view.commit_title(commit),
                "body": repo_view.commit_body(commit), "author": repo_view.author(commit),
                "time": commit.commit_time, "parents": [p.decode() for p in commit.parents], "changes": changes}

    return view(ctx, "commit.html", **await ctx.run(build))
