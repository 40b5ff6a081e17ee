"""Fine-grained tokens: parsing the Hub's `fineGrained` object, storing it by id, resolving it per request.

A scope is stored by account and repo id (never by name), so a token scoped to `alice/x` does not reach a
later repo of that name after `alice/x` is deleted (ids are never reused, invariant 7)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from hubd.db.schema import accounts, memberships, repos
from hubd.hub.access import GLOBAL_PERMISSIONS, NAMESPACE_PERMISSIONS, REPO_PERMISSIONS, TokenScopes
from hubd.hub.errors import BadRequest
from hubd.hub.models import iso

MAX_SCOPED = 100  # entities in one token (bounded work per request: each is resolved on every use)
MAX_NAME = 128
REPO_KINDS = ("model", "dataset", "space")


def parse_expiry(value: Any) -> float | None:
    """`expiresAt` as an ISO 8601 date-time in the future, or null/absent for a token that never expires."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise BadRequest("expiresAt must be an ISO 8601 date-time")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest("expiresAt must be an ISO 8601 date-time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    ts = when.timestamp()
    if ts <= time.time():
        raise BadRequest("expiresAt must be in the future")
    return ts


def _str_list(value: Any, what: str, allowed: tuple[str, ...]) -> list[str]:
    if not isinstance(value, list) or len(value) > len(allowed) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"{what} must be a list of permissions")
    unknown = [v for v in value if v not in allowed]
    if unknown:
        raise BadRequest(f"Invalid permission {unknown[0]!r} in {what}: one of {', '.join(allowed)}")
    return sorted(set(value))


def parse_fine_grained(conn: Connection, user_id: int, user_name: str, spec: Any) -> dict:
    """The Hub's `fineGrained` object → what is stored. Every entity must exist and be one the user belongs
    to (their own account, an org they are a member of, a repo they may read): a token never names more
    than its account may do."""
    if not isinstance(spec, dict):
        raise BadRequest("fineGrained must be an object")
    scoped = spec.get("scoped", [])
    if not isinstance(scoped, list) or len(scoped) > MAX_SCOPED:
        raise BadRequest(f"fineGrained.scoped must be a list of at most {MAX_SCOPED} entries")
    orgs = {r.name: r.id for r in conn.execute(
        select(accounts.c.name, accounts.c.id).join(memberships, memberships.c.org_id == accounts.c.id)
        .where(memberships.c.user_id == user_id))}
    out: list[dict] = []
    for item in scoped:
        entity = item.get("entity") if isinstance(item, dict) else None
        if not isinstance(entity, dict) or not isinstance(entity.get("type"), str) \
                or not isinstance(entity.get("name"), str) or len(entity["name"]) > 2 * MAX_NAME:
            raise BadRequest("Each scoped entry needs an entity {type, name} and permissions")
        kind, name = entity["type"], entity["name"]
        if kind == "user":
            if name != user_name:
                raise BadRequest(f"A token can only be scoped to its own user, not {name!r}")
            entity_id = user_id
            perms = _str_list(item.get("permissions"), "permissions", NAMESPACE_PERMISSIONS)
        elif kind == "org":
            if name not in orgs:
                raise BadRequest(f"You are not a member of the organization {name!r}")
            entity_id = orgs[name]
            perms = _str_list(item.get("permissions"), "permissions", NAMESPACE_PERMISSIONS)
        elif kind in REPO_KINDS:
            ns, _, short = name.partition("/")
            row = conn.execute(select(repos.c.id, repos.c.namespace, repos.c.private).where(
                (repos.c.search_id == name.lower()) & (repos.c.type == kind))).first()
            member = row is not None and (row.namespace == user_name or row.namespace in orgs)
            if row is None or not short or (row.private and not member):
                raise BadRequest(f"No {kind} repository named {name!r}")
            entity_id = row.id
            perms = _str_list(item.get("permissions"), "permissions", REPO_PERMISSIONS)
        else:
            raise BadRequest(f"Invalid entity type {kind!r}: one of user, org, {', '.join(REPO_KINDS)}")
        out.append({"entity": {"type": kind, "id": entity_id}, "permissions": perms})
    global_perms = _str_list(spec.get("global", []), "fineGrained.global", GLOBAL_PERMISSIONS)
    gated = spec.get("canReadGatedRepos", False)
    if not isinstance(gated, bool):
        raise BadRequest("fineGrained.canReadGatedRepos must be a boolean")
    return {"global": global_perms, "scoped": out, "canReadGatedRepos": gated}


def resolve_scopes(conn: Connection, stored: dict) -> TokenScopes:
    """Stored scopes → the permissions of this request, under the current names of their entities. An
    entity that no longer exists drops out (its id is never given again)."""
    scoped = stored.get("scoped", [])
    account_ids = [s["entity"]["id"] for s in scoped if s["entity"]["type"] in ("user", "org")]
    repo_ids = [s["entity"]["id"] for s in scoped if s["entity"]["type"] in REPO_KINDS]
    names = {r.id: r.name for r in conn.execute(
        select(accounts.c.id, accounts.c.name).where(accounts.c.id.in_(account_ids)))} if account_ids else {}
    repo_rows = {r.id: r for r in conn.execute(
        select(repos.c.id, repos.c.type, repos.c.namespace, repos.c.name).where(repos.c.id.in_(repo_ids)))
    } if repo_ids else {}
    namespaces: dict[str, frozenset[str]] = {}
    by_repo: dict[int, frozenset[str]] = {}
    shown: list[dict] = []
    for s in scoped:
        kind, entity_id, perms = s["entity"]["type"], s["entity"]["id"], frozenset(s["permissions"])
        if kind in ("user", "org"):
            if entity_id not in names:
                continue
            namespaces[names[entity_id]] = namespaces.get(names[entity_id], frozenset()) | perms
            shown.append({"entity": {"_id": f"{entity_id:024x}", "type": kind, "name": names[entity_id]},
                          "permissions": sorted(perms)})
        else:
            row = repo_rows.get(entity_id)
            if row is None or row.type != kind:
                continue
            by_repo[entity_id] = by_repo.get(entity_id, frozenset()) | perms
            shown.append({"entity": {"_id": f"{entity_id:024x}", "type": kind,
                                     "name": f"{row.namespace}/{row.name}"}, "permissions": sorted(perms)})
    gated = bool(stored.get("canReadGatedRepos"))
    return TokenScopes(
        global_perms=frozenset(stored.get("global", [])), namespaces=namespaces, repos=by_repo,
        can_read_gated=gated,
        shown={"canReadGatedRepos": gated, "global": sorted(stored.get("global", [])), "scoped": shown},
    )


def token_json(row: dict, scopes: TokenScopes | None) -> dict:
    """A token as the settings API lists it (the secret is never stored, so never shown again)."""
    out = {
        "id": str(row["id"]),
        "displayName": row["name"],
        "role": "fineGrained" if row.get("scopes") is not None else row["role"],
        "createdAt": iso(row["created_at"]),
        "lastUsedAt": iso(row["last_used_at"]) if row.get("last_used_at") else None,
        "expiresAt": iso(row["expires_at"]) if row.get("expires_at") else None,
    }
    if scopes is not None:
        out["fineGrained"] = scopes.shown
    return out
