"""HEAD/GET /{prefix}{id}/resolve/{rev}/{path}: file bytes with the Hub's metadata headers."""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.concurrency import iterate_in_threadpool
from starlette.responses import FileResponse, Response, StreamingResponse

from hubd.api.http import Ctx
from hubd.hub.counters import counts_as_download
from hubd.hub.errors import EntryNotFound, RangeNotSatisfiable
from hubd.hub.service import Hub
from hubd.storage.blobstore import lfs_key
from hubd.xet.store import XetFile

RESOLVE = r"/(?:(?P<prefix>datasets|spaces)/)?(?P<ns>[^/]+)/(?P<name>[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)"
PREFIX_TYPE = {None: "model", "datasets": "dataset", "spaces": "space"}
_RANGE_START = re.compile(r"^bytes=(\d+)-")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


def _check_range(range_header: str | None, size: int) -> None:
    m = _RANGE_START.match(range_header or "")
    if m and int(m.group(1)) >= size:
        raise RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})


async def resolve(ctx: Ctx) -> Response:
    hub = ctx.hub
    repo_type = PREFIX_TYPE[ctx.params.get("prefix")]
    repo = await ctx.run(hub.repo_for_download, ctx.principal, repo_type, ctx.params["ns"], ctx.params["name"])
    sha = await ctx.run(hub.refs.resolve, repo, ctx.params["rev"])
    path = ctx.params["path"]
    entry = await ctx.run(hub.browse.lookup, sha, path)
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
        linked = await ctx.run(hub.object_of, repo.id, entry.lfs.oid)
        if linked is not None and linked[1] is not None:
            xet_file = await ctx.run(hub.xet.file, linked[1])
            headers["X-Xet-Hash"] = linked[1]
            headers["Link"] = (f'<{ctx.base_url}/api/{repo.type}s/{repo.repo_id}/xet-read-token/{sha}>; '
                               'rel="xet-auth"')
            headers["Access-Control-Expose-Headers"] += ",X-Xet-Hash,Link"
    else:
        key = hub.git.blob_key(entry.sha)
        headers["ETag"] = f'"{entry.sha}"'
    size = entry.size
    _check_range(ctx.request.headers.get("range"), size)
    if ctx.request.method == "GET" and not ctx.request.headers.get("range"):
        has_config = path == "config.json" or await ctx.run(hub.browse.lookup, sha, "config.json") is not None
        if counts_as_download(path, has_config):
            hub.downloads.hit(repo.id)
    if ctx.request.method == "HEAD":
        headers["Content-Length"] = str(size)
        return Response(status_code=200, headers=headers, media_type="application/octet-stream")
    if xet_file is not None:
        return xet_response(hub, xet_file, ctx.request.headers.get("range"), headers)
    local = hub.blobs.local_path(key)
    assert local is not None, "every storage backend so far is a local directory"
    return FileResponse(local, headers=headers, media_type="application/octet-stream")


def xet_response(hub: Hub, f: XetFile, range_header: str | None, headers: dict[str, str]) -> Response:
    """The file's bytes rebuilt from its xorbs, for clients that do not speak Xet (Range honoured)."""
    start, end, status = 0, f.size, 200
    m = _RANGE.match(range_header or "")
    if m:
        start = int(m.group(1))
        end = min(int(m.group(2)) + 1, f.size) if m.group(2) else f.size
        if start >= f.size or end <= start:
            raise RangeNotSatisfiable(headers={"Content-Range": f"bytes */{f.size}"})
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{f.size}"
    headers["Content-Length"] = str(end - start)
    return StreamingResponse(iterate_in_threadpool(hub.xet.iter_bytes(f, start, end)), status_code=status,
                             headers=headers, media_type="application/octet-stream")
