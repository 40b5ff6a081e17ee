"""SQLAlchemy Core tables. Refs are the only mutable pointers into immutable content."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(96), nullable=False, unique=True),
    Column("kind", String(8), nullable=False),  # "user" | "org"
    Column("fullname", String(256), nullable=False, default=""),
    Column("email", String(256)),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False, server_default=false()),  # no sign-in, no token
    # an org's new repos are private unless the creator says otherwise
    Column("private_by_default", Boolean, nullable=False, default=False, server_default=false()),
    sqlite_autoincrement=True,  # ids are never reused (invariant 7)
)

memberships = Table(
    "memberships",
    metadata,
    Column("org_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), nullable=False),  # read | contributor | write | admin
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("role", String(8), nullable=False),  # read | write (a fine-grained token: read + its scopes)
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("scopes", JSON),  # fine-grained: {"global": [...], "scoped": [{"entity": {"type", "id"}, ...}]}
    Column("expires_at", Float),
    Column("last_used_at", Float),
    sqlite_autoincrement=True,
)

repos = Table(
    "repos",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("type", String(8), nullable=False),  # model | dataset | space
    Column("namespace", String(96), nullable=False),
    Column("name", String(96), nullable=False),
    Column("private", Boolean, nullable=False, default=False),
    Column("gated", String(8), nullable=False, default=""),  # "" | auto | manual
    Column("sdk", String(32)),
    Column("created_at", Float, nullable=False),
    Column("last_modified", Float, nullable=False),
    Column("head_sha", String(40)),  # main's commit, denormalised for listings
    Column("next_discussion", Integer, nullable=False, default=1),
    # Listing columns, kept current by the commit path, the derive job and the counters.
    Column("search_id", String(200), nullable=False, default=""),  # lower("namespace/name")
    Column("downloads", BigInteger, nullable=False, default=0),  # last 30 days
    Column("downloads_all_time", BigInteger, nullable=False, default=0),
    Column("likes", Integer, nullable=False, default=0),
    Column("trending_score", Float, nullable=False, default=0),
    Column("pipeline_tag", String(64)),
    Column("library_name", String(64)),
    Column("used_storage", BigInteger, nullable=False, default=0),
    Column("derived_sha", String(40)),  # the commit the derived metadata describes
    # who created it: an org's contributors write only to the repos they created
    Column("created_by", Integer, ForeignKey("accounts.id", ondelete="SET NULL", name="fk_repos_created_by")),
    UniqueConstraint("type", "namespace", "name", name="uq_repo_type_ns_name"),
    sqlite_autoincrement=True,  # a deleted repo's id is never given to a new one: grants name repos by id
)
# Repo ids are unique and looked up case-insensitively, as on the Hub.
Index("ux_repos_lookup", repos.c.search_id, repos.c.type, unique=True)
# One index per sort key for the public listing (private in the key: the sample scan needs no row
# lookup), and one per sort key within a namespace (author listings of any size).
for _col in ("created_at", "last_modified", "downloads", "likes", "trending_score"):
    Index(f"ix_repos_list_{_col}", repos.c.type, repos.c.private, repos.c[_col], repos.c.id)
    Index(f"ix_repos_author_{_col}", repos.c.namespace, repos.c.type, repos.c[_col], repos.c.id)

# The ids a repo had before it was moved: they keep leading to it until a new repo takes the name.
repo_redirects = Table(
    "repo_redirects",
    metadata,
    Column("type", String(8), primary_key=True),
    Column("search_id", String(200), primary_key=True),  # lower("namespace/name") of the old id
    Column("repo_id", Integer, ForeignKey("repos.id", ondelete="CASCADE"), nullable=False),
)

# Derived metadata too large or too rarely asked for to sit in the listing row.
repo_meta = Table(
    "repo_meta",
    metadata,
    Column("repo_id", Integer, ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True),
    Column("card_data", JSON),
    Column("tags", JSON, nullable=False, default=list),
    Column("config", JSON),
    Column("transformers_info", JSON),
    Column("safetensors", JSON),
    Column("error", Text),
    # The derived part of the repo's listing item as JSON members ("tags":[...],...), written with the rest
    # of this row: a listing page splices it in instead of decoding and re-encoding the tags.
    Column("listing", Text),
)

# One row: a number every change to the listed tables bumps (triggers, see db/generation.py). Cached
# listing pages are keyed by it, so one read of it per request tells every replica whether a page is current.
catalog_state = Table(
    "catalog_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("generation", BigInteger, nullable=False, default=0),
)

# One row: a number every change deciding who may read what bumps (triggers, see db/generation.py). Principals
# and access decisions of hot reads are cached under it; one read of it per request keeps every replica right.
access_state = Table(
    "access_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("generation", BigInteger, nullable=False, default=0),
)

# Evaluation metrics named in model cards' model-index, for /api/metrics.
repo_metrics = Table(
    "repo_metrics",
    metadata,
    Column("repo_id", Integer, ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True),
    Column("metric", String(128), primary_key=True),
)

likes = Table(
    "likes",
    metadata,
    Column("user_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("repo_id", Integer, ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", Float, nullable=False),
)
Index("ix_likes_repo", likes.c.repo_id, likes.c.created_at)

downloads_daily = Table(
    "downloads_daily",
    metadata,
    Column("repo_id", Integer, ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True),
    Column("day", Integer, primary_key=True),  # days since the epoch, UTC
    Column("count", BigInteger, nullable=False),
)

# The durable job queue: derived metadata, counters, parquet export. A job is claimed by one worker
# at a time (locked_until), retried with back-off, and its last error kept for the operator.
jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("repo_id", Integer),
    Column("payload", JSON, nullable=False, default=dict),
    Column("state", String(8), nullable=False),  # queued | running | done | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("run_after", Float, nullable=False),
    Column("locked_until", Float),
    Column("last_error", Text),
    Column("created_at", Float, nullable=False),
    Column("finished_at", Float),
)
Index("ix_jobs_ready", jobs.c.state, jobs.c.run_after)

refs = Table(
    "refs",
    metadata,
    Column("repo_id", Integer, ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(255), primary_key=True),  # refs/heads/main, refs/tags/v1, refs/pr/1
    Column("target", String(40), nullable=False),
)

# Every commit that was ever the target of one of a repo's refs, or an ancestor of one. Lets a request by
# (short) sha be answered without walking history, and keeps one repo from reading another's commits.
repo_commits = Table(
    "repo_commits",
    metadata,
    Column("repo_id", Integer, ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True),
    Column("sha", String(40), primary_key=True),
)

# Large objects (LFS sha256) a repo may reference: linked when uploaded for that repo, so knowing an
# object's sha256 never grants access to content uploaded to another repo. xet_hash is set when the
# bytes live in Xet storage rather than as one LFS blob.
repo_objects = Table(
    "repo_objects",
    metadata,
    Column("repo_id", Integer, ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True),
    Column("oid", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("xet_hash", String(64)),
)

# Global dedup: chunks eligible for the client's dedup query (first chunk of a file, or hash % 1024 == 0),
# each mapped to a xorb holding it and a file it belongs to (whose other xorbs the answer lists too).
xet_chunks = Table(
    "xet_chunks",
    metadata,
    Column("chunk", String(64), primary_key=True),
    Column("xorb", String(64), nullable=False),
    Column("file", String(64)),
)

# The parquet export of each dataset (refs/convert/parquet): what it was made from, and its configs,
# splits, shards and features; or why it failed.
parquet_exports = Table(
    "parquet_exports",
    metadata,
    Column("repo_id", Integer, ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True),
    Column("source_sha", String(40), nullable=False),
    Column("export_sha", String(40)),
    Column("state", String(8), nullable=False),  # ok | failed
    Column("error", Text),
    Column("info", JSON, nullable=False, default=dict),
    Column("updated_at", Float, nullable=False),
)

# Tags derived from the default branch's content (README card for now), for listing filters. Each row carries
# its repo's type, visibility and sort keys (copies kept by triggers, db/tagsort.py), so that a listing by tag
# in any order is one keyset scan of (tag, type, private, sort key, id) returning the page, however many repos
# have the tag. The server defaults only stand until the insert trigger has copied the repo's values.
repo_tags = Table(
    "repo_tags",
    metadata,
    Column("repo_id", Integer, ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", String(255), primary_key=True),
    Column("type", String(8), nullable=False, server_default=""),
    Column("private", Boolean, nullable=False, server_default=false()),
    Column("created_at", Float, nullable=False, server_default="0"),
    Column("last_modified", Float, nullable=False, server_default="0"),
    Column("downloads", BigInteger, nullable=False, server_default="0"),
    Column("likes", Integer, nullable=False, server_default="0"),
    Column("trending_score", Float, nullable=False, server_default="0"),
)
for _col in ("created_at", "last_modified", "downloads", "likes", "trending_score"):
    Index(f"ix_repo_tags_{_col}", repo_tags.c.tag, repo_tags.c.type, repo_tags.c.private, repo_tags.c[_col],
          repo_tags.c.repo_id)

discussions = Table(
    "discussions",
    metadata,
    Column("repo_id", Integer, ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True),
    Column("num", Integer, primary_key=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("author_id", Integer, ForeignKey("accounts.id", ondelete="SET NULL")),
    Column("is_pull_request", Boolean, nullable=False),
    Column("status", String(8), nullable=False),  # open | closed | merged | draft
    Column("created_at", Float, nullable=False),
    Column("base_ref", String(255)),
    Column("events", JSON, nullable=False, default=list),  # unused since 0007: events are rows of their own
    Column("merge_commit", String(40)),  # the commit a merged pull request left on its base branch
)

# What happened in a discussion, one row per event (comment, status-change, title-change, commit), so that
# concurrent comments never rewrite one another. `id` is the Hub's 24-hex event id.
discussion_events = Table(
    "discussion_events",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("repo_id", Integer, ForeignKey("repos.id", ondelete="CASCADE"), nullable=False),
    Column("num", Integer, nullable=False),
    Column("type", String(16), nullable=False),
    Column("author_id", Integer, ForeignKey("accounts.id", ondelete="SET NULL")),
    Column("created_at", Float, nullable=False),
    Column("data", JSON, nullable=False),
)
Index("ix_discussion_events_num", discussion_events.c.repo_id, discussion_events.c.num, discussion_events.c.created_at)

# Requests for access to gated repos: pending, accepted (the user downloads) or rejected.
access_requests = Table(
    "access_requests",
    metadata,
    Column("repo_id", Integer, ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("request_id", String(24), nullable=False, unique=True),
    Column("status", String(8), nullable=False),  # pending | accepted | rejected
    Column("fields", JSON),  # the answers to the card's extra_gated_fields
    Column("rejection_reason", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
Index("ix_access_requests_status", access_requests.c.repo_id, access_requests.c.status, access_requests.c.created_at)

hub_meta = Table(
    "hub_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# --- web sign-in (migration 0009) ---------------------------------------------------------------------------
account_passwords = Table(
    "account_passwords",
    metadata,
    Column("user_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("hash", String(256), nullable=False),  # argon2id, parameters in the string
    Column("updated_at", Float, nullable=False),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 of the cookie's secret: a stolen table signs nobody in
    Column("user_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

invitations = Table(
    "invitations",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("created_by", Integer, ForeignKey("accounts.id", ondelete="SET NULL")),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_by", Integer, ForeignKey("accounts.id", ondelete="SET NULL")),
)

oidc_identities = Table(
    "oidc_identities",
    metadata,
    Column("issuer", String(255), primary_key=True),
    Column("subject", String(255), primary_key=True),
    Column("user_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
)

login_attempts = Table(
    "login_attempts",
    metadata,
    Column("key", String(200), primary_key=True),  # "user:<name>" or "addr:<ip>"
    Column("window_start", Float, nullable=False),
    Column("failures", Integer, nullable=False),
)

# --- pull-through mirror of an upstream hub (hubd.mirror) ---------------------------------------------------
# Repos copied from the upstream: their `repos` row, refs and git objects are the upstream's (commit ids
# included); this row says so, and when the repo's refs and info were last asked of the upstream.
mirror_repos = Table(
    "mirror_repos",
    metadata,
    Column("repo_id", Integer, ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True),
    Column("upstream", String(255), nullable=False),
    Column("synced_at", Float, nullable=False),
    Column("last_used", Float, nullable=False),
)

# Large objects filled from the upstream into the blob store: their size and last use, for LRU eviction.
mirror_objects = Table(
    "mirror_objects",
    metadata,
    Column("oid", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("filled_at", Float, nullable=False),
    Column("last_used", Float, nullable=False),
)
Index("ix_mirror_objects_lru", mirror_objects.c.last_used)

# Snapshots kept through gc and eviction: one commit of a mirrored repo, prefetched whole.
mirror_pins = Table(
    "mirror_pins",
    metadata,
    Column("repo_id", Integer, ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True),
    Column("sha", String(40), primary_key=True),
    Column("revision", String(255), nullable=False),
    Column("pinned_at", Float, nullable=False),
)

# A user's own token on the upstream hub, sent upstream for that user's reads (gating stays per person).
upstream_tokens = Table(
    "upstream_tokens",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("token", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

from hubd.db import schema_social  # noqa: E402,F401 - its tables join this metadata
