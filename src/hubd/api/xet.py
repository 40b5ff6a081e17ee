"""Xet: the Hub's token endpoints and the CAS server (xorbs, shards, reconstructions, xorb fetches)."""

from __future__ import annotations

import re
import tempfile

import anyio
from starlette.responses import Response

from hubd.api.http import Ctx, RequestTimeout, json_response
from hubd.api.repoctx import route_repo
from hubd.api.streams import Slots, ranged_response
from hubd.hub.errors import BadRequest, Forbidden, NotFound, PayloadTooLarge, RangeNotSatisfiable, Unauthorized
from hubd.hub.service import Hub
from hubd.storage.blobstore import BlobNotFound
from hubd.xet.dedup import dedup_shard
from hubd.xet.memory import release_memory
from hubd.xet.reconstruction import granted_spans, reconstruct
from hubd.xet.shard import MAX_SHARD_BYTES
from hubd.xet.store import parse_xet_hash
from hubd.xet.xorb import XorbParser

CAS_PREFIX = "/api/cas"
TOKEN_TTL = 3600
FEED_BLOCK = 1024 * 1024
FEED_QUEUE = 1  # received blocks waiting for the parser: a xorb being read holds ~3 blocks
XORB_INGEST_SLOTS = 4
XORB_INGEST_SLOTS_OBJECT_STORE = 2
XORB_BODY_DEADLINE = 300  # seconds for one xorb body (64 MiB at most): >= 220 KB/s
# Xorb fetches are served in 64 KiB blocks, read 256 KiB per thread hop. hf_xet keeps dozens of range requests
# open at once, more the longer a download runs (14 for 1 GiB, ~30 for 16 GiB), and granian holds ~7 unsent
# blocks per response when the client reads slower than the disk, so the block size times 7 times that
# concurrency is what a download costs the worker: with 256 KiB blocks (mappings of their own, xet/memory.py)
# ~1.8 MiB a connection, which made a 16 GiB download peak 33-45 MiB above a 1 GiB one. 64 KiB blocks also come
# from the heap without page faults.
FETCH_BLOCK = 64 * 1024
FETCH_BATCH = 256 * 1024
# Each fetch being sent holds ~1.3 MiB (measured with stalled readers: the batch, granian's and hyper's
# buffers), so the worker sends at most 12 at once; the others wait, up to 5 s, then go anyway. hf_xet's
# concurrency controller sees the wait as latency and backs off instead of opening more connections.
FETCH_SLOTS = Slots(12, 5.0)
# Shards up to this size stay in memory while parsed; larger ones (files of a few GiB) go to a temp file.
SHARD_SPOOL_BYTES = 1024 * 1024
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
_FETCH_RANGE = re.compile(r"^bytes=(\d{1,15})-(\d{1,15})$")
_SPANS = re.compile(r"^\d{1,15}-\d{1,15}(,\d{1,15}-\d{1,15}){0,255}$")
# Byte spans signed into one fetch URL (v2 answers may list several URLs per xorb): keeps URLs short.
MAX_RANGES_PER_URL = 64


def cas_url(ctx: Ctx) -> str:
    return ctx.base_url + CAS_PREFIX


async def token(ctx: Ctx) -> Response:
    """GET /api/{types}/{id}/xet-{read|write}-token/{rev}: JSON for hf_xet and X-Xet-* headers for the hub client."""
    hub, mode = ctx.hub, ctx.params["mode"]
    # the read route declares "download"; the write route "pr": a write token uploads content only, which ref
    # it may reach is decided at commit time
    repo = await route_repo(ctx)
    rev = ctx.params["rev"]
    if not (mode == "write" and (ctx.query_bool("create_pr") or rev == "None")):
        await ctx.run(hub.refs.resolve, repo, rev)
    signed = hub.signer.sign("xet", repo.id, mode, ttl=TOKEN_TTL)
    access = f"{repo.id}:{mode}:{signed['exp']}:{signed['sig']}"
    exp = int(signed["exp"])
    return json_response(
        {"accessToken": access, "exp": exp, "casUrl": cas_url(ctx)},
        headers={"X-Xet-Cas-Url": cas_url(ctx), "X-Xet-Access-Token": access, "X-Xet-Token-Expiration": str(exp)},
    )


def _cas_auth(ctx: Ctx, need_write: bool) -> int:
    """The repo id a CAS token is for; write tokens also read."""
    header = ctx.request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    parts = value.strip().split(":")
    if (scheme.lower() != "bearer" or len(parts) != 4 or not parts[0].isdigit() or len(parts[0]) > 18
            or parts[1] not in ("read", "write")):
        raise Unauthorized("A Xet access token is required")
    repo_id, mode, exp, sig = int(parts[0]), parts[1], parts[2], parts[3]
    try:
        ctx.hub.signer.verify(exp, sig, "xet", repo_id, mode)
    except Forbidden:
        raise Unauthorized("Invalid or expired Xet access token") from None
    if need_write and mode != "write":
        raise Forbidden("This Xet token cannot write")
    return repo_id


