"""The git-lfs batch API (clients with Xet disabled, file objects, git-lfs): signed PUT, multipart, verify."""

from __future__ import annotations

import math
import secrets
from urllib.parse import urlencode

from starlette.responses import Response

from hubd.api.blobs import blob_response
from hubd.api.files import PREFIX_TYPE
from hubd.api.http import Ctx, json_response
from hubd.api.repoctx import route_repo
from hubd.api.xetfiles import xet_file_response
from hubd.hub.errors import BadRequest, NotFound, PayloadTooLarge, Unauthorized
from hubd.hub.largeobjects import StreamedUpload, Transfer, finish_part
from hubd.hub.names import PREFIXES_RE
from hubd.storage.blobstore import BlobNotFound, is_sha256, lfs_key
from hubd.storage.lfspointer import MAX_OBJECT_SIZE

LFS_REPO = rf"/(?:(?P<prefix>{PREFIXES_RE})/)?(?P<ns>[^/]+)/(?P<name>[^/]+?)\.git/info/lfs/objects"
LFS_JSON = "application/vnd.git-lfs+json"
MAX_BATCH = 1000
MAX_PARTS_PER_BATCH = 20_000  # signed part URLs one batch answer may hold (one 500 GB object: ~950)


def _lfs_response(data: dict, status: int = 200) -> Response:
    return json_response(data, status, {"Content-Type": LFS_JSON})


def _objects_url(ctx: Ctx, path: str, **params: object) -> str:
    return f"{ctx.base_url}/api/lfs/objects/{path}?{urlencode(params)}"


def _upload_actions(ctx: Ctx, repo_id: int, oid: str, size: int, verify_href: str, multipart: bool = True) -> dict:
    s = ctx.hub.settings
    signer = ctx.hub.signer
    transfer = ctx.hub.uploads.transfer_for(size, multipart)
    pending_url = None
    if transfer is Transfer.DIRECT:
        # straight to object storage, under a key of its own; verify hashes it before it becomes the object
        pending, pending_url = ctx.hub.uploads.direct_upload()
    if pending_url is not None:
        signed = signer.sign("verify", repo_id, oid, size, pending)
        return {"upload": {"href": pending_url},
                "verify": {"href": f"{verify_href}?{urlencode({'pending': pending, **signed})}"}}
    verify = {"verify": {"href": verify_href}}
    if transfer is not Transfer.MULTIPART:
        return {"upload": {"href": _objects_url(ctx, oid, repo=repo_id, size=size,
                                                **signer.sign("put", repo_id, oid, size))}, **verify}
    upload_id = secrets.token_hex(16)
    chunk = s.lfs_chunk_size
    header: dict[str, str] = {"chunk_size": str(chunk)}
    for n in range(1, math.ceil(size / chunk) + 1):
        header[f"{n:05d}"] = _objects_url(
            ctx, f"{oid}/multipart/{upload_id}/{n}", size=size, chunk=chunk,
            **signer.sign("part", oid, upload_id, n, size, chunk),
        )
    href = _objects_url(ctx, f"{oid}/multipart/{upload_id}", repo=repo_id, size=size, chunk=chunk,
                        **signer.sign("complete", repo_id, oid, upload_id, size, chunk))
    return {"upload": {"href": href, "header": header}, **verify}


async def batch(ctx: Ctx) -> Response:
    hub = ctx.hub
    body = await ctx.json()
    if not isinstance(body, dict) or body.get("operation") not in ("upload", "download"):
        raise BadRequest("operation must be upload or download")
    objects = body.get("objects")
    if not isinstance(objects, list) or len(objects) > MAX_BATCH:
        raise BadRequest(f"objects must be a list of at most {MAX_BATCH}")
    repo_type = PREFIX_TYPE[ctx.params.get("prefix")]
    upload = body["operation"] == "upload"
    transfers = body.get("transfers")
    multipart = not isinstance(transfers, list) or "multipart" in transfers
    if upload:
        if ctx.principal is None:
            raise Unauthorized("Authentication is required to upload")
        repo = await ctx.run(hub.repos.for_write, ctx.principal, repo_type, ctx.params["ns"], ctx.params["name"],
                             "pr")  # content only: the commit decides which ref it may reach
    else:
        repo = await ctx.run(hub.repos.for_download, ctx.principal, repo_type, ctx.params["ns"],
                             ctx.params["name"])
    verify_href = f"{ctx.base_url}/{repo.url_path}.git/info/lfs/objects/verify"

    def plan() -> list[dict]:
        parts = 0
        for obj in objects:
            oid, size = (obj.get("oid"), obj.get("size")) if isinstance(obj, dict) else (None, None)
            if not is_sha256(oid) or not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise BadRequest("Each object needs a sha256 oid and a non-negative integer size")
            if size > MAX_OBJECT_SIZE:
                raise PayloadTooLarge(f"Files larger than {MAX_OBJECT_SIZE // 10**9} GB are not accepted")
            if upload and size > hub.settings.lfs_multipart_threshold:
                parts += math.ceil(size / hub.settings.lfs_chunk_size)
        if parts > MAX_PARTS_PER_BATCH:  # bounded before any URL is signed
            raise BadRequest(f"This batch would need {parts} upload parts: send fewer objects per batch")
        known = hub.objects.linked(repo.id, [obj["oid"] for obj in objects])
        out = []
        for obj in objects:
            oid, size = obj["oid"], obj["size"]
            linked = known.get(oid)
            stored = linked[0] if linked else None
            item: dict = {"oid": oid, "size": size, "authenticated": True}
            if upload:
                if stored != size:
                    item["actions"] = _upload_actions(ctx, repo.id, oid, size, verify_href, multipart)
            elif stored is None or stored != size:
                item["error"] = {"code": 404, "message": "Object does not exist"}
            else:
                # Xet-held objects too (git lfs pull): get_object serves their bytes rebuilt from xorbs
                item["actions"] = {"download": {
                    "href": _objects_url(ctx, oid, repo=repo.id, **hub.signer.sign("get", repo.id, oid)),
                    "expires_in": 86000,
                }}
            out.append(item)
        return out

    return _lfs_response({"transfer": "basic", "objects": await ctx.run(plan), "hash_algo": "sha256"})


