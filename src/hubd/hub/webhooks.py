"""Webhooks: what a user watches, the events the commit and discussion paths emit, and their delivery.

An event is turned into one `webhook_deliveries` row and one durable job per matching webhook *inside the
transaction that makes it happen* (a ref move, a discussion change): a crash can neither lose an event nor
send one for a change that never happened, and the request only pays for one indexed query and a few
inserts. Delivery runs on its own worker threads (a receiver that hangs or answers 500 delays nobody's
commit nor the derive/parquet jobs), retried with back-off by the job queue, and every attempt is logged
on the delivery row. Outbound targets are checked against `--webhook-targets` at creation and again, after
DNS resolution, at every delivery, and the request goes to the address that was checked (no rebinding)."""

from __future__ import annotations

import builtins
import ipaddress
import logging
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import Connection, func, insert, or_, select, update

from hubd.db.schema import accounts, memberships
from hubd.db.schema_social import webhook_deliveries, webhook_watches, webhooks
from hubd.hub.access import Principal
from hubd.hub.errors import BadRequest, Forbidden, NotFound, RepoNotFound
from hubd.hub.models import Repo
from hubd.jobs.queue import MAX_ATTEMPTS, Job, Postpone, enqueue

log = logging.getLogger("hubd.webhooks")

DOMAINS = ("repo", "discussion")
WATCH_KINDS = ("model", "dataset", "space", "user", "org")
MAX_WEBHOOKS_PER_USER = 100
MAX_WATCHED = 100
MAX_URL = 2048
MAX_SECRET = 256
MAX_LOG = 100  # delivery rows shown per webhook
JOB_KIND = "webhook"
PAYLOAD_VERSION = 3


class WebhookNotFound(NotFound):
    default_message = "Webhook not found"


