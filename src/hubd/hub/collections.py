"""Collections: a user's or an org's curated list of repos, papers and other collections.

A collection's slug is `owner/title-words-<24 hex id>`; only the id and owner are looked up (the title part
may go stale after a rename, as on the Hub). Repo items are held by repo id, so they follow moves and go with
the repo; an item the caller may not see (a private repo) is left out of what they are shown."""

from __future__ import annotations

import re
import time
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hubd.db.schema import accounts, repos
from hubd.db.schema_social import collection_items, collections
from hubd.hub import access
from hubd.hub.access import Principal, scope_message
from hubd.hub.errors import BadRequest, Conflict, Forbidden, NotFound, RepoNotFound, Unauthorized
from hubd.hub.models import iso

MAX_TITLE, MAX_DESCRIPTION, MAX_NOTE = 60, 150, 500
MAX_ITEMS = 1000
MAX_PER_OWNER = 1000
PAGE = 100
ITEM_TYPES = ("model", "dataset", "space", "paper", "collection")
_PAPER = re.compile(r"^[0-9]{4}\.[0-9]{4,5}$")
_SLUG = re.compile(r"^(?P<owner>[^/]{1,96})/(?:[^/]{0,200}-)?(?P<id>[0-9a-f]{24})$")
_THEME = re.compile(r"^[a-z]{1,16}$")


class CollectionNotFound(NotFound):
    default_message = "Collection not found"


class CollectionExists(Conflict):
    def __init__(self, slug: str) -> None:
        super().__init__("You already have a collection with this title")
        self.slug = slug