async def verify(ctx: Ctx) -> Response:
    hub = ctx.hub
    repo = await route_repo(ctx)
    body = await ctx.json()
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object with oid and size")
    oid, size = body.get("oid"), body.get("size")
    if not is_sha256(oid):
        raise BadRequest("Invalid oid")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_OBJECT_SIZE):
        raise BadRequest("Invalid size")
    pending = ctx.request.query_params.get("pending")
    if pending is not None:
        _signed(ctx, "verify", repo.id, oid, size, pending)
        await ctx.run(hub.uploads.adopt_pending, repo.id, oid, size, pending)
    linked = await ctx.run(hub.objects.get, repo.id, oid)
    if linked is None:
        raise NotFound("Object not found")
    stored = linked[0]
    if size is not None and stored != size:
        raise BadRequest(f"Object has size {stored}, not {size}")
    return _lfs_response({"oid": oid, "size": stored})


def _size(ctx: Ctx, name: str = "size") -> int:
    raw = ctx.request.query_params.get(name, "")
    if not raw.isdigit() or len(raw) > 15:  # no sign, no 4,000-digit numbers to convert
        raise BadRequest(f"Invalid {name}")
    value = int(raw)
    if value > MAX_OBJECT_SIZE:
        raise BadRequest(f"Invalid {name}")
    return value


def _signed(ctx: Ctx, *parts: object) -> None:
    q = ctx.request.query_params
    ctx.hub.signer.verify(q.get("exp"), q.get("sig"), *parts)


async def _stream_into(ctx: Ctx, upload: StreamedUpload) -> None:
    async for chunk in ctx.request.stream():
        if chunk:
            upload.write(chunk)


async def put_object(ctx: Ctx) -> Response:
    """Basic transfer: the bytes are hashed while streamed and kept only if they are the claimed object.
    An object already stored for another repo is still uploaded in full: that is the proof of possession."""
    hub, oid, size, repo_id = ctx.hub, ctx.params["oid"], _size(ctx), _size(ctx, "repo")
    _signed(ctx, "put", repo_id, oid, size)
    upload = await ctx.run(hub.uploads.begin_object, oid, size)
    try:
        await _stream_into(ctx, upload)
        await ctx.run(hub.uploads.finish_object, upload, repo_id, oid, size)
    finally:
        upload.abort()
    return Response(status_code=200)


async def put_part(ctx: Ctx) -> Response:
    hub, oid, upload_id = ctx.hub, ctx.params["oid"], ctx.params["upload_id"]
    size, chunk, n = _size(ctx), _size(ctx, "chunk"), int(ctx.params["part"])
    _signed(ctx, "part", oid, upload_id, n, size, chunk)
    upload = await ctx.run(hub.uploads.begin_part, upload_id, n, size, chunk)
    try:
        await _stream_into(ctx, upload)
        etag = await ctx.run(finish_part, upload, n, size, chunk)
    finally:
        upload.abort()
    return Response(status_code=200, headers={"ETag": f'"{etag}"'})


async def complete_multipart(ctx: Ctx) -> Response:
    hub, oid, upload_id = ctx.hub, ctx.params["oid"], ctx.params["upload_id"]
    size, chunk, repo_id = _size(ctx), _size(ctx, "chunk"), _size(ctx, "repo")
    _signed(ctx, "complete", repo_id, oid, upload_id, size, chunk)
    await ctx.run(hub.uploads.assemble_parts, repo_id, oid, size, chunk, upload_id)
    return _lfs_response({"oid": oid, "size": size})


async def get_object(ctx: Ctx) -> Response:
    """A download action: the grant names the repo, and holds only while that repo still links the object
    (repo ids are never reused, so a deleted repo's grants die with it)."""
    hub, oid, repo_id = ctx.hub, ctx.params["oid"], _size(ctx, "repo")
    _signed(ctx, "get", repo_id, oid)
    linked = await ctx.run(hub.objects.get, repo_id, oid)
    if linked is None:
        raise NotFound("Object not found")
    if linked.xet_hash is not None:
        # kept in Xet: rebuilt from its xorbs while streamed, for clients (git-lfs) that do not speak Xet
        xet_file = await ctx.run(hub.xet.file, linked.xet_hash)
        if xet_file is None:
            raise NotFound("Object not found")
        return xet_file_response(hub.xet, xet_file, ctx.request.headers.get("range"), {})
    try:
        size = await ctx.run(hub.content.size, lfs_key(oid))
    except BlobNotFound:
        raise NotFound("Object not found") from None
    return blob_response(hub, lfs_key(oid), size, ctx.request.headers.get("range"), {}, redirect=True)