async def upload_xorb(ctx: Ctx) -> Response:
    _cas_auth(ctx, need_write=True)
    h = parse_xet_hash(ctx.params["hash"])
    store = ctx.hub.xet
    # hf_xet raises its upload concurrency while transfers go well (dozens for a file of a few GiB); each
    # xorb being read costs the worker a few MiB of buffers, so only XORB_INGEST_SLOTS are read at once and
    # the others wait, unread, in their sockets. A slot is held at most XORB_BODY_DEADLINE, so a client
    # dripping bytes cannot keep one.
    async with _ingest_slots(ctx.hub):
        staged = ctx.hub.cas.stage_xorb(h)
        try:
            parser = XorbParser(staged.write)
            with anyio.move_on_after(XORB_BODY_DEADLINE) as deadline:
                await _receive_and_parse(ctx, parser)
            if deadline.cancelled_caught:
                raise RequestTimeout(f"A xorb body must arrive within {XORB_BODY_DEADLINE} s")
            inserted = await ctx.run(store.publish_xorb, h, parser, staged)
        finally:
            staged.abort()
    return json_response({"was_inserted": inserted})


async def _receive_and_parse(ctx: Ctx, parser: XorbParser) -> None:
    """The body is received on the event loop while the pieces before are parsed, decompressed, hashed and
    written in a thread (blake3, LZ4 and file writes release the GIL): the network and the verification
    overlap instead of taking turns. Pieces go over as they came (granian's ~400 KiB), a list of about
    FEED_BLOCK per thread hop, never joined: a joined copy is a fresh mapping to fault in (xet/memory.py).
    At most FEED_QUEUE lists wait between the two."""
    send, receive = anyio.create_memory_object_stream[list[bytes]](FEED_QUEUE)

    def feed(pieces: list[bytes]) -> None:
        for piece in pieces:
            parser.feed(piece)

    async def parse() -> None:
        async with receive:
            async for pieces in receive:
                await ctx.run(feed, pieces)

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(parse)
            async with send:
                pieces: list[bytes] = []
                size = 0
                async for data in ctx.request.stream():
                    pieces.append(data)
                    size += len(data)
                    if size >= FEED_BLOCK:
                        await send.send(pieces)
                        pieces, size = [], 0
                if pieces:
                    await send.send(pieces)
    except BaseExceptionGroup as group:  # a bad chunk or a lost client: the first failure is the answer
        raise group.exceptions[0] from None


_slots: anyio.Semaphore | None = None


def _ingest_slots(hub: Hub) -> anyio.Semaphore:
    """The worker's xorb ingest slots (made on first use: a semaphore belongs to the running event loop).
    Object storage gets fewer: its staged writes hold a 16 MiB multipart part (and copies of it while it is
    sent) per xorb, so 4 at once took a worker from 158 to 334 MiB during a 3 GiB upload."""
    global _slots
    if _slots is None:
        _slots = anyio.Semaphore(XORB_INGEST_SLOTS if hub.cas.stores_locally else XORB_INGEST_SLOTS_OBJECT_STORE)
    return _slots


async def upload_shard(ctx: Ctx) -> Response:
    repo_id = _cas_auth(ctx, need_write=True)
    if await ctx.run(ctx.hub.repos.by_id, repo_id) is None:  # a grant dies with its repo (ids are never reused)
        raise Unauthorized("Invalid or expired Xet access token")
    hub = ctx.hub
    # The shard is spooled to a temporary file and parsed from there: its chunk lists grow with the upload
    # (48 bytes a chunk, 12 MiB for 16 GiB) and are read a block at a time, never held whole in the worker.
    with tempfile.SpooledTemporaryFile(max_size=SHARD_SPOOL_BYTES) as body:
        size = 0
        async for data in ctx.request.stream():
            size += len(data)
            if size > MAX_SHARD_BYTES:
                raise PayloadTooLarge("Shard is larger than 64 MiB")
            body.write(data)

        def ingest() -> None:
            try:
                hub.cas.ingest_shard(repo_id, body)  # type: ignore[arg-type]
            finally:
                release_memory()  # the rebuild streamed the whole file through this worker

        await ctx.run(ingest)
    return json_response({"result": 1})


async def chunk_query(ctx: Ctx) -> Response:
    """Global dedup: a shard describing the xorb that holds this chunk, or 404. Only for write tokens: the
    answer exists to save an upload, and a reader has nothing to upload (see docs/decisions.md)."""
    _cas_auth(ctx, need_write=True)
    h = parse_xet_hash(ctx.params["hash"])
    xorbs = await ctx.run(ctx.hub.cas.xorbs_for_chunk, h)
    if not xorbs:
        raise NotFound("Chunk not known")
    body = await ctx.run(dedup_shard, ctx.hub.xet, xorbs)
    return Response(body, media_type="application/octet-stream")


