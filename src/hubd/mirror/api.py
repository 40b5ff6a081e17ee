"""HTTP for the mirror: /resolve of a large file not cached yet (streamed while it fills), and the account
setting that links a user's own upstream token."""

from __future__ import annotations

import httpx
from starlette.responses import Response

from hubd.api.http import Ctx, json_response
from hubd.api.streams import parse_range, ranged_response
from hubd.hub.browse import PathEntry
from hubd.hub.errors import BadRequest, NotFound, Unauthorized
from hubd.hub.models import Repo
from hubd.mirror.errors import UpstreamUnavailable
from hubd.mirror.tokenbox import TokenKeysMissing
from hubd.mirror.upstream import parse_json, read_capped

MAX_TOKEN = 512
MAX_WHOAMI = 1 << 20  # a user's name, orgs and token scopes


async def resolve_filling(ctx: Ctx, repo: Repo, entry: PathEntry, headers: dict[str, str]) -> Response | None:
    """The answer to /resolve of a mirrored repo's large file that is not cached yet: the bytes as they come
    from the upstream (one fill shared by concurrent requests), or None when the normal path serves it."""
    mirror = ctx.hub.mirror
    if mirror is None or entry.lfs is None or not await ctx.run(mirror.is_mirrored, repo.id):
        return None
    linked = await ctx.run(ctx.hub.objects.get, repo.id, entry.lfs.oid)
    if linked is None:
        # kept in Xet upstream: Xet clients are sent to hubd's own CAS, which fills from the upstream's (an
        # object already cached as plain LFS stays plain: it must keep working offline)
        sha = headers["X-Repo-Commit"]
        xet_hash = await ctx.run(mirror.xet.xet_hash, repo, sha, entry.path, entry.lfs.oid, entry.lfs.size)
        if xet_hash is not None:
            headers["X-Xet-Hash"] = xet_hash
            headers["Link"] = f'<{ctx.base_url}/api/{repo.type}s/{repo.repo_id}/xet-read-token/{sha}>; rel="xet-auth"'
            headers["Access-Control-Expose-Headers"] += ",X-Xet-Hash,Link"
    if await ctx.run(mirror.cached, repo.id, entry):
        return None
    range_header = ctx.request.headers.get("range")
    parse_range(range_header, entry.size)
    if ctx.request.method == "HEAD":
        headers["Content-Length"] = str(entry.size)
        return Response(status_code=200, headers=headers, media_type="application/octet-stream")
    fill = await ctx.run(mirror.fill, repo, entry)
    await ctx.run(fill.wait_started)  # the upstream's refusal is still an error in the Hub's shape here
    return ranged_response(fill.iter_range, entry.size, range_header, headers)


def _mirror(ctx: Ctx):  # the Mirror (imported lazily)
    if ctx.principal is None:  # a signed-in user's setting: anonymous callers are asked to sign in first
        raise Unauthorized()
    if ctx.hub.mirror is None:
        raise NotFound("This hub mirrors no upstream")
    return ctx.hub.mirror


async def upstream_token(ctx: Ctx) -> Response:
    """GET/PUT/DELETE /api/settings/mirror/upstream-token: the signed-in user's own token on the upstream,
    used for their reads of gated and private upstream repos. PUT checks it with the upstream first."""
    mirror = _mirror(ctx)
    p = ctx.principal
    assert p is not None
    method = ctx.request.method
    if method in ("GET", "HEAD"):
        return json_response({"linked": await ctx.run(mirror.has_token, p), "upstream": mirror.upstream.url})
    if method == "DELETE":
        await ctx.run(mirror.link_token, p, None)
        return json_response({"linked": False})
    if p.token_role != "write":
        raise Unauthorized("Linking an upstream token needs a write token")
    if not mirror.box.configured:  # refused before the token travels anywhere
        raise TokenKeysMissing()
    body = await ctx.json()
    token = body.get("token")
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN or not token.isprintable() or " " in token:
        raise BadRequest(f"token must be a non-empty string of at most {MAX_TOKEN} printable characters")
    name = await ctx.run(_whoami, mirror, token)
    await ctx.run(mirror.link_token, p, token)
    return json_response({"linked": True, "upstream": mirror.upstream.url, "upstreamUser": name})


def _whoami(mirror, token: str) -> str:
    try:
        with mirror.upstream.client.stream("GET", mirror.upstream.url + "/api/whoami-v2",
                                           headers={"Authorization": f"Bearer {token}"}) as resp:
            if resp.status_code in (401, 403):
                raise BadRequest("The upstream hub refused this token")
            if resp.status_code != 200:
                raise UpstreamUnavailable(f"The upstream hub failed ({resp.status_code}) checking the token")
            answer = parse_json(read_capped(resp, MAX_WHOAMI, "whoami"), "whoami")
    except httpx.HTTPError:
        raise UpstreamUnavailable("The upstream hub is unreachable: the token cannot be checked") from None
    if not isinstance(answer, dict):
        raise UpstreamUnavailable("The upstream's whoami answer is not an object")
    return str(answer.get("name", ""))
