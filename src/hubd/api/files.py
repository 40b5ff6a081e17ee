"""HEAD/GET /{prefix}{id}/resolve/{rev}/{path}: file bytes with the Hub's metadata headers."""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import Response

from hubd.api.blobs import blob_response
from hubd.api.hotpath import commit_of, download_repo, entry_at, not_modified
from hubd.api.http import Ctx
from hubd.api.streams import parse_range
from hubd.api.xetfiles import xet_file_response
from hubd.hub.counters import counts_as_download
from hubd.hub.errors import EntryNotFound
from hubd.hub.names import PREFIX_TYPE, PREFIXES_RE
from hubd.mirror.api import resolve_filling
from hubd.storage.blobstore import lfs_key
from hubd.storage.gitstore import SMALL_BLOB

RESOLVE = rf"/(?:(?P<prefix>{PREFIXES_RE})/)?(?P<ns>[^/]+)/(?P<name>[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)"
RAW = RESOLVE.replace("/resolve/", "/raw/")


async def raw(ctx: Ctx) -> Response:
    """GET/HEAD /{id}/raw/{rev}/{path}: the git blob itself, as on the Hub (an LFS file's pointer text)."""
    hub = ctx.hub
    repo = await download_repo(ctx, PREFIX_TYPE[ctx.params.get("prefix")])
    sha = await commit_of(ctx, repo, ctx.params["rev"])
    path = ctx.params["path"]
    entry = await entry_at(ctx, sha, path)
    if entry is None or entry.is_dir:
        raise EntryNotFound(f"{path} does not exist at {sha} in {repo.repo_id}", headers={"X-Repo-Commit": sha})
    size = entry.lfs.pointer_size if entry.lfs is not None else entry.size
    headers = {"X-Repo-Commit": sha, "ETag": f'"{entry.sha}"', "Accept-Ranges": "bytes",
               "Cache-Control": "private, max-age=0" if repo.private else "public, max-age=0"}
    if not_modified(ctx.request, headers["ETag"]):
        return Response(status_code=304, headers=headers)
    range_header = ctx.request.headers.get("range")
    parse_range(range_header, size)
    if ctx.request.method == "HEAD":
        headers["Content-Length"] = str(size)
        return Response(status_code=200, headers=headers, media_type="application/octet-stream")
    return blob_response(hub, hub.git.blob_key(entry.sha), size, range_header, headers)


async def resolve(ctx: Ctx) -> Response:
    hub = ctx.hub
    repo_type = PREFIX_TYPE[ctx.params.get("prefix")]
    repo = await download_repo(ctx, repo_type)  # the access check, on every request (from memory when current)
    sha = await commit_of(ctx, repo, ctx.params["rev"])
    path = ctx.params["path"]
    entry = await entry_at(ctx, sha, path)
    if entry is None or entry.is_dir:
        raise EntryNotFound(f"{path} does not exist at {sha} in {repo.repo_id}", headers={"X-Repo-Commit": sha})
    headers = {
        "X-Repo-Commit": sha,
        "Accept-Ranges": "bytes",
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(path.rsplit('/', 1)[-1])}",
        "Access-Control-Expose-Headers": "X-Repo-Commit,X-Linked-Etag,X-Linked-Size,ETag,Content-Range",
        "Cache-Control": "private, max-age=0" if repo.private else "public, max-age=0",
    }
    xet_file = None
    if entry.lfs is not None:
        key = lfs_key(entry.lfs.oid)
        headers["ETag"] = f'"{entry.lfs.oid}"'
        headers["X-Linked-Etag"] = f'"{entry.lfs.oid}"'
        headers["X-Linked-Size"] = str(entry.lfs.size)
        if hub.mirror is not None and (filling := await resolve_filling(ctx, repo, entry, headers)) is not None:
            return filling  # a mirrored file not cached yet: streamed while the cache fills
        linked = await ctx.run(hub.content.linked_object, repo.id, entry)  # read only what this repo links
        if linked.xet_hash is not None:
            xet_file = await ctx.run(hub.xet.file, linked.xet_hash)
            headers["X-Xet-Hash"] = linked.xet_hash
            headers["Link"] = (f'<{ctx.base_url}/api/{repo.type}s/{repo.repo_id}/xet-read-token/{sha}>; '
                               'rel="xet-auth"')
            headers["Access-Control-Expose-Headers"] += ",X-Xet-Hash,Link"
    else:
        key = hub.git.blob_key(entry.sha)
        headers["ETag"] = f'"{entry.sha}"'
    if not_modified(ctx.request, headers["ETag"]):
        return Response(status_code=304, headers=headers)  # before Range, as RFC 9110 orders them
    size = entry.size
    range_header = ctx.request.headers.get("range")
    parse_range(range_header, size)  # a bad or unsatisfiable range fails here, in the Hub's error shape
    if ctx.request.method == "GET" and not range_header:
        has_config = path == "config.json" or await entry_at(ctx, sha, "config.json") is not None
        if counts_as_download(path, has_config):
            hub.downloads.hit(repo.id)
    redirect = entry.lfs is not None and xet_file is None and hub.content.redirects
    if ctx.request.method == "HEAD" and not redirect:
        headers["Content-Length"] = str(size)
        return Response(status_code=200, headers=headers, media_type="application/octet-stream")
    if entry.lfs is None and size <= SMALL_BLOB and not range_header:
        # small files from memory once read: no file open, stat or thread hop per request
        data = hub.git.cached_small_blob(entry.sha)
        if data is None:
            data = await ctx.run(hub.git.small_blob, entry.sha)
        return Response(data, headers=headers, media_type="application/octet-stream")
    if xet_file is not None:
        # rebuilt from xorbs, for clients that do not speak Xet
        f = xet_file
        return xet_file_response(hub.xet, f, range_header, headers)
    return blob_response(hub, key, size, range_header, headers, redirect=redirect)