async def telemetry(ctx: Ctx) -> Response:
    async for _ in ctx.request.stream():
        pass
    return json_response({})


def _requested_range(ctx: Ctx, size: int) -> tuple[int, int]:
    """[start, end) from a `Range: bytes=S-E` (inclusive end); the whole file without one."""
    header = ctx.request.headers.get("range")
    if not header:
        return 0, size
    m = _RANGE.match(header.strip())
    if not m:
        raise BadRequest(f"Invalid range {header!r}")
    start = int(m.group(1))
    end = min(int(m.group(2)) + 1, size) if m.group(2) else size
    if start >= size or end <= start:
        raise RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    return start, end


async def reconstruction(ctx: Ctx) -> Response:
    repo_id = _cas_auth(ctx, need_write=False)
    h = parse_xet_hash(ctx.params["hash"])
    hub = ctx.hub
    f = await ctx.run(hub.cas.file_of, repo_id, h, ctx.request.headers.get("range"))
    if f is None:
        raise NotFound(f"File {h} not found")
    start, end = _requested_range(ctx, f.size)
    plan = await ctx.run(reconstruct, hub.xet, f, start, end)
    terms, fetch, offset = plan.terms, plan.fetch, plan.offset_into_first_range
    if ctx.params["version"] == "v2":
        xorbs = {}
        for x, r in fetch.items():
            items = list(r.items())
            groups = [items[i:i + MAX_RANGES_PER_URL] for i in range(0, len(items), MAX_RANGES_PER_URL)]
            xorbs[x] = [{"url": _fetch_url(ctx, x, [b for _, b in g]),
                         "ranges": [{"chunks": {"start": s, "end": e}, "bytes": {"start": a, "end": b}}
                                    for (s, e), (a, b) in g]} for g in groups]
        return json_response({"offset_into_first_range": offset, "terms": terms, "xorbs": xorbs})
    fetch_info = {x: [{"range": {"start": s, "end": e}, "url": _fetch_url(ctx, x, [(a, b)]),
                       "url_range": {"start": a, "end": b}}
                      for (s, e), (a, b) in r.items()] for x, r in fetch.items()}
    return json_response({"offset_into_first_range": offset, "terms": terms, "fetch_info": fetch_info})


def _fetch_url(ctx: Ctx, xorb: str, spans: list[tuple[int, int]]) -> str:
    """A URL for exactly these byte spans (inclusive) of a xorb's stored chunk stream.

    The signature covers the spans, and the fetch endpoint serves only Ranges inside them: a xorb packs
    chunks of several files, often of several users (the default client packs a commit's files together,
    global dedup lets others reference them), so a URL for the whole xorb would hand out bytes of files
    the reader was never granted. For the same reason these URLs are never presigned object-store URLs:
    those name the whole object."""
    granted = ",".join(f"{a}-{b}" for a, b in spans)
    signed = ctx.hub.signer.sign("xorb", xorb, granted, ttl=TOKEN_TTL)
    return f"{cas_url(ctx)}/fetch/{xorb}?r={granted}&exp={signed['exp']}&sig={signed['sig']}"


async def fetch_xorb(ctx: Ctx) -> Response:
    """The signed URL hf_xet fetches xorb byte ranges from; it carries no Authorization header, and it
    serves one Range inside the spans it was signed for, nothing else."""
    h = parse_xet_hash(ctx.params["hash"])
    q = ctx.request.query_params
    granted = q.get("r", "")
    if not _SPANS.match(granted):
        raise Forbidden("Invalid signed URL")
    ctx.hub.signer.verify(q.get("exp"), q.get("sig"), "xorb", h, granted)
    header = ctx.request.headers.get("range")
    if not header:
        raise Forbidden("This URL grants byte ranges of a xorb: send a Range inside them")
    m = _FETCH_RANGE.match(header.strip())
    if not m:
        raise RangeNotSatisfiable(f"Only a single Range within the granted bytes is served, not {header!r}")
    start, last = int(m.group(1)), int(m.group(2))
    if last < start or not any(a <= start and last <= b for a, b in granted_spans(granted)):
        raise RangeNotSatisfiable(f"Range {header!r} is outside the bytes this URL grants")
    try:
        size = await ctx.run(ctx.hub.cas.xorb_size, h)
    except BlobNotFound:
        raise NotFound("Xorb not found") from None
    if last >= size:
        raise RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    cas = ctx.hub.cas
    return ranged_response(lambda s, e: cas.iter_xorb(h, s, e, FETCH_BLOCK), size, f"bytes={start}-{last}", {},
                           batch=FETCH_BATCH, slots=FETCH_SLOTS)
