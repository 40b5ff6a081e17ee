"""The Hub: the composition root that builds the domain objects over one database and one blob store and
holds them as attributes. Handlers, jobs and the CLI call their methods; each is named for what it holds."""

from __future__ import annotations

from hubd.config import Settings
from hubd.db.engine import Database
from hubd.hub.accesscache import AccessCache
from hubd.hub.accounts import Accounts
from hubd.hub.branches import Branches
from hubd.hub.browse import Browser
from hubd.hub.collections import Collections
from hubd.hub.committer import Committer
from hubd.hub.content import Content
from hubd.hub.counters import DownloadCounter
from hubd.hub.discussions import Discussions
from hubd.hub.gating import Gating
from hubd.hub.listing_cache import PageCache
from hubd.hub.models import Repo
from hubd.hub.objectlinks import LinkedObject, ObjectLinks
from hubd.hub.refs import Refs
from hubd.hub.repos import Repos
from hubd.hub.signing import Signer, load_signing_key
from hubd.hub.webhooks import Webhooks
from hubd.storage.blobstore import BlobStore
from hubd.storage.gitstore import GitStore
from hubd.xet.store import XetStore


class Hub:
    def __init__(self, settings: Settings, db: Database, blobs: BlobStore) -> None:
        self.settings = settings
        self.db = db  # for the domain objects, jobs and tools: handlers go through the objects below
        self.blobs = blobs
        self.git = GitStore(blobs)
        self.refs = Refs(db)  # reading refs and moving them by compare-and-swap
        self.accounts = Accounts(db)
        self.signer = Signer(load_signing_key(db))
        self.browse = Browser(self.git)
        self.xet = XetStore(blobs, cache_bytes=settings.xet_cache_mib * 1024 * 1024)
        self.downloads = DownloadCounter(db)
        # principals and download decisions of hot reads, valid while the access generation stands still
        self.access = AccessCache(db.access_generation, self.accounts)
        self.listing_pages = PageCache()  # whole listing pages by catalogue generation (api.listing)
        self.objects = ObjectLinks(db)  # which large objects each repo links
        self.repos = Repos(self)  # finding repos, the access rules, create/duplicate/move/settings/delete
        self.content = Content(self)  # a file's bytes wherever kept, cards, how stored bytes are sent
        self.committer = Committer(self)
        self.branches = Branches(self)  # branches and tags
        self.webhooks = Webhooks(self)
        self.collections = Collections(self)
        self.discussions = Discussions(self)
        self.gating = Gating(self)
        self.mirror = None  # a pull-through mirror of an upstream hub (hubd.mirror), when one is configured
        if settings.upstream_url:
            from hubd.mirror.refs import MirrorRefs
            from hubd.mirror.service import Mirror

            self.mirror = Mirror(self)
            self.refs = MirrorRefs(db, self.mirror)

    # Three names kept for hub/fsck.py and mirror/xetfill.py, which another change is rewriting; they go
    # when those call hub.objects and hub.repos.
    def repo_by_id(self, repo_id: int) -> Repo | None:
        return self.repos.by_id(repo_id)

    def object_of(self, repo_id: int, oid: str) -> LinkedObject | None:
        return self.objects.get(repo_id, oid)

    def link_object(self, repo_id: int, oid: str, size: int, xet_hash: str | None = None) -> None:
        self.objects.link(repo_id, oid, size, xet_hash)
