"""Self-service access tokens on /settings/tokens: read, write and fine-grained ones (scoped to the user's own
namespace, their orgs and chosen repos, as the Hub's token form offers), with expiry, last use and revoke.

The page turns its form into the Hub's token JSON and hands it to the same domain call as
POST /api/settings/tokens, so the page and the API refuse exactly the same things."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from starlette.responses import Response

from hubd.api.http import Ctx
from hubd.hub.access import GLOBAL_PERMISSIONS, NAMESPACE_PERMISSIONS, REPO_PERMISSIONS
from hubd.hub.errors import BadRequest, HubError, NotFound
from hubd.hub.names import PLURAL_TO_TYPE
from hubd.web.base import form, page, require_user, view

MAX_TOKEN_NAME = 100
EXPIRY_DAYS = ("", "7", "30", "90", "365")  # "" never
REPO_ROWS = 5  # repo rows of the form (no script needed to add one; more repos: another token or the API)
# checkboxes: 11 per namespace (the user's and each org's), 4 per repo row; a browser sends only the checked
# ones, and the form's 64 KiB bound caps the parsing whatever this says
MAX_FORM_FIELDS = 2000
ROLES = ("read", "write", "fineGrained")

LABELS = {
    "repo.content.read": "Read the contents of repos",
    "repo.write": "Write to repos (contents, settings, pull requests)",
    "discussion.write": "Open and comment on discussions and pull requests",
    "repo.access.read": "Read the access requests of gated repos",
    "collection.read": "Read collections",
    "collection.write": "Write collections",
    "user.webhooks.read": "Read webhooks",
    "user.webhooks.write": "Manage webhooks",
    "user.social.likes.write": "Like repos",
    "org.read": "Read the organization's settings and members",
    "org.write": "Manage the organization",
    "post.write": "Write posts",
}
USER_PERMISSIONS = tuple(p for p in NAMESPACE_PERMISSIONS if not p.startswith("org."))
ORG_PERMISSIONS = tuple(p for p in NAMESPACE_PERMISSIONS if p != "user.social.likes.write")


def _repo_entity(raw: str) -> dict[str, str]:
    """`ns/name`, `datasets/ns/name` or `spaces/ns/name` → the Hub's entity of a repo."""
    parts = raw.strip().strip("/").split("/")
    kind = "model"
    if len(parts) == 3 and parts[0] in PLURAL_TO_TYPE:
        kind = PLURAL_TO_TYPE[parts[0]]
        parts = parts[1:]
    if len(parts) != 2 or not all(parts):
        raise BadRequest(f"Name a repository as namespace/name (datasets/… or spaces/… for those): {raw[:100]!r}")
    return {"type": kind, "name": "/".join(parts)}


def fine_grained(fields: dict[str, str], user: str, orgs: list[str]) -> dict:
    """The form's checkboxes → the Hub's `fineGrained` object (the domain checks every entity and permission)."""
    scoped: list[dict] = []
    perms = [p for p in USER_PERMISSIONS if fields.get(f"user:{p}")]
    if perms:
        scoped.append({"entity": {"type": "user", "name": user}, "permissions": perms})
    for org in orgs:
        perms = [p for p in ORG_PERMISSIONS if fields.get(f"org:{org}:{p}")]
        if perms:
            scoped.append({"entity": {"type": "org", "name": org}, "permissions": perms})
    for i in range(REPO_ROWS):
        raw = fields.get(f"repo{i}", "").strip()
        perms = [p for p in REPO_PERMISSIONS if fields.get(f"repo{i}:{p}")]
        if raw and not perms:
            raise BadRequest(f"Choose what the token may do in {raw[:100]}")
        if raw:
            scoped.append({"entity": _repo_entity(raw), "permissions": perms})
        elif perms:
            raise BadRequest("Name the repository of the permissions you chose")
    glob = [p for p in GLOBAL_PERMISSIONS if fields.get(f"global:{p}")]
    if not scoped and not glob:
        raise BadRequest("A fine-grained token needs at least one permission")
    return {"scoped": scoped, "global": glob, "canReadGatedRepos": bool(fields.get("gated"))}


def token_body(fields: dict[str, str], user: str, orgs: list[str]) -> dict:
    """The page's form → the body POST /api/settings/tokens takes."""
    name = fields.get("name", "").strip()
    if not name or len(name) > MAX_TOKEN_NAME or any(ord(c) < 32 for c in name):
        raise BadRequest(f"A token needs a name of 1 to {MAX_TOKEN_NAME} printable characters")
    role = fields.get("role", "read")
    if role not in ROLES:
        raise BadRequest("Choose read, write or fine-grained")
    days = fields.get("expires", "")
    if days not in EXPIRY_DAYS:
        raise BadRequest("Choose when the token expires")
    body: dict = {"displayName": name, "role": role}
    if days:
        body["expiresAt"] = datetime.fromtimestamp(time.time() + int(days) * 86400, UTC).isoformat()
    if role == "fineGrained":
        body["fineGrained"] = fine_grained(fields, user, orgs)
    return body


def scope_summary(shown: dict | None) -> list[str]:
    """A fine-grained token's scopes as short lines for the listing (current names of its entities)."""
    if not shown:
        return []
    lines = [f"{s['entity']['type']} {s['entity']['name']}: {', '.join(s['permissions'])}" for s in shown["scoped"]]
    if shown.get("global"):
        lines.append("everywhere: " + ", ".join(shown["global"]))
    if shown.get("canReadGatedRepos"):
        lines.append("gated repos the account was granted")
    return lines


@page
async def tokens(ctx: Ctx) -> Response:
    p = require_user(ctx)
    accounts = ctx.hub.accounts
    orgs = sorted(p.org_roles)
    created = error = None
    status = 200
    values: dict[str, str] = {}
    if ctx.request.method == "POST":
        fields = await form(ctx, MAX_FORM_FIELDS)
        try:
            if fields.get("action") == "revoke":
                raw = fields.get("token_id", "")
                if not raw.isdigit() or len(raw) > 18:
                    raise NotFound("No such token")
                await ctx.run(accounts.revoke_own_token, p, int(raw))  # only one's own, whatever the form says
            else:
                values = fields
                made = await ctx.run(accounts.create_own_token, p, token_body(fields, p.name, orgs))
                created, values = made["token"], {}
        except HubError as exc:
            error, status = exc.message, exc.status
    rows = await ctx.run(accounts.list_tokens, p.name)
    shown = {int(t["id"]): t.get("fineGrained") for t in await ctx.run(accounts.own_tokens, p)}
    listed = [{**r, "scopes": scope_summary(shown.get(r["id"])), "fine": r["scopes"] is not None} for r in rows]
    return view(ctx, "tokens.html", status, tokens=listed, created=created, error=error,
                values=values, orgs=orgs, labels=LABELS, user_perms=USER_PERMISSIONS, org_perms=ORG_PERMISSIONS,
                repo_perms=REPO_PERMISSIONS, global_perms=GLOBAL_PERMISSIONS, repo_rows=range(REPO_ROWS),
                expiry=EXPIRY_DAYS)
