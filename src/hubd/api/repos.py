"""Repo lifecycle and info: create, delete, move, settings, model/dataset/space info."""

from __future__ import annotations

from dataclasses import replace

from starlette.responses import Response

from hubd.api.hotpath import commit_of
from hubd.api.http import Ctx, json_response
from hubd.api.repoctx import route_repo
from hubd.api.repojson import Meta, repo_json
from hubd.hub.cardcheck import SDKS
from hubd.hub.derive import for_revision
from hubd.hub.errors import BadRequest, Conflict, RepoNotFound, Unauthorized
from hubd.hub.models import Repo
from hubd.hub.names import PLURAL_TO_TYPE, PLURALS_RE, TYPE_PREFIX, check_account_name, check_repo_type

TYPES = f"(?P<types>{PLURALS_RE})"
REPO = TYPES + "/(?P<ns>[^/]+)/(?P<name>[^/]+)"


def require_user(ctx: Ctx):
    if ctx.principal is None:
        raise Unauthorized("You must be authenticated to do this (set HF_TOKEN)")
    return ctx.principal


def _visibility(body: dict) -> bool | None:
    visibility = body.get("visibility")
    if visibility is not None:
        if visibility not in ("public", "private", "protected"):
            raise BadRequest("visibility must be public, private or protected")
        return visibility != "public"
    private = body.get("private")
    if private is not None and not isinstance(private, bool):
        raise BadRequest("private must be a boolean")
    return private


async def create_repo(ctx: Ctx) -> Response:
    p = require_user(ctx)
    body = await ctx.json()
    if not isinstance(body, dict):
        raise BadRequest("Expected a JSON object")
    name, namespace = body.get("name"), body.get("organization")
    if not isinstance(name, str):
        raise BadRequest("name is required")
    # checked here, before any lookup: a non-string reaching SQL is a database error (a 503), not bad input
    if namespace is not None and not isinstance(namespace, str):
        raise BadRequest("organization must be a string")
    if "/" in name:
        namespace, name = name.split("/", 1)
    if namespace is not None:
        check_account_name(namespace)
    repo_type = check_repo_type(body.get("type") or "model")
    sdk = body.get("sdk")
    if repo_type == "space" and sdk is None:
        # as on the Hub (huggingface_hub refuses a Space without space_sdk): every Space has an SDK
        raise BadRequest(f"sdk is required for a Space: one of {', '.join(SDKS)}")
    private = _visibility(body)  # None: the namespace's default
    try:
        repo = await ctx.run(ctx.hub.repos.create, p, repo_type, namespace, name, private, sdk)
    except Conflict as exc:
        prefix = TYPE_PREFIX.get(repo_type, "")
        url = f"{ctx.base_url}/{prefix}{namespace or p.name}/{name}"
        return json_response(
            {"error": exc.message, "url": url}, 409,
            {"X-Error-Code": "Conflict", "X-Error-Message": exc.message},
        )
    return json_response({"url": f"{ctx.base_url}/{repo.url_path}", "name": repo.repo_id, "id": str(repo.id)})


def _split_body_repo(body: dict, name_key: str = "name") -> tuple[str, str]:
    name, ns = body.get(name_key), body.get("organization")
    if not isinstance(name, str):
        raise BadRequest(f"{name_key} is required")
    if "/" in name:
        ns, name = name.split("/", 1)
    if not isinstance(ns, str):
        raise BadRequest("organization is required")
    return ns, name


async def delete_repo(ctx: Ctx) -> Response:
    p = require_user(ctx)
    body = await ctx.json()
    if not isinstance(body, dict):
        raise BadRequest("Expected a JSON object")
    if body.get("organization") is None and isinstance(body.get("name"), str) and "/" not in body["name"]:
        body["organization"] = p.name
    ns, name = _split_body_repo(body)
    await ctx.run(ctx.hub.repos.delete, p, body.get("type") or "model", ns, name)
    return json_response({})


async def move_repo(ctx: Ctx) -> Response:
    p = require_user(ctx)
    body = await ctx.json()
    if not isinstance(body, dict):
        raise BadRequest("Expected a JSON object")
    src, dst = body.get("fromRepo"), body.get("toRepo")
    if not isinstance(src, str) or not isinstance(dst, str) or "/" not in src or "/" not in dst:
        raise BadRequest("fromRepo and toRepo must be repo ids like namespace/name")
    repo = await ctx.run(ctx.hub.repos.move, p, body.get("type") or "model", src, dst)
    return json_response({"url": f"{ctx.base_url}/{repo.url_path}"})


async def update_settings(ctx: Ctx) -> Response:
    hub = ctx.hub
    if "ns" not in ctx.params:  # every hubd repo has a namespace (no legacy ids): as a missing repo, not a 405
        raise RepoNotFound()
    repo = await route_repo(ctx)
    body = await ctx.json()
    if not isinstance(body, dict):
        raise BadRequest("Expected a JSON object")
    await ctx.run(hub.repos.update_settings, repo, _visibility(body), body.get("gated"))
    return json_response({})


def repo_info_json(ctx: Ctx, repo: Repo, sha: str, blobs: bool) -> dict:
    hub = ctx.hub
    d = for_revision(hub, repo, sha)
    meta = Meta(d.tags, d.card_data, d.config, d.transformers_info, d.safetensors, d.pipeline_tag,
                d.library_name, d.used_storage)
    if repo.type == "space" and d.sdk:
        repo = replace(repo, sdk=d.sdk)
    return repo_json(repo, sha, hub.git.commit(sha).commit_time, meta, hub.browse.files(sha), blobs)


async def repo_info(ctx: Ctx) -> Response:
    hub = ctx.hub
    # not the access cache's Repo: this answer shows the row's counters and dates, which change without it
    repo = await ctx.run(hub.repos.for_read, ctx.principal, PLURAL_TO_TYPE[ctx.params["types"]],
                         ctx.params["ns"], ctx.params["name"])
    rev = ctx.params.get("rev", "main")
    sha = await commit_of(ctx, repo, rev)
    info = await ctx.run(repo_info_json, ctx, repo, sha, ctx.query_bool("blobs"))
    expand = ctx.query_list("expand")
    if expand:
        info = {k: v for k, v in info.items() if k in ("_id", "id") or k in expand}
    return json_response(info)
