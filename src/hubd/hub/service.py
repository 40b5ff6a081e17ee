"""The Hub: the composition root that builds the domain objects over one database and one blob store and
holds them as attributes. Handlers, jobs and the CLI call their methods; each is named for what it holds."""

from __future__ import annotations

from hubd.config import Settings
from hubd.db.engine import Database
from hubd.hub.accesscache import AccessCache
from hubd.hub.accounts import Accounts
from hubd.hub.branches import Branches
from hubd.hub.browse import Browser
from hubd.hub.catalog import Catalog
from hubd.hub.collections import Collections
from hubd.hub.committer import Committer
from hubd.hub.content import Content
from hubd.hub.counters import DownloadCounter, Likes
from hubd.hub.discussions import Discussions
from hubd.hub.gating import Gating
from hubd.hub.health import Health
from hubd.hub.history import HistoryTools
from hubd.hub.largeobjects import LargeObjectUploads
from hubd.hub.listing import Listings
from hubd.hub.listing_cache import PageCache
from hubd.hub.objectlinks import ObjectLinks
from hubd.hub.refs import Refs
from hubd.hub.repos import Repos
from hubd.hub.signin import SignIn
from hubd.hub.signing import Signer, load_signing_key
from hubd.hub.webhooks import Webhooks
from hubd.hub.xetcas import XetCas
from hubd.storage.blobstore import BlobStore, open_blobstore
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
        self.signing_key = load_signing_key(db)  # hub-wide, in the database: every replica signs alike
        self.signer = Signer(self.signing_key)
        self.signin = SignIn(db, self.accounts)  # passwords, sessions, sign-up and invitations (the web)
        self.browse = Browser(self.git)
        self.xet = XetStore(blobs, cache_bytes=settings.xet_cache_mib * 1024 * 1024)
        self.downloads = DownloadCounter(db)
        self.likes = Likes(db)
        self.catalog = Catalog(db)  # tags by type and metrics
        self.listings = Listings(db)
        # principals and download decisions of hot reads, valid while the access generation stands still
        self.access = AccessCache(db.access_generation, self.accounts)
        self.listing_pages = PageCache()  # whole listing pages by catalogue generation (api.listing)
        self.health = Health(db, blobs)
        self.objects = ObjectLinks(db)  # which large objects each repo links
        self.uploads = LargeObjectUploads(self)  # large objects arriving: single, multipart, direct to storage
        self.repos = Repos(self)  # finding repos, the access rules, create/duplicate/move/settings/delete
        self.content = Content(self)  # a file's bytes wherever kept, cards, how stored bytes are sent
        self.committer = Committer(self)
        self.branches = Branches(self)  # branches and tags
        self.history = HistoryTools(self)  # super-squash, listing and permanently deleting LFS files
        self.cas = XetCas(self)  # the Xet CAS as served: xorbs, shards, files through a repo's links
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


def open_hub(settings: Settings) -> Hub:
    """The hub of these settings, its schema brought up to date. Here rather than in app.py: the CLI opens hubs
    too, and importing the app (every route, the viewer's pyarrow and DuckDB) cost each command ~1.6 s."""
    db = Database(settings.db_url)
    db.create_schema()
    return Hub(settings, db, open_blobstore(settings.blob_url))