# --- outbound targets ----------------------------------------------------------------------------------
def parse_targets(setting: str) -> tuple[bool, list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    """`--webhook-targets`: "public" (globally routable addresses) and/or CIDR networks, comma-separated."""
    public, nets = False, []
    for part in (p.strip() for p in setting.split(",")):
        if not part:
            continue
        if part == "public":
            public = True
        else:
            nets.append(ipaddress.ip_network(part, strict=False))
    return public, nets


def address_allowed(addr: str, setting: str) -> bool:
    ip = ipaddress.ip_address(addr.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback, whatever its spelling
    public, nets = parse_targets(setting)
    if any(ip in net for net in nets):
        return True
    return public and ip.is_global and not ip.is_multicast


def check_url(url: Any, setting: str) -> str:
    """A webhook URL: http(s), a host, bounded; a literal address must be an allowed target. Host names are
    resolved and checked at each delivery (they may point elsewhere later)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise BadRequest(f"url must be an http(s) URL of at most {MAX_URL} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise BadRequest("url must be an http(s) URL with a host and no credentials")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise BadRequest("url has an invalid port") from None
    host = parts.hostname
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if (literal is not None and not address_allowed(str(literal), setting)) or \
            (literal is None and host.lower().rstrip(".") in ("localhost", "localhost.localdomain")
             and not address_allowed("127.0.0.1", setting)):
        raise BadRequest(f"Webhooks may not be sent to {host}: not an allowed target on this hub")
    return url


def _resolve_allowed(host: str, port: int, setting: str) -> str:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addrs = [str(info[4][0]) for info in infos]  # the host of an AF_INET or AF_INET6 address: a str
    bad = [a for a in addrs if not address_allowed(a, setting)]
    if not addrs or bad:
        raise PermissionError(f"{host} resolves to {bad[0] if bad else 'nothing'}: not an allowed target")
    return addrs[0]


# --- management ------------------------------------------------------------------------------------------
def _hex(n: int) -> str:
    return f"{n:024x}"


def _parse_id(raw: str) -> int:
    if len(raw) != 24 or any(c not in "0123456789abcdef" for c in raw):
        raise WebhookNotFound()
    return int(raw, 16)


def webhook_json(row: Any) -> dict:
    return {"id": _hex(row.id), "url": row.url, "watched": row.watched, "domains": row.domains,
            "secret": row.secret, "disabled": bool(row.disabled), "job": None}


class Webhooks:
    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.db = hub.db

    def _check(self, p: Principal, permission: str) -> None:
        if not p.allows(permission):
            if p.scopes is None:
                raise Forbidden("You need a write token to manage webhooks")
            from hubd.hub.access import scope_message

            raise Forbidden(scope_message(permission, f"user {p.name}"))

    def _watched(self, p: Principal, value: Any) -> list[tuple[str, str, dict]]:
        if not isinstance(value, list) or not value or len(value) > MAX_WATCHED:
            raise BadRequest(f"watched must be a list of 1 to {MAX_WATCHED} items")
        out = []
        for item in value:
            if not isinstance(item, dict) or item.get("type") not in WATCH_KINDS or \
                    not isinstance(item.get("name"), str) or not 0 < len(item["name"]) <= 200:
                raise BadRequest(f"Each watched item is {{type: {'|'.join(WATCH_KINDS)}, name}}")
            kind, name = item["type"], item["name"]
            if kind in ("user", "org"):
                account = self.hub.accounts.account(name)
                if account is None or account["kind"] != kind:
                    raise NotFound(f"No {kind} named {name!r}")
                name = account["name"]
            else:
                ns, _, short = name.partition("/")
                if not short:
                    raise RepoNotFound()
                name = self.hub.repos.for_read(p, kind, ns, short).repo_id  # a private repo you cannot see is absent
            out.append((kind, name.lower(), {"type": kind, "name": name}))
        return out

    def _domains(self, value: Any) -> list[str]:
        if value is None:
            return list(DOMAINS)
        if not isinstance(value, list) or not value or any(d not in DOMAINS for d in value):
            raise BadRequest(f"domains must be a non-empty list of {', '.join(DOMAINS)}")
        return sorted(set(value), key=DOMAINS.index)

    def _secret(self, value: Any) -> str | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str) or len(value) > MAX_SECRET or any(ord(c) < 32 or ord(c) > 126 for c in value):
            raise BadRequest(f"secret must be printable ASCII of at most {MAX_SECRET} characters (it is a header)")
        return value

    def create(self, p: Principal, body: dict) -> dict:
        self._check(p, "user.webhooks.write")
        if "jobSourceId" in body:
            raise BadRequest("Webhooks that start Jobs are not supported by this hub: give a url")
        url = check_url(body.get("url"), self.hub.settings.webhook_targets)
        watched = self._watched(p, body.get("watched"))
        domains, secret = self._domains(body.get("domains")), self._secret(body.get("secret"))
        with self.db.write() as conn:
            count = conn.execute(select(func.count()).select_from(webhooks).where(webhooks.c.owner_id == p.user_id))
            if count.scalar_one() >= MAX_WEBHOOKS_PER_USER:
                raise BadRequest(f"A user has at most {MAX_WEBHOOKS_PER_USER} webhooks")
            hook_id = int(conn.execute(insert(webhooks).values(
                owner_id=p.user_id, url=url, secret=secret, domains=domains, watched=[w[2] for w in watched],
                disabled=False, created_at=time.time())).inserted_primary_key[0])
            self._set_watches(conn, hook_id, watched)
        return self.get(p, _hex(hook_id))

    @staticmethod
    def _set_watches(conn: Connection, hook_id: int, watched: list[tuple[str, str, dict]]) -> None:
        conn.execute(webhook_watches.delete().where(webhook_watches.c.webhook_id == hook_id))
        rows = {(k, t) for k, t, _ in watched}
        conn.execute(insert(webhook_watches), [{"webhook_id": hook_id, "kind": k, "target": t} for k, t in rows])

    def _own(self, conn: Connection, p: Principal, raw_id: str) -> Any:
        row = conn.execute(select(webhooks).where(
            (webhooks.c.id == _parse_id(raw_id)) & (webhooks.c.owner_id == p.user_id))).first()
        if row is None:  # someone else's webhook answers exactly as a missing one
            raise WebhookNotFound()
        return row

    def get(self, p: Principal, raw_id: str) -> dict:
        self._check(p, "user.webhooks.read")
        with self.db.read() as conn:
            return webhook_json(self._own(conn, p, raw_id))

    def list(self, p: Principal) -> list[dict]:
        self._check(p, "user.webhooks.read")
        with self.db.read() as conn:
            rows = conn.execute(select(webhooks).where(webhooks.c.owner_id == p.user_id).order_by(webhooks.c.id))
            return [webhook_json(r) for r in rows]

    def update(self, p: Principal, raw_id: str, body: dict) -> dict:
        self._check(p, "user.webhooks.write")
        if "jobSourceId" in body:
            raise BadRequest("Webhooks that start Jobs are not supported by this hub: give a url")
        values: dict[str, Any] = {}
        if body.get("url") is not None:
            values["url"] = check_url(body["url"], self.hub.settings.webhook_targets)
        watched = self._watched(p, body["watched"]) if body.get("watched") else None
        if watched is not None:
            values["watched"] = [w[2] for w in watched]
        if body.get("domains") is not None:
            values["domains"] = self._domains(body["domains"])
        if "secret" in body:
            values["secret"] = self._secret(body["secret"])
        with self.db.write() as conn:
            row = self._own(conn, p, raw_id)
            if values:
                conn.execute(update(webhooks).where(webhooks.c.id == row.id).values(**values))
            if watched is not None:
                self._set_watches(conn, row.id, watched)
        return self.get(p, raw_id)

    def set_disabled(self, p: Principal, raw_id: str, disabled: bool) -> dict:
        self._check(p, "user.webhooks.write")
        with self.db.write() as conn:
            row = self._own(conn, p, raw_id)
            conn.execute(update(webhooks).where(webhooks.c.id == row.id).values(disabled=disabled))
        return self.get(p, raw_id)

    def delete(self, p: Principal, raw_id: str) -> None:
        self._check(p, "user.webhooks.write")
        with self.db.write() as conn:
            row = self._own(conn, p, raw_id)
            conn.execute(webhook_deliveries.delete().where(webhook_deliveries.c.webhook_id == row.id))
            conn.execute(webhook_watches.delete().where(webhook_watches.c.webhook_id == row.id))
            conn.execute(webhooks.delete().where(webhooks.c.id == row.id))

    def deliveries(self, p: Principal, raw_id: str) -> builtins.list[dict]:
        """The delivery log, newest first: event, state, attempts, the receiver's last status or error."""
        self._check(p, "user.webhooks.read")
        with self.db.read() as conn:
            row = self._own(conn, p, raw_id)
            rows = conn.execute(select(webhook_deliveries).where(webhook_deliveries.c.webhook_id == row.id)
                                .order_by(webhook_deliveries.c.id.desc()).limit(MAX_LOG)).all()
        from hubd.hub.models import iso

        return [{"id": _hex(r.id), "event": r.event, "state": r.state, "attempts": r.attempts, "status": r.status,
                 "error": r.error, "createdAt": iso(r.created_at), "updatedAt": iso(r.updated_at),
                 "payload": r.payload} for r in rows]


# --- events (called inside the caller's write transaction) ----------------------------------------------
def _matching(conn: Connection, repo: Repo, domain: str) -> list[Any]:
    """Enabled webhooks watching the repo, its owner or its org, for `domain`, whose owner may see it."""
    targets = [(repo.type, repo.repo_id.lower()), ("user", repo.namespace.lower()), ("org", repo.namespace.lower())]
    cond = or_(*[(webhook_watches.c.kind == k) & (webhook_watches.c.target == t) for k, t in targets])
    ids = select(webhook_watches.c.webhook_id).where(cond)
    rows = conn.execute(select(webhooks.c.id, webhooks.c.owner_id, webhooks.c.domains)
                        .where(webhooks.c.id.in_(ids) & ~webhooks.c.disabled)).all()
    rows = [r for r in rows if domain in (r.domains or [])]
    if repo.private and rows:
        # a webhook never tells its owner about a repo they cannot read (watching an org is not membership)
        ns = conn.execute(select(accounts.c.id, accounts.c.kind).where(accounts.c.name == repo.namespace)).first()
        members = set()
        if ns is not None and ns.kind == "org":
            members = {m.user_id for m in conn.execute(select(memberships.c.user_id).where(
                memberships.c.org_id == ns.id))}
        admins = {a.id for a in conn.execute(select(accounts.c.id).where(accounts.c.is_admin))}
        rows = [r for r in rows if (ns is not None and r.owner_id == ns.id) or r.owner_id in members
                or r.owner_id in admins]
    return rows


def _repo_payload(conn: Connection, repo: Repo, head_sha: str | None) -> dict:
    owner = conn.execute(select(accounts.c.id).where(accounts.c.name == repo.namespace)).scalar()
    plural = f"{repo.type}s"
    web = f"/{repo.repo_id}" if repo.type == "model" else f"/{plural}/{repo.repo_id}"
    out = {"type": repo.type, "name": repo.repo_id, "id": _hex(repo.id), "private": repo.private,
           "url": {"web": web, "api": f"/api/{plural}/{repo.repo_id}"}, "owner": {"id": _hex(owner or 0)}}
    if head_sha:
        # the Hub's documented payload says headSha; huggingface_hub's WebhookPayload model reads head_sha
        out["headSha"] = out["head_sha"] = head_sha
    return out


def _enqueue(conn: Connection, rows: list[Any], event: dict, scope: str, action: str) -> int:
    now = time.time()
    for r in rows:
        payload = {**event, "webhook": {"id": _hex(r.id), "version": PAYLOAD_VERSION}}
        pk = conn.execute(insert(webhook_deliveries).values(
            webhook_id=r.id, event=f"{scope}.{action}", payload=payload, state="queued", attempts=0,
            created_at=now, updated_at=now)).inserted_primary_key
        assert pk is not None  # a single-row insert has one
        delivery = int(pk[0])
        enqueue(conn, JOB_KIND, None, {"delivery": delivery}, dedup=False)
    return len(rows)


def emit_repo_event(conn: Connection, repo: Repo, scope: str, action: str, *, head_sha: str | None = None,
                    updated_refs: list[dict] | None = None, moved_to: str | None = None) -> int:
    """A repo event: scope "repo" (create, delete, move), "repo.content" (update: refs moved, with
    updatedRefs [{ref, oldSha, newSha}]) or "repo.config" (update). Returns how many deliveries it queued."""
    rows = _matching(conn, repo, "repo")
    if not rows:
        return 0
    event: dict[str, Any] = {"event": {"action": action, "scope": scope},
                             "repo": _repo_payload(conn, repo, head_sha or repo.head_sha)}
    if updated_refs is not None:
        event["updatedRefs"] = updated_refs
    if moved_to is not None:
        owner = conn.execute(select(accounts.c.id).where(accounts.c.name == moved_to.split("/")[0])).scalar()
        event["movedTo"] = {"name": moved_to, "owner": {"id": _hex(owner or 0)}}
    return _enqueue(conn, rows, event, scope, action)


def emit_repo_created(conn: Connection, repo_id: int) -> int:
    """scope "repo", action "create", for a repo inserted in the caller's transaction."""
    from hubd.db.schema import repos
    from hubd.hub.models import repo_from_row

    row = conn.execute(select(repos).where(repos.c.id == repo_id)).first()
    return emit_repo_event(conn, repo_from_row(row), "repo", "create") if row is not None else 0


def ref_update(ref: str, old: str | None, new: str | None) -> dict:
    return {"ref": ref, "oldSha": old, "newSha": new}


def _author_id(conn: Connection, value: dict) -> str:
    if isinstance(value.get("author_id"), int):
        return _hex(value["author_id"])
    author = value.get("author")
    name = author.get("name") if isinstance(author, dict) else author
    found = conn.execute(select(accounts.c.id).where(accounts.c.name == name)).scalar() if name else None
    return _hex(found or 0)


def emit_discussion_event(conn: Connection, repo: Repo, discussion: dict, action: str,
                          comment: dict | None = None) -> int:
    """A discussion or pull request event, for the discussions module (inside its write transaction).

    `discussion`: num, title, status, is_pull_request (or isPullRequest), author_id (or author name),
    and for pull requests base_ref and merge_commit. `comment` (a comment event): id, content, hidden,
    author_id (or author). `action`: create | update | delete. Scope is "discussion.comment" when a comment
    is given, else "discussion"."""
    rows = _matching(conn, repo, "discussion")
    if not rows:
        return 0
    num = int(discussion["num"])
    is_pr = bool(discussion.get("is_pull_request", discussion.get("isPullRequest", False)))
    plural = f"{repo.type}s"
    web = (f"/{repo.repo_id}" if repo.type == "model" else f"/{plural}/{repo.repo_id}") + f"/discussions/{num}"
    disc: dict[str, Any] = {
        "id": str(discussion.get("id") or f"{repo.id:016x}{num:08x}"), "num": num,
        "title": discussion.get("title", ""), "status": discussion.get("status", "open"), "isPullRequest": is_pr,
        "author": {"id": _author_id(conn, discussion)},
        "url": {"web": web, "api": f"/api/{plural}/{repo.repo_id}/discussions/{num}"},
    }
    if is_pr:
        disc["changes"] = {"base": discussion.get("base_ref") or "refs/heads/main"}
        if discussion.get("merge_commit"):
            disc["changes"]["mergeCommitId"] = discussion["merge_commit"]
    if discussion.get("pinned") is not None:
        disc["pinned"] = bool(discussion["pinned"])
    event: dict[str, Any] = {"event": {"action": action, "scope": "discussion.comment" if comment else "discussion"},
                             "repo": _repo_payload(conn, repo, None), "discussion": disc}
    if comment is not None:
        cid = str(comment.get("id", ""))
        event["comment"] = {"id": cid, "author": {"id": _author_id(conn, comment)},
                            "hidden": bool(comment.get("hidden", False)),
                            "content": comment.get("content", comment.get("text")),
                            "url": {"web": f"{web}#{cid}"}}
    return _enqueue(conn, rows, event, event["event"]["scope"], action)


# --- delivery (job kind "webhook") ------------------------------------------------------------------------
class DeliveryFailed(Exception):
    """The receiver did not take the event: the job queue retries it with back-off."""


def _absolute(value: Any, base: str) -> Any:
    """Stored payloads hold paths; the hub's public URL is added when sent (it is a setting, not data)."""
    if isinstance(value, dict):
        return {k: (base + v if k in ("web", "api") and isinstance(v, str) and v.startswith("/")
                    else _absolute(v, base)) for k, v in value.items()}
    if isinstance(value, list):
        return [_absolute(v, base) for v in value]
    return value


def _post(url: str, payload: dict, secret: str | None, settings: Any) -> int:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addr = _resolve_allowed(parts.hostname or "", port, settings.webhook_targets)
    # connect to the address that was checked, naming the host in Host (and SNI): no second DNS answer
    host_literal = f"[{addr}]" if ":" in addr else addr
    target = urlunsplit((parts.scheme, f"{host_literal}:{port}", parts.path or "/", parts.query, ""))
    headers = {"Content-Type": "application/json", "User-Agent": "hubd-webhooks/1",
               "Host": parts.netloc.rpartition("@")[2]}
    if secret:
        headers["X-Webhook-Secret"] = secret
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    with httpx.Client(timeout=settings.webhook_timeout, follow_redirects=False, trust_env=False) as client:
        r = client.post(target, json=payload, headers=headers, extensions=extensions)
        return r.status_code


# Webhooks with a delivery in flight in this process: one at a time each, so a receiver that hangs holds one
# delivery thread at most and the others keep delivering to everyone else.
_in_flight: set[int] = set()
_in_flight_lock = threading.Lock()


def deliver(hub: Any, job: Job) -> None:
    delivery_id = int(job.payload["delivery"])
    with hub.db.read() as conn:
        row = conn.execute(select(webhook_deliveries.c.payload, webhook_deliveries.c.webhook_id, webhooks.c.url,
                                  webhooks.c.secret, webhooks.c.disabled)
                           .join(webhooks, webhooks.c.id == webhook_deliveries.c.webhook_id)
                           .where(webhook_deliveries.c.id == delivery_id)).first()
    if row is None:
        return  # the webhook was deleted with its log
    if row.disabled:
        _record(hub, delivery_id, "skipped", job.attempts, None, "webhook disabled")
        return
    with _in_flight_lock:
        if row.webhook_id in _in_flight:
            raise Postpone(0.5)
        _in_flight.add(row.webhook_id)
    try:
        _attempt(hub, job, delivery_id, row)
    finally:
        with _in_flight_lock:
            _in_flight.discard(row.webhook_id)


def _attempt(hub: Any, job: Job, delivery_id: int, row: Any) -> None:
    final = job.attempts >= MAX_ATTEMPTS
    try:
        status = _post(row.url, _absolute(row.payload, hub.settings.base_url), row.secret, hub.settings)
    except (httpx.HTTPError, OSError, ValueError) as exc:
        _record(hub, delivery_id, "failed" if final else "queued", job.attempts, None, f"{type(exc).__name__}: {exc}")
        raise DeliveryFailed(str(exc)) from None
    if not 200 <= status < 300:
        _record(hub, delivery_id, "failed" if final else "queued", job.attempts, status, f"HTTP {status}")
        raise DeliveryFailed(f"receiver answered {status}")
    _record(hub, delivery_id, "ok", job.attempts, status, None)


def _record(hub: Any, delivery_id: int, state: str, attempts: int, status: int | None, error: str | None) -> None:
    with hub.db.write() as conn:
        conn.execute(update(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id).values(
            state=state, attempts=attempts, status=status, error=error[:1000] if error else None,
            updated_at=time.time()))


def delivery_handlers(hub: Any) -> dict:
    return {JOB_KIND: lambda job: deliver(hub, job)}

