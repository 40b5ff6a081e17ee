"""Xet through the mirror: mirrored Xet files are served to Xet clients by hubd's own CAS, filled from the
upstream's CAS (its reconstruction and xorb byte ranges), never re-chunked and never through plain HTTP.

- What the upstream keeps in Xet is learned per LFS object (its sha256) from the upstream's paths-info, and
  kept as a hint in the blob store (`mirror/xet-hash/…` and the reverse `mirror/xet-file/…`): shared by
  replicas, and answered offline. A hint only says what to advertise; nothing is served on its word.
- A fill asks the upstream for the file's reconstruction with the repo's upstream identity (so the upstream
  decides that this repo holds the file), then fetches the byte ranges it grants: each range is a run of
  whole chunk records of one upstream xorb, stored here as a xorb of its own (named by the hash of its
  chunks, as every stored xorb is). `mirror/xorb-range/<upstream xorb>/<first>-<end>` maps the upstream's
  chunks to it, so a later file naming chunks already fetched (an edited file, a dataset's new revision)
  costs no upstream traffic for them.
- Streaming while filling: a reconstruction of a Range fills only the upstream terms that Range needs (hf_xet
  asks for a large file a segment at a time), and is answered from a draft of the file whose other terms are
  never read. The file becomes visible (its reconstruction stored, linked to the repo with its sha256) only
  once every term is here, its chunks hash to the upstream's Xet hash and its bytes to the pointer's sha256
  and size; until then each segment is the upstream's bytes as its own CAS described them.
- Concurrent requests for one file take turns (per process): a term is fetched once."""

from __future__ import annotations

import json
import logging
import re
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import insert, select

from hubd.db.schema import mirror_objects, repo_objects
from hubd.hub.errors import EntryNotFound, HubError
from hubd.hub.models import Repo
from hubd.mirror.errors import UpstreamUnavailable
from hubd.mirror.upstream import PLURAL, _error, read_capped
from hubd.storage.blobstore import BlobNotFound
from hubd.xet.fileterms import TermsBuilder
from hubd.xet.hashing import MerkleBuilder, file_hash_of, xet_hex, xet_unhex, xorb_hash
from hubd.xet.store import XetFile, xorb_key
from hubd.xet.xorb import XorbParser

log = logging.getLogger("hubd.mirror")
NO_XET = "-"  # the hint of an object the upstream does not keep in Xet
MAX_RECONSTRUCTION_JSON = 64 * 1024 * 1024
MAX_PATHS_INFO = 1024 * 1024  # the paths-info answer for one path
MAX_RANGE_BYTES = 64 * 1024 * 1024 + 1024 * 1024  # one upstream xorb at most
PLAN_TTL = 1800.0  # seconds an upstream reconstruction is reused (its fetch URLs are signed for an hour)
MAX_PLANS = 64
_RANGE = re.compile(r"^bytes=(\d{1,15})-(\d{0,15})$")


@dataclass
class _Plan:
    at: float
    terms: list[tuple[str, int, int, int]]  # upstream xorb, first chunk, end chunk, unpacked bytes
    fetch: dict[str, list[tuple[int, int, str, int, int]]]  # xorb → (chunks, url, first byte, last byte)


def _byte_range(header: str | None, size: int) -> tuple[int, int]:
    """[first, end) of a reconstruction's Range; the whole file without one (or with one the CAS handler
    will refuse anyway)."""
    m = _RANGE.match(header.strip()) if header else None
    if m is None:
        return 0, size
    first = int(m.group(1))
    end = min(int(m.group(2)) + 1, size) if m.group(2) else size
    return (first, end) if first < end else (0, size)


def _hash_hint_key(oid: str) -> str:
    return f"mirror/xet-hash/{oid[:2]}/{oid}"


def _file_hint_key(xet_hash: str) -> str:
    return f"mirror/xet-file/{xet_hash[:2]}/{xet_hash}"


def _range_prefix(upstream_xorb: str) -> str:
    return f"mirror/xorb-range/{upstream_xorb[:2]}/{upstream_xorb}/"


