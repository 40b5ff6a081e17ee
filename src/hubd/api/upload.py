"""Uploads: preupload (regular or LFS per file), the streamed NDJSON commit, README YAML validation."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator

import anyio
import anyio.to_process
from starlette.responses import Response

from hubd.api.http import Ctx, json_response, loads
from hubd.api.repoctx import route_repo
from hubd.hub.cardcheck import check_metadata
from hubd.hub.cards import MAX_CARD_YAML, CardError, CardTooLarge, front_matter
from hubd.hub.commits import MAX_COMMIT_BYTES, CommitPlan
from hubd.hub.errors import BadRequest, PayloadTooLarge
from hubd.hub.gitattributes import is_lfs_path, lfs_patterns
from hubd.hub.gitignore import MAX_GITIGNORE, ignore_spec, is_ignored
from hubd.hub.models import Repo
from hubd.hub.names import PLURAL_TO_TYPE, check_file_path
from hubd.hub.refs import MAIN
from hubd.hub.service import Hub
from hubd.xet.memory import release_memory

MAX_PREUPLOAD_FILES = 1000
LARGE_COMMIT_OPS = 10_000


async def preupload(ctx: Ctx) -> Response:
    hub = ctx.hub
    repo = await route_repo(ctx)
    body = await ctx.json()
    files = body.get("files") if isinstance(body, dict) else None
    if not isinstance(files, list) or len(files) > MAX_PREUPLOAD_FILES:
        raise BadRequest(f"files must be a list of at most {MAX_PREUPLOAD_FILES} entries")
    sha = await ctx.run(hub.refs.resolve, repo, ctx.params["rev"])
    threshold = hub.settings.lfs_threshold

    def decide() -> list[dict]:
        out = []
        attributes = hub.browse.lookup(sha, ".gitattributes")
        patterns = []
        if attributes is not None and not attributes.is_dir and attributes.lfs is None:
            patterns = lfs_patterns(hub.git.raw("blob", attributes.sha).decode("utf-8", errors="replace"))
        # the client's .gitignore when it sends one (upload_folder does), else the repo's at the revision
        ignore_text = body.get("gitIgnore")
        if not isinstance(ignore_text, str):
            ignore_text = None
            ignore = hub.browse.lookup(sha, ".gitignore")
            if ignore is not None and not ignore.is_dir and ignore.lfs is None and ignore.size <= MAX_GITIGNORE:
                ignore_text = hub.git.raw("blob", ignore.sha).decode("utf-8", errors="replace")
        ignored = ignore_spec(ignore_text)
        for f in files:
            if not isinstance(f, dict) or not isinstance(f.get("size", 0), int):
                raise BadRequest("Each file needs a path and a size")
            path = check_file_path(f.get("path"))
            # As on the Hub: LFS for large files, for binary content, and for paths .gitattributes sends there.
            sample = f.get("sample") or ""
            binary = isinstance(sample, str) and b"\0" in _b64(sample)
            large = f.get("size", 0) >= threshold
            mode = "lfs" if large or binary or is_lfs_path(patterns, path) else "regular"
            existing = hub.browse.lookup(sha, path)
            oid = None
            if existing is not None and not existing.is_dir:
                oid = existing.lfs.oid if existing.lfs is not None else existing.sha
            out.append({"path": path, "uploadMode": mode, "shouldIgnore": is_ignored(ignored, path), "oid": oid})
        return out

    return json_response({"files": await ctx.run(decide), "commitOid": sha})


def _b64(sample: str) -> bytes:
    try:
        return base64.b64decode(sample, validate=False)
    except (binascii.Error, ValueError):
        return b""


async def ndjson_batches(stream: AsyncIterator[bytes], max_line: int) -> AsyncIterator[list[bytes]]:
    """The lines of a streamed body, a batch per received chunk (so they can be handled off the event loop);
    memory is bounded by one chunk plus one line, never the whole body."""
    buf = bytearray()
    async for chunk in stream:
        buf.extend(chunk)
        start = 0  # consumed lines are dropped once per chunk, not once per line (no quadratic moves)
        batch = []
        while (nl := buf.find(b"\n", start)) >= 0:
            line = bytes(buf[start:nl])
            start = nl + 1
            if line.strip():
                batch.append(line)
        del buf[:start]
        if len(buf) > max_line:
            raise PayloadTooLarge(f"A commit line is longer than {max_line} bytes: upload large files as LFS")
        if batch:
            yield batch
    if buf.strip():
        yield [bytes(buf)]


async def _bounded(stream: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    total = 0
    async for chunk in stream:
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(f"A commit body may be at most {limit} bytes: split it into several commits")
        yield chunk


def _linked_size(hub: Hub, repo: Repo, oid: str) -> int | None:
    linked = hub.objects.get(repo.id, oid)
    return linked.size if linked is not None else None


def _apply_lines(hub: Hub, repo: Repo, plan: CommitPlan, lines: list[bytes]) -> bool:
    """Add the operations of some NDJSON lines to the plan (storing file blobs: content first); True when one
    of them was the header."""
    seen_header = False
    for line in lines:
        try:
            item = loads(line)  # orjson: nesting bounded, NaN and huge numbers refused
        except BadRequest:
            raise BadRequest("Commit body is not valid NDJSON") from None
        if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
            raise BadRequest("Each NDJSON line needs a key and an object value")
        key, value = item.get("key"), item["value"]
        if key == "header":
            plan.set_header(value)
            seen_header = True
        elif key == "file":
            if value.get("encoding", "base64") != "base64" or not isinstance(value.get("content"), str):
                raise BadRequest("file content must be base64")
            try:
                content = base64.b64decode(value["content"], validate=True)
            except (binascii.Error, ValueError):
                raise BadRequest(f"Invalid base64 content for {value.get('path')!r}") from None
            plan.add_file(hub.git, value.get("path"), content, lambda oid: _linked_size(hub, repo, oid))
        elif key == "lfsFile":
            if value.get("algo", "sha256") != "sha256":
                raise BadRequest("Only sha256 LFS oids are supported")
            oid = value.get("oid")
            known = _linked_size(hub, repo, oid) if isinstance(oid, str) else None
            plan.add_lfs(hub.git, value.get("path"), oid, value.get("size"), known)
        elif key == "deletedFile":
            plan.delete_file(value.get("path"))
        elif key == "deletedFolder":
            plan.delete_folder(value.get("path"))
        else:
            raise BadRequest(f"Unknown commit operation {key!r}")
    return seen_header


async def commit(ctx: Ctx) -> Response:
    hub = ctx.hub
    p = ctx.principal
    rev = ctx.params["rev"]
    create_pr = ctx.query_bool("create_pr")
    minimum = "pr" if create_pr or rev.startswith("refs/pr/") else "contributor"
    repo = await ctx.run(hub.repos.for_write, p, PLURAL_TO_TYPE[ctx.params["types"]], ctx.params["ns"],
                         ctx.params["name"], minimum)
    if create_pr:
        base_ref = MAIN if rev in ("None", "") else await ctx.run(hub.refs.branch_ref, repo, rev)
        ref = None
    else:
        ref = await ctx.run(hub.refs.branch_ref, repo, rev)
        base_ref = MAIN
    plan = CommitPlan()
    # base64 inflates by 4/3; regular files are below the LFS threshold (or forced regular when empty).
    max_line = hub.settings.lfs_threshold * 4 // 3 + 64 * 1024
    seen_header = False
    try:
        async for batch in ndjson_batches(_bounded(ctx.request.stream(), MAX_COMMIT_BYTES), max_line):
            # parsing, decoding and storing blobs happen off the event loop: other requests keep being answered
            seen_header = await ctx.run(_apply_lines, hub, repo, plan, batch) or seen_header
        if not seen_header:
            raise BadRequest("The commit has no header line")
        pr_title = (plan.summary or "Pull request") if create_pr else None
        result = await ctx.run(hub.committer.commit, p, repo, ref, plan, pr_title, base_ref)
    finally:
        if len(plan.ops) > LARGE_COMMIT_OPS:
            plan.ops.clear()
            # many small objects (one per operation) leave the allocator's memory stranded; hand it back
            await ctx.run(release_memory)
    out = {
        "success": True,
        "commitOid": result.sha,
        "commitUrl": f"{ctx.base_url}/{repo.url_path}/commit/{result.sha}",
        "commitMessage": plan.message().strip(),
    }
    if result.pr_num is not None:
        out["pullRequestUrl"] = f"{ctx.base_url}/{repo.url_path}/discussions/{result.pr_num}"
    return json_response(out)


# A README's metadata may be MAX_CARD_YAML (1 MiB); the body carries the whole README, JSON-escaped (a
# newline is two bytes), so it may be a few times that. Past it, nothing is read or parsed.
MAX_VALIDATE_YAML_BODY = 4 * MAX_CARD_YAML
# huggingface_hub's RepoCard.validate() (run by ModelCard.push_to_hub) posts without a token, so anonymous
# callers are served — with the smallest bound (invariant 8): real cards are a few KiB to a few hundred.
MAX_ANONYMOUS_VALIDATE_YAML_BODY = 256 * 1024
# Parsing is CPU-bound (~1 s for the costliest card the bounds admit) and, in a thread, holds the GIL: six
# at once delayed /healthz by 2.3 s. It runs in a worker process instead (anyio's process pool), one at a
# time per hubd process; more wait their turn without using a thread or a process.
_yaml_limiter: anyio.CapacityLimiter | None = None


def _validate_card(body: bytes) -> tuple[list[str], list[str]]:
    """(errors, warnings) of the README's metadata, as the Hub gives them; BadRequest/CardError when it is
    unusable. Runs in anyio's worker process (importable by name, arguments and result pickled)."""
    try:
        parsed = json.loads(body) if body.strip() else {}
    except (ValueError, RecursionError):
        raise BadRequest("Request body is not valid JSON") from None
    content = parsed.get("content", "") if isinstance(parsed, dict) else ""
    repo_type = parsed.get("repoType") if isinstance(parsed, dict) else None
    if not isinstance(content, str):
        raise BadRequest("content must be a string")
    return check_metadata(front_matter(content), repo_type if isinstance(repo_type, str) else "model")