def _words(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "collection"


def slug_of(owner: str, title: str, cid: int) -> str:
    return f"{owner}/{_words(title)}-{cid:024x}"


def _text(value: Any, what: str, limit: int, *, empty: bool = True) -> str:
    if not isinstance(value, str) or len(value) > limit or (not empty and not value.strip()):
        raise BadRequest(f"{what} must be a {'non-empty ' if not empty else ''}string of at most {limit} characters")
    return value.strip()


class Collections:
    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.db = hub.db

    # --- who may do what -----------------------------------------------------------------------------
    @staticmethod
    def _may_see(p: Principal | None, owner: str, private: bool) -> bool:
        if not private:
            return True
        return p is not None and p.base_role(owner) is not None and p.allows("collection.read", owner)

    @staticmethod
    def _check_write(p: Principal | None, owner: str) -> Principal:
        if p is None:
            raise Unauthorized("You must be authenticated to change a collection")
        role = p.base_role(owner)
        if role is None or access.ROLE_ORDER[role] < access.ROLE_ORDER["write"] and owner != p.name:
            raise Forbidden(f"You don't have the rights to change collections of {owner}")
        if not p.allows("collection.write", owner):
            if p.scopes is not None:
                raise Forbidden(scope_message("collection.write", owner))
            raise Forbidden("You need a write token to change a collection")
        return p

    def _load(self, conn: Connection, p: Principal | None, slug: str) -> Any:
        m = _SLUG.match(slug)
        if m is None:
            raise CollectionNotFound()
        row = conn.execute(select(collections, accounts.c.name.label("owner"), accounts.c.kind.label("owner_kind"),
                                  accounts.c.fullname.label("owner_fullname"))
                           .join(accounts, accounts.c.id == collections.c.owner_id)
                           .where(collections.c.id == int(m["id"], 16))).first()
        if row is None or row.owner.lower() != m["owner"].lower() or not self._may_see(p, row.owner, row.private):
            raise CollectionNotFound()  # a private collection answers as a missing one
        return row

    # --- reading -------------------------------------------------------------------------------------
    def _json(self, conn: Connection, p: Principal | None, row: Any, *, items_limit: int | None = None) -> dict:
        items = conn.execute(select(collection_items).where(collection_items.c.collection_id == row.id)
                             .order_by(collection_items.c.position, collection_items.c.id)).all()
        repo_ids = [i.repo_id for i in items if i.repo_id is not None]
        repo_rows = {r.id: r for r in conn.execute(select(repos).where(repos.c.id.in_(repo_ids)))} if repo_ids else {}
        shown = []
        for i in items:
            entry: dict[str, Any] = {"_id": f"{i.id:024x}", "position": i.position, "type": i.item_type}
            if i.repo_id is not None:
                r = repo_rows.get(i.repo_id)
                if r is None or not (access.can_read(p, r.namespace, r.private)
                                     or access.scoped_read(p, r.id, r.namespace)):
                    continue  # what the caller cannot see is not there for them
                entry.update({"id": f"{r.namespace}/{r.name}", "author": r.namespace, "private": r.private,
                              "likes": r.likes, "downloads": r.downloads, "lastModified": iso(r.last_modified),
                              "gated": r.gated or False})
            elif i.item_type == "collection":
                entry.update({"id": i.item_key.split(":", 1)[1], "slug": i.item_key.split(":", 1)[1]})
            else:
                entry.update({"id": i.item_key.split(":", 1)[1]})
            if i.note:
                entry["note"] = {"text": i.note, "html": _escape(i.note)}
            shown.append(entry)
        if items_limit is not None:
            shown = shown[:items_limit]
        return {
            "slug": slug_of(row.owner, row.title, row.id), "title": row.title, "description": row.description,
            "owner": {"_id": f"{row.owner_id:024x}", "name": row.owner, "fullname": row.owner_fullname or row.owner,
                      "type": row.owner_kind, "avatarUrl": "", "isPro": False},
            "items": shown, "lastUpdated": iso(row.updated_at), "position": row.position, "private": row.private,
            "theme": row.theme, "upvotes": row.upvotes, "isUpvotedByUser": False, "gating": False,
            "shareUrl": f"{self.hub.settings.base_url}/collections/{slug_of(row.owner, row.title, row.id)}",
        }

    def get(self, p: Principal | None, slug: str) -> dict:
        with self.db.read() as conn:
            return self._json(conn, p, self._load(conn, p, slug))

    def list(self, p: Principal | None, owners: list[str], items: list[str], sort: str | None,
             limit: int) -> list[dict]:
        """list_collections: by owner(s) and/or containing an item ("models/alice/x", "papers/2307.09288");
        4 items each, as on the Hub. Private collections only for those who may see them."""
        limit = max(1, min(limit, PAGE))
        q = (select(collections, accounts.c.name.label("owner"), accounts.c.kind.label("owner_kind"),
                    accounts.c.fullname.label("owner_fullname"))
             .join(accounts, accounts.c.id == collections.c.owner_id))
        if owners:
            q = q.where(func.lower(accounts.c.name).in_([o.lower() for o in owners[:20]]))
        with self.db.read() as conn:
            for item in items[:20]:
                kind, _, ident = item.partition("/")
                kind = {"models": "model", "datasets": "dataset", "spaces": "space", "papers": "paper",
                        "collections": "collection"}.get(kind, "")
                if not kind or not ident:
                    raise BadRequest(f"Invalid item {item!r}: models/ID, datasets/ID, spaces/ID or papers/ID")
                key = self._item_key(conn, kind, ident)
                if key is None:
                    return []
                q = q.where(collections.c.id.in_(select(collection_items.c.collection_id)
                                                 .where(collection_items.c.item_key == key)))
            order = {"upvotes": collections.c.upvotes.desc(), "trending": collections.c.upvotes.desc(),
                     "lastModified": collections.c.updated_at.desc()}.get(sort or "", collections.c.updated_at.desc())
            if sort is not None and sort not in ("upvotes", "trending", "lastModified"):
                raise BadRequest("sort must be one of lastModified, trending, upvotes")
            rows = conn.execute(q.order_by(order, collections.c.id.desc()).limit(limit * 4)).all()
            visible = [r for r in rows if self._may_see(p, r.owner, r.private)][:limit]
            # listed without `position` (the client numbers the listing itself)
            return [{k: v for k, v in self._json(conn, p, r, items_limit=4).items() if k != "position"}
                    for r in visible]

    @staticmethod
    def _item_key(conn: Connection, kind: str, ident: str) -> str | None:
        if kind in ("model", "dataset", "space"):
            rid = conn.execute(select(repos.c.id).where((repos.c.search_id == ident.lower())
                                                         & (repos.c.type == kind))).scalar()
            return f"repo:{rid}" if rid is not None else None
        return f"{kind}:{ident}"

    # --- writing -------------------------------------------------------------------------------------
    def create(self, p: Principal | None, body: dict) -> dict:
        if p is None:
            raise Unauthorized("You must be authenticated to create a collection")
        title = _text(body.get("title"), "title", MAX_TITLE, empty=False)
        namespace = body.get("namespace") or p.name
        if not isinstance(namespace, str) or self.hub.accounts.account(namespace) is None:
            raise NotFound(f"Namespace {namespace!r} not found")
        description = _text(body.get("description") or "", "description", MAX_DESCRIPTION)
        private = body.get("private", False)
        if not isinstance(private, bool):
            raise BadRequest("private must be a boolean")
        self._check_write(p, namespace)
        owner = self.hub.accounts.account(namespace)
        now = time.time()
        with self.db.write() as conn:
            same = conn.execute(select(collections.c.id).where(
                (collections.c.owner_id == owner["id"]) & (collections.c.title == title))).scalar()
            if same is not None:
                raise CollectionExists(slug_of(owner["name"], title, same))
            count = conn.execute(select(func.count()).select_from(collections)
                                 .where(collections.c.owner_id == owner["id"])).scalar_one()
            if count >= MAX_PER_OWNER:
                raise BadRequest(f"A namespace has at most {MAX_PER_OWNER} collections")
            cid = int(conn.execute(insert(collections).values(
                owner_id=owner["id"], title=title, description=description, private=private, theme="default",
                position=count, upvotes=0, created_at=now, updated_at=now)).inserted_primary_key[0])
        return self.get(p, slug_of(owner["name"], title, cid))

    def update_metadata(self, p: Principal | None, slug: str, body: dict) -> dict:
        values: dict[str, Any] = {}
        if body.get("title") is not None:
            values["title"] = _text(body["title"], "title", MAX_TITLE, empty=False)
        if body.get("description") is not None:
            values["description"] = _text(body["description"], "description", MAX_DESCRIPTION)
        if body.get("private") is not None:
            if not isinstance(body["private"], bool):
                raise BadRequest("private must be a boolean")
            values["private"] = body["private"]
        if body.get("theme") is not None:
            if not isinstance(body["theme"], str) or not _THEME.match(body["theme"]):
                raise BadRequest("theme must be a lowercase word")
            values["theme"] = body["theme"]
        position = body.get("position")
        if position is not None and (not isinstance(position, int) or isinstance(position, bool) or position < 0):
            raise BadRequest("position must be a non-negative integer")
        with self.db.write() as conn:
            row = self._load(conn, p, slug)
            self._check_write(p, row.owner)
            if position is not None:
                self._reorder(conn, collections, collections.c.owner_id == row.owner_id, row.id, position)
            conn.execute(update(collections).where(collections.c.id == row.id).values(updated_at=time.time(), **values))
            return self._json(conn, p, self._load(conn, p, slug_of(row.owner, values.get("title", row.title), row.id)))

    @staticmethod
    def _reorder(conn: Connection, table: Any, within: Any, moved: int, position: int) -> None:
        ids = [r.id for r in conn.execute(select(table.c.id).where(within).order_by(table.c.position, table.c.id))]
        ids.remove(moved)
        ids.insert(min(position, len(ids)), moved)
        for pos, ident in enumerate(ids):
            conn.execute(update(table).where(table.c.id == ident).values(position=pos))

    def delete(self, p: Principal | None, slug: str) -> None:
        with self.db.write() as conn:
            row = self._load(conn, p, slug)
            self._check_write(p, row.owner)
            conn.execute(delete(collection_items).where(collection_items.c.collection_id == row.id))
            conn.execute(delete(collections).where(collections.c.id == row.id))

    def add_item(self, p: Principal | None, slug: str, body: dict) -> dict:
        item = body.get("item")
        if not isinstance(item, dict) or item.get("type") not in ITEM_TYPES or not isinstance(item.get("id"), str) \
                or not 0 < len(item["id"]) <= 300:
            raise BadRequest(f"item must be {{id, type}} with type one of {', '.join(ITEM_TYPES)}")
        note = body.get("note")
        note = None if note is None else _text(note, "note", MAX_NOTE)
        kind, ident = item["type"], item["id"]
        with self.db.write() as conn:
            row = self._load(conn, p, slug)
            self._check_write(p, row.owner)
            repo_id = None
            if kind in ("model", "dataset", "space"):
                ns, _, name = ident.partition("/")
                if not name:
                    raise RepoNotFound()
                repo = self.hub.repos.for_read(p, kind, ns, name)  # a repo you cannot see is not found
                repo_id, key = repo.id, f"repo:{repo.id}"
            elif kind == "paper":
                if not _PAPER.match(ident):
                    raise BadRequest("A paper is named by its arXiv id, like 2307.09288")
                key = f"paper:{ident}"
            else:
                other = self._load(conn, p, ident)
                key = f"collection:{slug_of(other.owner, other.title, other.id)}"
                if other.id == row.id:
                    raise BadRequest("A collection cannot contain itself")
            count = conn.execute(select(func.count()).select_from(collection_items)
                                 .where(collection_items.c.collection_id == row.id)).scalar_one()
            if count >= MAX_ITEMS:
                raise BadRequest(f"A collection holds at most {MAX_ITEMS} items")
            try:
                with conn.begin_nested():
                    conn.execute(insert(collection_items).values(
                        collection_id=row.id, item_type=kind, repo_id=repo_id,
                        item_key=key,
                        position=count, note=note, created_at=time.time()))
            except IntegrityError:
                raise Conflict("This item is already in the collection") from None
            conn.execute(update(collections).where(collections.c.id == row.id).values(updated_at=time.time()))
            return self._json(conn, p, row)

    def _own_item(self, conn: Connection, p: Principal | None, slug: str, item_object_id: str) -> tuple[Any, int]:
        row = self._load(conn, p, slug)
        self._check_write(p, row.owner)
        if len(item_object_id) != 24 or any(c not in "0123456789abcdef" for c in item_object_id):
            raise NotFound("Item not found in collection")
        item_id = int(item_object_id, 16)
        found = conn.execute(select(collection_items.c.id).where(
            (collection_items.c.id == item_id) & (collection_items.c.collection_id == row.id))).scalar()
        if found is None:
            raise NotFound("Item not found in collection")
        return row, item_id

    def update_item(self, p: Principal | None, slug: str, item_object_id: str, body: dict) -> None:
        note, position = body.get("note"), body.get("position")
        note = None if note is None else _text(note, "note", MAX_NOTE)
        if position is not None and (not isinstance(position, int) or isinstance(position, bool) or position < 0):
            raise BadRequest("position must be a non-negative integer")
        with self.db.write() as conn:
            row, item_id = self._own_item(conn, p, slug, item_object_id)
            if note is not None:
                conn.execute(update(collection_items).where(collection_items.c.id == item_id).values(note=note or None))
            if position is not None:
                self._reorder(conn, collection_items, collection_items.c.collection_id == row.id, item_id, position)
            conn.execute(update(collections).where(collections.c.id == row.id).values(updated_at=time.time()))

    def delete_item(self, p: Principal | None, slug: str, item_object_id: str) -> None:
        with self.db.write() as conn:
            row, item_id = self._own_item(conn, p, slug, item_object_id)
            conn.execute(delete(collection_items).where(collection_items.c.id == item_id))
            conn.execute(update(collections).where(collections.c.id == row.id).values(updated_at=time.time()))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