class XetMirror:
    def __init__(self, mirror: Any) -> None:
        self.mirror = mirror
        self.hub = mirror.hub
        self._hints: dict[str, str] = {}  # oid → xet hash or NO_XET (immutable: what an object is never changes)
        self._locks: dict[tuple[int, str], threading.Lock] = {}
        self._lock = threading.Lock()
        self._plans: dict[tuple[int, str], _Plan] = {}
        self._ranges: dict[str, list[tuple[int, int, str]]] = {}  # upstream xorb → its chunk ranges stored here

    # --- hints ------------------------------------------------------------------------------------------
    def xet_hash(self, repo: Repo, sha: str, path: str, oid: str, size: int) -> str | None:
        """The upstream's Xet hash of this LFS object, or None when it keeps it as plain LFS (or is offline
        and never said)."""
        hint = self._hints.get(oid)
        if hint is None:
            try:
                hint = self.hub.blobs.read(_hash_hint_key(oid)).decode()
            except BlobNotFound:
                hint = self._ask(repo, sha, path, oid, size)
            if hint is not None:
                self._hints[oid] = hint
        return None if hint in (None, NO_XET) else hint

    def _ask(self, repo: Repo, sha: str, path: str, oid: str, size: int) -> str | None:
        up = self.mirror.upstream
        url = f"{up.url}/api/{PLURAL[repo.type]}/{repo.repo_id}/paths-info/{sha}"
        try:
            with up.client.stream("POST", url, data={"paths": [path]},
                                  headers=up._headers(self.mirror._tokens.get(repo.id))) as resp:
                if resp.status_code != 200:
                    return None
                body = read_capped(resp, MAX_PATHS_INFO, f"paths-info of {path}")
        except (httpx.HTTPError, UpstreamUnavailable):
            return None  # offline (or an answer too large to be one path's): plain HTTP from the cache
        try:
            items = json.loads(body)
            item = next(i for i in items if isinstance(i, dict) and i.get("path") == path)
            lfs = item.get("lfs") or {}
            if lfs.get("oid") != oid:
                return None
            xet = item.get("xetHash")
        except (ValueError, StopIteration, AttributeError):
            return None
        if not (isinstance(xet, str) and len(xet) == 64 and all(c in "0123456789abcdef" for c in xet)):
            xet = NO_XET
        if xet != NO_XET:  # first: a client told the hash (by another request) finds what it names
            self.hub.blobs.put_bytes(_file_hint_key(xet), json.dumps({"oid": oid, "size": size}).encode())
        self.hub.blobs.put_bytes(_hash_hint_key(oid), xet.encode())
        return xet

    # --- fills ------------------------------------------------------------------------------------------
    def ensure(self, repo: Repo, xet_hash: str) -> bool:
        """Make the mirrored repo's Xet file `xet_hash` readable here, filled whole from the upstream if
        needed (pins). False when this hub never learned of such a file in a mirrored repo."""
        f = self.file_for(repo, xet_hash, None)
        if f is None:
            return False
        if not self._has(repo.id, xet_hash):
            raise UpstreamUnavailable(f"The Xet file {xet_hash} could not be filled whole")
        return True

    def file_for_id(self, repo_id: int, xet_hash: str, range_header: str | None) -> XetFile | None:
        repo = self.hub.repos.by_id(repo_id)  # a Xet token outlives nothing: ids are never reused
        return None if repo is None else self.file_for(repo, xet_hash, range_header)

    def file_for(self, repo: Repo, xet_hash: str, range_header: str | None) -> XetFile | None:
        """The file a reconstruction of `range_header` (the whole file without one) is built from: the stored
        file once it is whole; before that, a draft whose terms inside the range are filled (streaming while
        filling: hf_xet asks for a large file a segment at a time, and each segment costs the upstream only
        its own xorb ranges). Terms outside the range still name upstream xorbs: never read, since only the
        range's terms are. None when this hub knows no such file in a mirrored repo."""
        if self._has(repo.id, xet_hash):
            return self.hub.xet.file(xet_hash)
        try:
            target = json.loads(self.hub.blobs.read(_file_hint_key(xet_hash)))
            oid, size = str(target["oid"]), int(target["size"])
        except (BlobNotFound, KeyError, TypeError, ValueError):
            return None
        first, end = _byte_range(range_header, size)
        with self._lock:
            lock = self._locks.setdefault((repo.id, xet_hash), threading.Lock())
        with lock:  # concurrent requests for one file: one fetches, the others find the terms filled
            if self._has(repo.id, xet_hash):
                return self.hub.xet.file(xet_hash)
            return self._fill(repo, xet_hash, oid, size, first, end)

    def _has(self, repo_id: int, xet_hash: str) -> bool:
        with self.hub.db.read() as conn:
            row = conn.execute(select(repo_objects.c.oid).where(
                (repo_objects.c.repo_id == repo_id) & (repo_objects.c.xet_hash == xet_hash)).limit(1)).first()
        return row is not None

    def _plan(self, repo: Repo, xet_hash: str) -> _Plan:
        """The upstream's whole reconstruction of the file (asked once, kept while its URLs are fresh)."""
        key = (repo.id, xet_hash)
        plan = self._plans.get(key)
        if plan is not None and time.time() - plan.at < PLAN_TTL:
            return plan
        cas, access = self._read_token(repo, self.mirror._tokens.get(repo.id))
        recon = self._get(f"{cas}/v1/reconstructions/{xet_hash}", {"Authorization": f"Bearer {access}"},
                          f"reconstruction of {xet_hash}")
        try:
            terms = [(str(t["hash"]), int(t["range"]["start"]), int(t["range"]["end"]), int(t["unpacked_length"]))
                     for t in recon["terms"]]
            for name, start, end, length in terms:  # packed as records: a xorb's 32 bytes, u32 ranges and sizes
                if len(xet_unhex(name)) != 32 or not (0 <= start < end < 1 << 32 and 0 <= length < 1 << 32):
                    raise ValueError(name)
            fetch = {str(x): [(int(f["range"]["start"]), int(f["range"]["end"]), str(f["url"]),
                               int(f["url_range"]["start"]), int(f["url_range"]["end"])) for f in items]
                     for x, items in recon["fetch_info"].items()}
        except (KeyError, TypeError, ValueError, AttributeError):
            raise UpstreamUnavailable(f"The upstream's reconstruction of {xet_hash} is malformed") from None
        if recon.get("offset_into_first_range", 0) != 0:
            raise UpstreamUnavailable(f"The upstream's reconstruction of {xet_hash} does not start at byte 0")
        plan = _Plan(time.time(), terms, fetch)
        with self._lock:
            self._plans[key] = plan
            while len(self._plans) > MAX_PLANS:
                self._plans.pop(next(iter(self._plans)))
        return plan

    def _fill(self, repo: Repo, xet_hash: str, oid: str, size: int, first: int, end: int) -> XetFile:
        plan = self._plan(repo, xet_hash)
        local = TermsBuilder()
        fetched = pos = 0
        whole = True
        for upstream_xorb, start, stop, length in plan.terms:
            mapped = self._mapped(upstream_xorb, start, stop)
            if mapped is None and pos < end and pos + length > first:  # inside the range: fetched now
                span = next((f for f in plan.fetch.get(upstream_xorb, []) if f[0] <= start and stop <= f[1]), None)
                if span is None:
                    raise UpstreamUnavailable(f"The upstream's reconstruction of {xet_hash} lacks a fetch "
                                              f"for xorb {upstream_xorb}")
                fetched += self._fetch_range(upstream_xorb, *span)
                mapped = self._mapped(upstream_xorb, start, stop)
                assert mapped is not None
            pos += length
            if mapped is None:
                whole = False
                local.add(upstream_xorb, start, stop, length)  # outside the range: not read
                continue
            xorb, base = mapped
            s, e = start - base, stop - base
            if self.hub.xet.xorb_index(xorb).unpacked(s, e) != length:
                raise UpstreamUnavailable(f"The upstream's term of xorb {upstream_xorb} is not {length} bytes")
            local.add(xorb, s, e, length)
        if pos != size:
            raise UpstreamUnavailable(f"The upstream's Xet file {xet_hash} is {pos} bytes, not {size}")
        draft = XetFile(xet_hash, size, oid, local.done())
        if fetched:
            log.info("filled %d bytes of Xet file %s of %s from the upstream's xorbs", fetched, xet_hash,
                     repo.repo_id)
        if not whole:
            return draft
        f = self._verify(draft, oid, size)
        self.hub.xet._store_file(f)
        self.hub.objects.link(repo.id, oid, size, xet_hash)  # written last: the file is whole and proved
        now = time.time()
        with self.hub.db.write() as conn:
            if conn.execute(select(mirror_objects.c.oid).where(mirror_objects.c.oid == oid)).first() is None:
                conn.execute(insert(mirror_objects).values(oid=oid, size=size, filled_at=now, last_used=now))
        with self._lock:
            self._plans.pop((repo.id, xet_hash), None)
        log.info("mirrored Xet file %s of %s whole", xet_hash, repo.repo_id)
        return f

    def _read_token(self, repo: Repo, token: str | None) -> tuple[str, str]:
        up = self.mirror.upstream
        path = f"/api/{PLURAL[repo.type]}/{repo.repo_id}/xet-read-token/{quote(repo.head_sha or 'main', safe='')}"
        data = self._get(up.url + path, up._headers(token), f"Xet read token of {repo.repo_id}")
        try:
            return str(data["casUrl"]).rstrip("/"), str(data["accessToken"])
        except (KeyError, TypeError):
            raise UpstreamUnavailable(f"The upstream's Xet token for {repo.repo_id} is malformed") from None

    def _get(self, url: str, headers: dict[str, str], what: str) -> Any:
        return self.mirror.upstream.get_json(url, headers, what, MAX_RECONSTRUCTION_JSON)

    def _mapped(self, upstream_xorb: str, start: int, end: int) -> tuple[str, int] | None:
        """(local xorb, its first chunk's index upstream) of stored chunks covering [start, end) of an
        upstream xorb, or None."""
        ranges = self._ranges.get(upstream_xorb)
        if ranges is None or not any(a <= start and end <= b for a, b, _ in ranges):
            blobs = self.hub.blobs  # another process may have fetched it: the blob store is the truth
            ranges = []
            for key in blobs.iter_keys(_range_prefix(upstream_xorb)):
                first, _, last = key.rsplit("/", 1)[1].partition("-")
                ranges.append((int(first), int(last), blobs.read(key).decode()))
            self._ranges[upstream_xorb] = ranges
        for first, last, local in ranges:
            if first <= start and end <= last and self.hub.xet.has_xorb(local):
                return local, first
        return None

    def _fetch_range(self, upstream_xorb: str, first: int, end: int, url: str, byte_first: int,
                     byte_last: int) -> int:
        """Chunks [first, end) of an upstream xorb (bytes [byte_first, byte_last] of it), stored as a xorb
        of their own. Returns the bytes fetched."""
        if not 0 <= byte_first <= byte_last or byte_last - byte_first + 1 > MAX_RANGE_BYTES or end <= first:
            raise UpstreamUnavailable(f"The upstream's fetch range of xorb {upstream_xorb} is out of bounds")
        with tempfile.TemporaryFile(prefix="hubd-mirror-xorb-") as spool:
            parser = XorbParser(spool.write)
            try:
                with self.mirror.upstream.client.stream(
                        "GET", url, headers={"Range": f"bytes={byte_first}-{byte_last}"},
                        timeout=httpx.Timeout(60.0, connect=3.0)) as resp:
                    if resp.status_code not in (200, 206):
                        raise _error(resp, f"xorb {upstream_xorb}")  # from the headers: no body read
                    if resp.status_code == 200 and byte_first > 0:
                        raise UpstreamUnavailable(f"The upstream ignored the byte range of xorb {upstream_xorb}")
                    # no more than the range asked for reaches the spool, whatever the upstream sends
                    left = byte_last - byte_first + 1
                    for block in resp.iter_bytes(1024 * 1024):
                        parser.feed(block[:left])
                        left -= len(block)
                        if left <= 0:
                            break
            except httpx.HTTPError as exc:
                log.warning("upstream unreachable on xorb %s: %r", upstream_xorb, exc)
                raise UpstreamUnavailable(f"The upstream hub is unreachable (xorb {upstream_xorb})") from None
            except HubError as exc:
                if isinstance(exc, UpstreamUnavailable):
                    raise
                raise UpstreamUnavailable(f"The upstream's xorb {upstream_xorb} is malformed: {exc.message}") from None
            chunks = parser.finish()
            if len(chunks) != end - first:
                raise UpstreamUnavailable(f"The upstream sent {len(chunks)} chunks of xorb {upstream_xorb}, "
                                          f"not {end - first}")
            local = xet_hex(xorb_hash(parser.nodes()))
            if not self.hub.xet.has_xorb(local):
                staged = self.hub.blobs.stage(xorb_key(local))
                try:
                    spool.seek(0)
                    while block := spool.read(1024 * 1024):
                        staged.write(block)
                    self.hub.xet.publish_xorb(local, parser, staged)
                finally:
                    staged.abort()
        self.hub.blobs.put_bytes(f"{_range_prefix(upstream_xorb)}{first}-{end}", local.encode())
        return byte_last - byte_first + 1

    def _verify(self, draft: XetFile, oid: str, size: int) -> XetFile:
        """The file as hubd will serve it, once its chunks hash to its Xet hash and its bytes to the
        pointer's sha256 and size (the upstream's word is checked, never taken)."""
        import hashlib

        tree = MerkleBuilder()
        for t in draft.terms:
            for c, _end, csize in self.hub.xet.xorb_index(t.xorb).entries(t.start, t.end):
                tree.add(c, csize)
        if xet_hex(file_hash_of(tree)) != draft.hash:
            raise UpstreamUnavailable(f"The upstream's chunks of {draft.hash} do not hash to it")
        if draft.size != size:
            raise UpstreamUnavailable(f"The upstream's Xet file {draft.hash} is {draft.size} bytes, not {size}")
        digest = hashlib.sha256()
        for data in self.hub.xet.iter_bytes(draft, 0, draft.size):
            digest.update(data)
        if digest.hexdigest() != oid:
            raise EntryNotFound(f"The upstream's Xet file {draft.hash} is not the object {oid}")
        return XetFile(draft.hash, draft.size, oid, draft.terms)