async def validate_yaml(ctx: Ctx) -> Response:
    global _yaml_limiter
    limit = MAX_VALIDATE_YAML_BODY if ctx.principal is not None else MAX_ANONYMOUS_VALIDATE_YAML_BODY
    body = await ctx.body(limit, f"The README may be at most {limit} bytes" + (
        "" if ctx.principal else " without a token (set HF_TOKEN for larger ones)"))
    if _yaml_limiter is None:
        _yaml_limiter = anyio.CapacityLimiter(1)
    try:
        errors, warnings = await anyio.to_process.run_sync(_validate_card, bytes(body), limiter=_yaml_limiter)
    except CardTooLarge as exc:
        raise PayloadTooLarge(str(exc)) from None
    except CardError as exc:
        message = str(exc)
        # the message quotes the YAML: header values must be one latin-1 line
        header = "".join(c if 32 <= ord(c) < 127 else " " for c in message[:1000])
        return json_response({"error": message, "errors": [{"message": message}], "warnings": []}, 400,
                             {"X-Error-Code": "BadRequest", "X-Error-Message": header})
    warning_list = [{"message": w} for w in warnings]
    if errors:
        message = "; ".join(errors)
        return json_response({"error": message, "errors": [{"message": e} for e in errors],
                              "warnings": warning_list}, 400,
                             {"X-Error-Code": "BadRequest", "X-Error-Message": message[:1000]})
    return json_response({"errors": [], "warnings": warning_list})
