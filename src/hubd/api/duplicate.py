"""Copies between repos: `duplicate_repo` (a whole repo) and `lfs-files/duplicate` (the large objects a
cross-repo `CommitOperationCopy` needs before its commit). Git objects are shared, so only links move."""

from __future__ import annotations

from starlette.responses import Response

from hubd.api.http import Ctx, json_response
from hubd.api.repoctx import route_repo
from hubd.hub.errors import BadRequest, Unauthorized
from hubd.hub.names import check_repo_type
from hubd.storage.blobstore import is_sha256

MAX_DUPLICATE_FILES = 1000  # the client sends batches of 500


def _repo_id(value: object) -> tuple[str, str]:
    if not isinstance(value, str) or value.count("/") != 1:
        raise BadRequest("The repository must be given as namespace/name")
    ns, name = value.split("/")
    return ns, name


async def duplicate_repo(ctx: Ctx) -> Response:
    """POST /api/{types}/{id}/duplicate {"repository": "ns/name", "visibility": "public"|"private"}."""
    if ctx.principal is None:
        raise Unauthorized("You must be authenticated to duplicate a repo")
    source = await route_repo(ctx)
    body = await ctx.json()
    if not isinstance(body, dict):
        raise BadRequest("Expected a JSON object")
    ns, name = _repo_id(body.get("repository"))
    visibility = body.get("visibility")
    if visibility not in (None, "public", "private"):
        raise BadRequest("visibility must be public or private")
    private = None if visibility is None else visibility == "private"
    repo = await ctx.run(ctx.hub.repos.duplicate, ctx.principal, source, ns, name, private)
    return json_response({"url": f"{ctx.base_url}/{repo.url_path}", "filesCopyPending": False})


async def duplicate_lfs_files(ctx: Ctx) -> Response:
    """POST /api/{types}/{id}/lfs-files/duplicate {"target": {"type", "name"}, "files": [{"sha256", ...}]}."""
    hub = ctx.hub
    if ctx.principal is None:
        raise Unauthorized("You must be authenticated to copy files")
    source = await route_repo(ctx)
    body = await ctx.json()
    target = body.get("target") if isinstance(body, dict) else None
    files = body.get("files") if isinstance(body, dict) else None
    if not isinstance(target, dict) or not isinstance(files, list) or len(files) > MAX_DUPLICATE_FILES:
        raise BadRequest(f"target and files (at most {MAX_DUPLICATE_FILES}) are required")
    oids = [f.get("sha256") if isinstance(f, dict) else None for f in files]
    if not all(is_sha256(oid) for oid in oids):
        raise BadRequest("Each file needs a sha256")
    repo_type = check_repo_type(target.get("type") or "model")
    ns, name = _repo_id(target.get("name"))
    dest = await ctx.run(hub.repos.for_write, ctx.principal, repo_type, ns, name, "pr")
    missing = await ctx.run(hub.objects.copy, source, dest, [str(o) for o in oids])
    return json_response({"failed": [{"sha256": oid, "error": "Not found in the source repository"}
                                     for oid in missing]})
