"""Access requests to gated repos: the requester's form (`POST /{repo}/ask-access`) and the owners' review
(`/api/{types}/{id}/user-access-request/*`, as `huggingface_hub` calls them)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.responses import Response

from hubd.api.http import Ctx, json_response, loads_object
from hubd.api.repoctx import route_repo
from hubd.hub.errors import BadRequest, PayloadTooLarge, Unauthorized
from hubd.hub.gating import MAX_FIELDS
from hubd.hub.models import Repo, iso
from hubd.hub.names import PREFIXES_RE

ASK_ACCESS = rf"/(?:(?P<prefix>{PREFIXES_RE})/)?(?P<ns>[^/]+)/(?P<name>[^/]+)/ask-access"
MAX_FORM = 64 * 1024  # a gate form is a few short answers
PAGE = 100


async def ask_access(ctx: Ctx) -> Response:
    """The gate form, form-encoded (as the Hub's page posts it) or JSON; auto-gated repos grant at once."""
    p = ctx.principal
    repo = await route_repo(ctx)
    if p is None:
        raise Unauthorized("You must be authenticated to ask for access")
    declared = ctx.request.headers.get("content-length", "")
    if declared.isdigit() and (len(declared) > 9 or int(declared) > MAX_FORM):
        raise PayloadTooLarge(f"The form may be at most {MAX_FORM} bytes")
    raw = await ctx.body()
    if len(raw) > MAX_FORM:
        raise PayloadTooLarge(f"The form may be at most {MAX_FORM} bytes")
    form = _form(ctx.request.headers.get("content-type", ""), raw)
    status = await ctx.run(ctx.hub.gating.ask, p, repo, form)
    return json_response({"status": status})


def _form(content_type: str, raw: bytes) -> dict[str, str]:
    if content_type.split(";")[0].strip().lower() == "application/json":
        body = loads_object(raw)
        pairs = [(str(k), v if isinstance(v, str) else "on" if v is True else "") for k, v in body.items()]
    elif content_type.startswith("multipart/"):
        raise BadRequest("Send the form as application/x-www-form-urlencoded or JSON")
    else:
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS * 2)
        except (UnicodeDecodeError, ValueError):
            raise BadRequest("The form is not valid application/x-www-form-urlencoded") from None
    if len(pairs) > MAX_FIELDS * 2:
        raise BadRequest("The form has too many fields")
    return dict(pairs)


async def _owned(ctx: Ctx) -> Repo:
    """The owners' endpoints: the repo's writers (org write or admin role) with a write token."""
    return await route_repo(ctx)


async def list_requests(ctx: Ctx) -> Response:
    repo = await _owned(ctx)
    cursor = ctx.request.query_params.get("cursor", "0")
    if not cursor.isdigit() or len(cursor) > 18:
        raise BadRequest("Invalid cursor")
    rows = await ctx.run(ctx.hub.gating.list, repo, ctx.params["status"], int(cursor), PAGE + 1)
    page = rows[:PAGE]
    items = [{
        "user": {"user": r["name"], "fullname": r["fullname"] or r["name"], "email": r["email"], "type": "user",
                 "avatarUrl": f"/avatars/{r['name']}.svg", "isPro": False},
        "requestId": r["request_id"], "status": r["status"], "timestamp": iso(r["created_at"]),
        "fields": r["fields"], **({"rejectionReason": r["rejection_reason"]} if r["rejection_reason"] else {}),
    } for r in page]
    headers = {}
    if len(rows) > PAGE:
        headers["Link"] = ctx.next_link(ctx.request.url.path, {"cursor": str(page[-1]["user_id"])})
    return json_response(items, headers=headers)


async def handle(ctx: Ctx) -> Response:
    repo = await _owned(ctx)
    body = await ctx.json_object()
    await ctx.run(ctx.hub.gating.handle, repo, body.get("user"), body.get("requestId"), body.get("status"),
                  body.get("rejectionReason"))
    return json_response({})


async def grant(ctx: Ctx) -> Response:
    repo = await _owned(ctx)
    body = await ctx.json_object()
    await ctx.run(ctx.hub.gating.grant, repo, body.get("user"))
    return json_response({})
