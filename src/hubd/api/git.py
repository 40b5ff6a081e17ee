"""git over smart HTTP: GET info/refs, POST git-upload-pack and git-receive-pack, for every repo type.

Credentials come as git sends them (HTTP Basic, any user name, a token as the password; app._token reads
them). A 401 carries `WWW-Authenticate: Basic` so git asks for credentials; private repos answer outsiders
exactly as the API does. Fetches speak protocol v2 when git's `Git-Protocol` header asks for it (hubd.git.v2),
v0/v1 otherwise (dulwich's handlers); pushes always v0, as git's own server does."""

from __future__ import annotations

import logging
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio.to_thread
from starlette.responses import Response, StreamingResponse

from hubd.api.files import PREFIX_TYPE
from hubd.api.http import Ctx
from hubd.git import v2
from hubd.git.objects import RepoView
from hubd.git.smart import SERVICES, ZERO, Output, advertisement, spool, start
from hubd.hub.access import Principal
from hubd.hub.errors import BadRequest, HubError, PayloadTooLarge, Unauthorized
from hubd.hub.models import Repo
from hubd.hub.names import PREFIXES_RE
from hubd.hub.push import Push, RefUpdate
from hubd.hub.service import Hub

log = logging.getLogger("hubd.git")
GIT_REPO = rf"/(?:(?P<prefix>{PREFIXES_RE})/)?(?P<ns>[^/]+)/(?P<name>[^/]+?)(?:\.git)?"
MAX_FETCH_BODY = 32 * 1024**2  # wants and haves: ~50 bytes a line, so ~600k commits negotiated at once
MAX_PUSH_BODY = 8 * 1024**3
NO_CACHE = {"Cache-Control": "no-cache, max-age=0, must-revalidate", "Pragma": "no-cache"}
ASK_CREDENTIALS = {"WWW-Authenticate": 'Basic realm="hubd"'}


async def _repo(ctx: Ctx, service: str) -> Repo:
    hub, p = ctx.hub, ctx.principal
    repo_type = PREFIX_TYPE[ctx.params.get("prefix")]
    try:
        if service == "git-upload-pack":
            return await ctx.run(hub.repos.for_download, p, repo_type, ctx.params["ns"], ctx.params["name"])
        if p is None:
            # a push always needs credentials: git asks for them on this 401, then retries
            await ctx.run(hub.repos.for_read, p, repo_type, ctx.params["ns"], ctx.params["name"])
            raise Unauthorized("Authentication is required to push: use a write token as the password")
        # the least right that can push anything (refs/pr/N); each ref is then checked on its own
        return await ctx.run(hub.repos.for_write, p, repo_type, ctx.params["ns"], ctx.params["name"], "pr")
    except HubError as exc:
        if p is None and (exc.status == 401 or exc.code in ("RepoNotFound", "GatedRepo")):
            exc.headers.update(ASK_CREDENTIALS)  # rendered as 401 for anonymous callers (api.http)
        raise


def _service(ctx: Ctx, name: str | None) -> str:
    if name not in SERVICES:
        # the dumb protocol would hand out object files by name, outside any repo's reachability
        raise BadRequest("Only the smart HTTP protocol is supported (git 1.6.6 or later)")
    assert name is not None
    return name


def _v2(ctx: Ctx, service: str) -> bool:
    """Protocol v2 when git asks for it (its default since 2.26), for fetches; pushes stay v0, as with git's
    own server, and git sends them so."""
    return service == "git-upload-pack" and v2.wants_v2(ctx.request.headers.get("git-protocol"))


async def info_refs(ctx: Ctx) -> Response:
    service = _service(ctx, ctx.request.query_params.get("service"))
    repo = await _repo(ctx, service)
    if _v2(ctx, service):
        # the capabilities only: the refs come with ls-refs, the repo's access was checked above
        return Response(v2.advertisement(), media_type=f"application/x-{service}-advertisement", headers=NO_CACHE)
    view = await ctx.run(RepoView, ctx.hub, repo)
    body = await ctx.run(advertisement, service, view)
    return Response(body, media_type=f"application/x-{service}-advertisement", headers=NO_CACHE)


async def _spool_body(ctx: Ctx, limit: int) -> Any:
    """The request body on local disk past 1 MiB, inflated when git sent it gzipped, bounded both ways."""
    f = spool()
    encoding = ctx.request.headers.get("content-encoding", "").lower()
    gz = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding in ("gzip", "x-gzip") else None
    if encoding and gz is None:
        raise BadRequest(f"Unsupported Content-Encoding {encoding!r}")
    try:
        async for chunk in ctx.request.stream():
            data = chunk
            while data:
                if gz is None:
                    piece, data = data, b""
                else:
                    try:  # inflated in bounded steps: a gzip bomb stops at the limit
                        piece = gz.decompress(data, 1024 * 1024)
                    except zlib.error:
                        raise BadRequest("The request body is not valid gzip") from None
                    data = gz.unconsumed_tail
                f.write(piece)
                if f.tell() > limit:
                    raise PayloadTooLarge(f"The request body is larger than {limit} bytes")
    except BaseException:
        f.close()
        raise
    f.seek(0)
    return f


def _push(hub: Hub, repo: Repo, p: Principal | None, view: RepoView, refs: list, pack_path: str | None,
          say: Any) -> Iterator[tuple[bytes, bytes]]:
    updates = [RefUpdate(name.decode(), None if old == ZERO else old.decode(), None if new == ZERO else new.decode())
               for old, new, name in refs]
    outcome = Push(hub, repo, p, view.objects).run(updates, pack_path)
    yield b"unpack", (outcome.unpack_error or "ok").encode()
    for u in updates:
        if u.error is None:
            yield u.name.encode(), b"ok"
            continue
        say(f"{u.name}: {u.error}")  # the whole message, as remote: lines
        yield u.name.encode(), u.error.splitlines()[0].encode()


async def rpc(ctx: Ctx) -> Response:
    service = _service(ctx, "git-" + ctx.params["service"])
    repo = await _repo(ctx, service)
    receive = service == "git-receive-pack"
    body = await _spool_body(ctx, MAX_PUSH_BODY if receive else MAX_FETCH_BODY)
    commands = None
    if _v2(ctx, service):
        try:
            commands = await ctx.run(v2.parse, body)
        except v2.BadRequest as exc:
            body.close()
            raise BadRequest(f"git protocol v2: {exc}") from None
    view = await ctx.run(RepoView, ctx.hub, repo)
    out = Output()

    def push(refs: list, pack_path: str | None, say: Any) -> Iterator[tuple[bytes, bytes]]:
        return _push(ctx.hub, repo, ctx.principal, view, refs, pack_path, say)

    start(service, view, body, out, push if receive else None, MAX_PUSH_BODY, commands)
    first = await anyio.to_thread.run_sync(out.get)
    if first is None:
        out.cancelled = True
        if out.error is not None:
            raise out.error
        first = b""

    async def stream() -> AsyncIterator[bytes]:
        try:
            yield first
            while (block := await anyio.to_thread.run_sync(out.get)) is not None:
                yield block
            if out.error is not None:
                # the answer has begun: all git can be told now is that it ended early
                log.error("git %s on %s failed mid-answer", service, repo.repo_id, exc_info=out.error)
        finally:
            out.cancelled = True

    return StreamingResponse(stream(), media_type=f"application/x-{service}-result", headers=NO_CACHE)
