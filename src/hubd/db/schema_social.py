"""Tables of issue 13 part B: collections, webhooks (watches and a delivery log), and the large objects a
repo's owner deleted on purpose. Registered on the one `metadata` (hubd.db.schema imports this module)."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from hubd.db.schema import metadata

collections = Table(
    "collections",
    metadata,
    Column("id", Integer, primary_key=True),  # its slug ends with this id in hex: ids are never reused
    Column("owner_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("title", String(256), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("private", Boolean, nullable=False, default=False),
    Column("theme", String(16), nullable=False, default="default"),
    Column("position", Integer, nullable=False, default=0),
    Column("upvotes", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    sqlite_autoincrement=True,
)
Index("ix_collections_owner", collections.c.owner_id, collections.c.position)

collection_items = Table(
    "collection_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("collection_id", Integer, ForeignKey("collections.id", ondelete="CASCADE"), nullable=False),
    Column("item_type", String(16), nullable=False),  # model | dataset | space | paper | collection
    # a repo item is held by id (it follows moves and goes with the repo); others by their own id
    Column("repo_id", Integer, ForeignKey("repos.id", ondelete="CASCADE")),
    Column("item_key", String(200), nullable=False),  # "repo:<id>" or the paper id / collection slug
    Column("position", Integer, nullable=False),
    Column("note", Text),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("collection_id", "item_key", name="uq_collection_item"),
    sqlite_autoincrement=True,
)
Index("ix_collection_items_repo", collection_items.c.repo_id)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("url", Text, nullable=False),
    Column("secret", String(256)),
    Column("domains", JSON, nullable=False),  # ["repo", "discussion"]
    Column("watched", JSON, nullable=False),  # [{"type": ..., "name": ...}] as the owner gave them
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    sqlite_autoincrement=True,
)

# What each webhook watches, one row per item, so an event finds its webhooks with one indexed query
# inside the transaction that moves the ref.
webhook_watches = Table(
    "webhook_watches",
    metadata,
    Column("webhook_id", Integer, ForeignKey("webhooks.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(8), primary_key=True),  # model | dataset | space | user | org
    Column("target", String(200), primary_key=True),  # lower(repo id) or lower(account name)
)
Index("ix_webhook_watches_target", webhook_watches.c.target, webhook_watches.c.kind)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("webhook_id", Integer, ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event", String(48), nullable=False),  # "<scope>.<action>", e.g. repo.content.update
    Column("payload", JSON, nullable=False),
    Column("state", String(8), nullable=False),  # queued | ok | failed | skipped
    Column("attempts", Integer, nullable=False, default=0),
    Column("status", Integer),  # the receiver's last HTTP status
    Column("error", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    sqlite_autoincrement=True,
)
Index("ix_webhook_deliveries_hook", webhook_deliveries.c.webhook_id, webhook_deliveries.c.id)

# Large objects a repo's writer deleted for good (permanently_delete_lfs_files): history may still name them,
# and fsck accepts a pointer to an unlinked object only when it is recorded here.
deleted_objects = Table(
    "deleted_objects",
    metadata,
    Column("repo_id", Integer, ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True),
    Column("oid", String(64), primary_key=True),
    Column("deleted_at", Float, nullable=False),
    Column("deleted_by", Integer, ForeignKey("accounts.id", ondelete="SET NULL")),
)
