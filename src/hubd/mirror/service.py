"""The mirror's domain: finding (and first copying) mirrored repos, authorizing reads through the upstream,
resolving revisions with a TTL, and filling large objects.

Design (see docs/decisions.md, 2026-11-29 — mirror):
- A mirrored repo is a row of `repos` (plus `mirror_repos`) whose refs point at the upstream's commits,
  fetched with git's protocol at depth 1, so every existing read path (info, tree, paths-info, resolve,
  raw) serves it unchanged and commit ids, blob ids and ETags are the upstream's.
- Large objects are filled on first read through the upstream's LFS batch API (keyed by sha256, no path
  or commit needed), verified, stored once under their LFS key and linked to the mirrored repo.
- Authorization is the upstream's: a private or gated upstream repo is readable here by a user only when
  the upstream says that user's token may (the answer cached per token and repo for the TTL); the bytes are
  cached once for everyone who is allowed."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import httpx
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hubd.db.schema import mirror_objects, mirror_repos, repo_commits, repos, upstream_tokens
from hubd.hub.access import Principal
from hubd.hub.browse import PathEntry
from hubd.hub.errors import EntryNotFound, Forbidden, HubError, RepoNotFound, RevisionNotFound
from hubd.hub.models import Repo
from hubd.hub.refs import MAIN, RefConflict, cas_ref, record_commit, ref_candidates
from hubd.mirror.errors import UpstreamUnavailable
from hubd.mirror.fill import Fill, Filler
from hubd.mirror.gitfetch import fetch_commit
from hubd.mirror.rules import MirrorRules
from hubd.mirror.tokenbox import FERNET_PREFIX, TokenBox
from hubd.mirror.upstream import PLURAL, PREFIX, Upstream, _error, parse_json, read_capped
from hubd.storage.blobstore import BlobNotFound, lfs_key

log = logging.getLogger("hubd.mirror")
_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
_SHORT_SHA = re.compile(r"^[0-9a-f]{5,39}$")
TOUCH_EVERY = 60.0  # seconds between two writes of an object's or repo's last use (LRU needs no precision)
SMALL_RANGE = 1024 * 1024  # ranges up to this size of an uncached object are read upstream, not filled
# An upstream that ignores a Range sends the object from its first byte: hubd skips up to this much to reach
# the range, and refuses further (a header read near the end of a 10 GB file is not worth 10 GB of transfer)
MAX_SKIP = 64 * 1024 * 1024
MAX_BATCH_JSON = 1024 * 1024  # the LFS batch answer for one object


class Mirror:
    def __init__(self, hub: Any) -> None:
        settings = hub.settings
        self.hub = hub
        self.upstream = Upstream(settings.upstream_url)
        self.service_token = settings.upstream_token or None
        self.rules = MirrorRules(settings.mirror)
        self.ttl = settings.upstream_ttl
        self.cache_limit = settings.mirror_cache_mib * 1024 * 1024
        self.box = TokenBox(settings.upstream_token_keys)
        if self.box.configured:
            self.rotate_tokens(legacy_only=True)  # tokens linked before encryption are sealed now
        self.filler = Filler(os.path.join(os.path.abspath(settings.data_dir), "mirror-fills"))
        self._lock = threading.Lock()
        self._mirrored: dict[int, bool] = {}  # ids are never reused: what a repo id is never changes
        self._revs: dict[tuple[int, str], tuple[float, str]] = {}  # (repo, revision) → (when, commit)
        self._auth: dict[tuple[str, int, bool], tuple[float, HubError | None]] = {}
        self._tokens: dict[int, str | None] = {}  # repo → the token that last proved access to it
        self._touched: dict[str, float] = {}
        from hubd.mirror.listing import MirroredListings
        from hubd.mirror.xetfill import XetMirror

        self.listings = MirroredListings(self)
        self.xet = XetMirror(self)

    # --- which repos ------------------------------------------------------------------------------------
    def is_mirrored(self, repo_id: int) -> bool:
        known = self._mirrored.get(repo_id)
        if known is None:
            with self.hub.db.read() as conn:
                known = conn.execute(select(mirror_repos.c.repo_id).where(
                    mirror_repos.c.repo_id == repo_id)).first() is not None
            self._mirrored[repo_id] = known
        return known

    def check_create(self, repo_type: str, namespace: str, name: str) -> None:
        """A local repo may not be created where the mirror serves the upstream's: in a namespace an explicit
        `--mirror` rule covers, or over a mirrored copy of the same id."""
        existing = self.hub.repos.find(repo_type, namespace, name)
        if (self.rules.explicit and self.rules.covers(repo_type, namespace, name)) or (
                existing is not None and self.is_mirrored(existing.id)):
            raise Forbidden(f"{PREFIX[repo_type]}{namespace}/{name} is mirrored from {self.upstream.url}: "
                            "repos cannot be created there")

    def lookup(self, p: Principal | None, repo_type: str, namespace: str, name: str, download: bool) -> Repo | None:
        """The mirrored repo, authorized for `p`; None when the id is a local repo's (a local repo always
        wins) or outside the mirror's rules."""
        if repo_type not in PLURAL:
            return None  # kernels and any type the Hub's API does not list: not mirrored
        repo = self.hub.repos.find(repo_type, namespace, name)
        if repo is not None and not self.is_mirrored(repo.id):
            return None
        if repo is None:
            if not self.rules.covers(repo_type, namespace, name):
                return None
            repo = self._materialize(self.token_for(p), repo_type, namespace, name)
        self._authorize(p, repo, download)
        self._touch_repo(repo.id)
        return repo

    def refuse_write(self, repo: Repo) -> None:
        if self.is_mirrored(repo.id):
            raise Forbidden(f"{repo.repo_id} is a read-only mirror of {self.upstream.url}")

    # --- tokens -----------------------------------------------------------------------------------------
    def token_for(self, p: Principal | None) -> str | None:
        """The user's own upstream token when linked, else the configured service token; anonymous callers
        go upstream anonymously (never under a shared identity)."""
        if p is None:
            return None
        with self.hub.db.read() as conn:
            sealed = conn.execute(select(upstream_tokens.c.token).where(
                upstream_tokens.c.account_id == p.user_id)).scalar()
        own = self.box.open(sealed) if sealed else None
        return own or self.service_token

    def link_token(self, p: Principal, token: str | None) -> None:
        sealed = self.box.seal(token) if token else None  # encrypted before anything is written
        with self.hub.db.write() as conn:
            conn.execute(upstream_tokens.delete().where(upstream_tokens.c.account_id == p.user_id))
            if sealed:
                conn.execute(insert(upstream_tokens).values(account_id=p.user_id, token=sealed,
                                                            created_at=time.time()))
        with self._lock:
            self._auth.clear()  # answers for the old token no longer describe this user

    def rotate_tokens(self, legacy_only: bool = False) -> int:
        """Every stored token re-encrypted under the first configured key (plaintext ones from before
        encryption sealed too); with `legacy_only`, only those. Returns how many rows changed."""
        with self.hub.db.read() as conn:
            rows = conn.execute(select(upstream_tokens.c.account_id, upstream_tokens.c.token)).all()
        changed = 0
        for row in rows:
            if legacy_only and row.token.startswith(FERNET_PREFIX):
                continue
            sealed = self.box.rotate(row.token)
            with self.hub.db.write() as conn:  # compare-and-swap: a token linked meanwhile is kept
                changed += conn.execute(update(upstream_tokens).where(
                    (upstream_tokens.c.account_id == row.account_id) & (upstream_tokens.c.token == row.token))
                    .values(token=sealed)).rowcount or 0
        return changed

    def has_token(self, p: Principal) -> bool:
        with self.hub.db.read() as conn:
            return conn.execute(select(upstream_tokens.c.account_id).where(
                upstream_tokens.c.account_id == p.user_id)).first() is not None

    # --- first copy and authorization ---------------------------------------------------------------------
    def system_repo(self, repo_type: str, namespace: str, name: str) -> Repo:
        """The mirrored repo as the operator's commands see it (pin): read with the service token."""
        repo = self.hub.repos.find(repo_type, namespace, name)
        if repo is not None and not self.is_mirrored(repo.id):
            raise Forbidden(f"{namespace}/{name} is a local repo, not a mirrored one")
        if repo is None:
            repo = self._materialize(self.service_token, repo_type, namespace, name)
        self._tokens[repo.id] = self.service_token
        return repo

    def _materialize(self, token: str | None, repo_type: str, namespace: str, name: str) -> Repo:
        info = self.upstream.repo_info(repo_type, f"{namespace}/{name}", None, token)
        upstream_id: str = info["id"] if isinstance(info.get("id"), str) else f"{namespace}/{name}"
        ns, _, nm = upstream_id.partition("/")
        if not nm or "/" in nm:
            raise UpstreamUnavailable(f"The upstream answered an odd repo id {upstream_id!r}")
        existing = self.hub.repos.find(repo_type, ns, nm)
        if existing is not None:
            if not self.is_mirrored(existing.id):
                raise RepoNotFound()  # a local repo took the upstream's canonical spelling
            return existing
        sha = info["sha"]
        fetch_commit(self.hub.git, self.upstream.git_url(repo_type, upstream_id), sha, token)
        now = time.time()
        try:
            with self.hub.db.write() as conn:
                repo_id = int(conn.execute(insert(repos).values(
                    type=repo_type, namespace=ns, name=nm, private=bool(info.get("private")),
                    gated=_gated(info.get("gated")), sdk=info.get("sdk") if repo_type == "space" else None,
                    created_at=now, last_modified=now, head_sha=sha, next_discussion=1,
                    search_id=upstream_id.lower(), created_by=None)).inserted_primary_key[0])
                cas_ref(conn, repo_id, MAIN, None, sha)
                self._adopt(conn, repo_id, sha)
                conn.execute(insert(mirror_repos).values(repo_id=repo_id, upstream=self.upstream.url,
                                                         synced_at=now, last_used=now))
        except IntegrityError:
            # another request (or replica) copied it first: theirs is as good
            raced = self.hub.repos.find(repo_type, ns, nm)
            if raced is None or not self.is_mirrored(raced.id):
                raise RepoNotFound() from None
            return raced
        self._mirrored[repo_id] = True
        self._revs[(repo_id, "main")] = (now, sha)
        self._tokens[repo_id] = token
        repo = self.hub.repos.by_id(repo_id)
        assert repo is not None
        log.info("mirrored %s %s at %s", repo_type, upstream_id, sha)
        return repo

    def _authorize(self, p: Principal | None, repo: Repo, download: bool) -> None:
        if not repo.private and not (download and repo.gated):
            self._tokens.setdefault(repo.id, None)
            return  # public upstream content: the upstream answers everyone alike, no token needed
        token = self.token_for(p)
        key = (_token_id(token), repo.id, download)
        cached = self._auth.get(key)
        answer: HubError | None
        if cached is not None and time.time() - cached[0] < self.ttl:
            answer = cached[1]
        else:
            try:
                if download:
                    self.upstream.auth_check(repo.type, repo.repo_id, token)
                else:
                    self.upstream.repo_info(repo.type, repo.repo_id, None, token)
                answer = None
            except UpstreamUnavailable:
                if cached is None:
                    raise
                answer = cached[1]  # offline: the last answer the upstream gave for this token stands
            except HubError as exc:
                answer = exc
            self._auth[key] = (time.time(), answer)
        if answer is not None:
            if isinstance(answer, RepoNotFound):
                raise RepoNotFound()
            raise type(answer)(answer.message)
        self._tokens[repo.id] = token

    # --- revisions --------------------------------------------------------------------------------------
    def resolve(self, repo: Repo, rev: str, local: Any) -> str:
        """A revision of a mirrored repo → the upstream's commit. Commits are immutable (cached forever);
        names are asked of the upstream again after the TTL; offline, the last known answer is served."""
        if _FULL_SHA.match(rev):
            with self.hub.db.read() as conn:
                if conn.execute(select(repo_commits.c.sha).where(
                        (repo_commits.c.repo_id == repo.id) & (repo_commits.c.sha == rev))).first():
                    return rev
        else:
            cached = self._revs.get((repo.id, rev))
            if cached is not None and time.time() - cached[0] < self.ttl:
                return cached[1]
        token = self._tokens.get(repo.id)
        try:
            info = self.upstream.repo_info(repo.type, repo.repo_id, rev, token)
        except UpstreamUnavailable:
            try:
                return local(repo, rev)  # the last synced refs, with their commit ids
            except RevisionNotFound:
                raise UpstreamUnavailable(f"The upstream hub is unreachable and revision {rev!r} of "
                                          f"{repo.repo_id} is not cached") from None
        sha = info["sha"]
        if _FULL_SHA.match(rev) and sha != rev:
            raise RevisionNotFound(f"Invalid rev id: {rev}")
        fetch_commit(self.hub.git, self.upstream.git_url(repo.type, repo.repo_id), sha, token)
        self._record(repo, rev, sha, info)
        self._revs[(repo.id, rev)] = (time.time(), sha)
        return sha

    def _record(self, repo: Repo, rev: str, sha: str, info: dict) -> None:
        """The commit belongs to the repo; a name now points at it (as the upstream says)."""
        name = None if _FULL_SHA.match(rev) or _SHORT_SHA.match(rev) else ref_candidates(rev)[0]
        with self.hub.db.write() as conn:
            self._adopt(conn, repo.id, sha)
            conn.execute(update(repos).where(repos.c.id == repo.id).values(
                private=bool(info.get("private")), gated=_gated(info.get("gated"))))
            conn.execute(update(mirror_repos).where(mirror_repos.c.repo_id == repo.id).values(synced_at=time.time()))
            if name is not None:
                from hubd.db.schema import refs

                old = conn.execute(select(refs.c.target).where(
                    (refs.c.repo_id == repo.id) & (refs.c.name == name))).scalar()
                if old != sha:
                    with suppress(RefConflict):  # another request moved it to the upstream's answer too
                        cas_ref(conn, repo.id, name, old, sha)

    def _adopt(self, conn: Any, repo_id: int, sha: str) -> None:
        """The commit and its history belong to the repo (readable by sha, served by git): recorded down to
        the commits it already has. The objects are in the store whole (gitfetch fetches histories whole)."""
        try:
            near = [sha, *(p.decode() for p in self.hub.git.commit(sha).parents)]
        except BlobNotFound:
            near = [sha]
        if len(set(conn.execute(select(repo_commits.c.sha).where(
                (repo_commits.c.repo_id == repo_id) & repo_commits.c.sha.in_(near))).scalars())) == len(set(near)):
            return  # known with its parents (a ref move records the commit alone), so its history is too
        known = set(conn.execute(select(repo_commits.c.sha).where(repo_commits.c.repo_id == repo_id)).scalars())
        stack, new = [sha], set()
        while stack:
            c = stack.pop()
            if (c in known and c != sha) or c in new:
                continue
            new.add(c)
            try:
                stack.extend(p.decode() for p in self.hub.git.commit(c).parents)
            except BlobNotFound:
                continue  # a commit fetched shallow before histories came whole: its history stops there
        for c in new:
            record_commit(conn, repo_id, c)

    # --- large objects ------------------------------------------------------------------------------------
    def cached(self, repo_id: int, entry: PathEntry) -> bool:
        """Is this mirrored repo's large object filled (and linked to it)? A hit counts as a use (LRU)."""
        assert entry.lfs is not None
        if self.hub.objects.get(repo_id, entry.lfs.oid) is None:
            return False
        self.touch_object(entry.lfs.oid)
        return True

    def fill_now(self, repo_id: int, entry: PathEntry) -> Any:
        """Fill and wait until the object is verified and linked (for readers that need it whole)."""
        assert entry.lfs is not None
        repo = self.hub.repos.by_id(repo_id)
        assert repo is not None
        self.fill(repo, entry).wait_done()
        return self.hub.objects.get(repo_id, entry.lfs.oid)

    def fill(self, repo: Repo, entry: PathEntry) -> Fill:
        """The (shared) fill of this repo's large object: started now, or the one already running."""
        assert entry.lfs is not None
        oid, size = entry.lfs.oid, entry.lfs.size
        token = self._tokens.get(repo.id)

        def publish(path: str) -> None:
            blobs = self.hub.blobs
            if not blobs.exists(lfs_key(oid)):
                staged = blobs.stage(lfs_key(oid))
                try:
                    with open(path, "rb") as f:
                        while block := f.read(8 * 1024 * 1024):
                            staged.write(block)
                    staged.publish()
                except BaseException:
                    staged.abort()
                    raise
            self.hub.objects.link(repo.id, oid, size)
            now = time.time()
            with self.hub.db.write() as conn:
                if conn.execute(select(mirror_objects.c.oid).where(mirror_objects.c.oid == oid)).first() is None:
                    conn.execute(insert(mirror_objects).values(oid=oid, size=size, filled_at=now, last_used=now))
            self.evict()

        # keyed by repo and object: a fill proves that this repo's upstream holds the bytes (another repo
        # naming the same sha256 must prove it too, so knowing a hash never reads anything)
        return self.filler.get(f"{repo.id}:{oid}", oid, size, lambda: self._open_object(repo, oid, size, token),
                               publish)

    @contextmanager
    def _open_object(self, repo: Repo, oid: str, size: int, token: str | None,
                     byte_range: tuple[int, int] | None = None) -> Iterator[httpx.Response]:
        """A streaming GET of an object's bytes from the upstream, through its LFS batch API (keyed by
        sha256: no path or commit needed, and it works against hubd and the Hub alike)."""
        href, headers = self._download_action(repo, oid, size, token)
        if byte_range is not None:
            headers["Range"] = f"bytes={byte_range[0]}-{byte_range[1] - 1}"
        try:
            with self.upstream.client.stream("GET", href, headers=headers,
                                             timeout=httpx.Timeout(60.0, connect=3.0)) as resp:
                if resp.status_code not in (200, 206):
                    raise _error(resp, f"object {oid} of {repo.repo_id}")  # from the headers: no body read
                yield resp
        except httpx.HTTPError as exc:
            log.warning("upstream unreachable on object %s: %r", oid, exc)
            raise UpstreamUnavailable(f"The upstream hub is unreachable (object {oid})") from None

    def _download_action(self, repo: Repo, oid: str, size: int, token: str | None) -> tuple[str, dict[str, str]]:
        url = f"{self.upstream.url}/{PREFIX[repo.type]}{repo.repo_id}.git/info/lfs/objects/batch"
        headers = {"Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = {"operation": "download", "transfers": ["basic"], "objects": [{"oid": oid, "size": size}]}
        what = f"object {oid} of {repo.repo_id}"
        try:
            with self.upstream.client.stream("POST", url, json=body, headers=headers) as resp:
                if resp.status_code != 200:
                    raise _error(resp, what)
                answer = parse_json(read_capped(resp, MAX_BATCH_JSON, what), what)
        except httpx.HTTPError as exc:
            log.warning("upstream unreachable on batch of %s: %r", oid, exc)
            raise UpstreamUnavailable(f"The upstream hub is unreachable (object {oid})") from None
        try:
            item = answer["objects"][0]
            if "error" in item:
                raise EntryNotFound(f"The upstream has no object {oid}: {item['error'].get('message', '')}"[:300])
            action = item["actions"]["download"]
            href = str(action["href"])
            extra = {str(k): str(v) for k, v in (action.get("header") or {}).items()}
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            raise UpstreamUnavailable(f"The upstream's LFS answer for {oid} is malformed") from None
        return href, extra

    def read_range(self, repo_id: int, entry: PathEntry, start: int, end: int) -> Iterator[bytes]:
        """Bytes of an uncached object for hubd's own readers (metadata, viewer): a small range is read
        upstream without filling (a safetensors header should not pull a 10 GB file); more fills the cache."""
        assert entry.lfs is not None
        repo = self.hub.repos.by_id(repo_id)
        assert repo is not None
        if end - start <= SMALL_RANGE:
            with self._open_object(repo, entry.lfs.oid, entry.lfs.size, self._tokens.get(repo.id),
                                   (start, end)) as resp:
                yield _ranged_body(resp, start, end)
            return
        fill = self.fill(repo, entry)
        fill.wait_started()
        yield from fill.iter_range(start, end)

    def touch_object(self, oid: str) -> None:
        now = time.time()
        if now - self._touched.get(oid, 0) < TOUCH_EVERY:
            return
        self._touched[oid] = now
        with self.hub.db.write() as conn:
            conn.execute(update(mirror_objects).where(mirror_objects.c.oid == oid).values(last_used=now))

    def _touch_repo(self, repo_id: int) -> None:
        now = time.time()
        key = f"repo:{repo_id}"
        if now - self._touched.get(key, 0) < TOUCH_EVERY:
            return
        self._touched[key] = now
        with self.hub.db.write() as conn:
            conn.execute(update(mirror_repos).where(mirror_repos.c.repo_id == repo_id).values(last_used=now))

    # --- cache limits -----------------------------------------------------------------------------------
    def evict(self, limit: int | None = None) -> tuple[int, int]:
        """Drop least recently used, unpinned filled objects until the cache fits `limit` bytes (the
        configured `--mirror-cache-mib` by default; 0 = no limit). Returns (objects, bytes) dropped."""
        from hubd.mirror.cache import evict

        limit = self.cache_limit if limit is None else limit
        if not limit:
            return 0, 0
        return evict(self.hub, limit)


def _gated(value: object) -> str:
    return value if value in ("auto", "manual") else ""


def _token_id(token: str | None) -> str:
    return hashlib.sha256(token.encode()).hexdigest() if token else "anonymous"


def total_cached(hub: Any) -> int:
    with hub.db.read() as conn:
        return int(conn.execute(select(func.coalesce(func.sum(mirror_objects.c.size), 0))).scalar_one())


def _ranged_body(resp: httpx.Response, start: int, end: int) -> bytes:
    """Bytes [start, end) of an object from an answer to a Range request, read no further than `end`: a 206
    starts at `start`; a 200 (the range ignored) starts at 0 and is skipped, within MAX_SKIP, to `start`."""
    skip = start if resp.status_code == 200 else 0
    if skip > MAX_SKIP:
        raise UpstreamUnavailable("The upstream ignored a byte range far into an object")
    want, pos = end - start, 0
    data = bytearray()
    for chunk in resp.iter_bytes():
        if pos + len(chunk) > skip:
            data += chunk[max(0, skip - pos):]
        pos += len(chunk)
        if len(data) >= want:
            break
    return bytes(data[:want])

