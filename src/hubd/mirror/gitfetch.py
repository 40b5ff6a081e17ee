"""One commit of an upstream repo and its whole history, fetched with git's protocol into hubd's object store.

Commit ids must be the upstream's, so the mirror never invents git objects: it fetches the real commits,
trees and blobs (LFS files are pointer blobs here; their bytes come later, through /resolve). The history
comes whole (no depth), so `list_repo_commits`, `git log` and `git clone` of a mirrored repo show the
upstream's; pointers are tiny, so a history costs what its regular files cost. Every object the commits
reach must come in the pack itself: hubd's object store is shared by all repos, and a tree naming a blob the
pack does not carry would otherwise read some other repo's stored blob."""

from __future__ import annotations

import logging
import tempfile
from typing import TYPE_CHECKING, Any, cast

from dulwich.client import HttpGitClient
from dulwich.errors import GitProtocolError, HangupException
from dulwich.object_format import DEFAULT_OBJECT_FORMAT
from dulwich.objects import Blob, Commit, ShaFile, Tree
from dulwich.pack import PackData, PackInflater

if TYPE_CHECKING:
    from dulwich.client import DetermineWantsFunc

from hubd.git.packscan import PackLimits, PackRefused, scan_pack
from hubd.mirror.errors import UpstreamUnavailable
from hubd.storage.gitstore import GitStore

log = logging.getLogger("hubd.mirror")
MAX_PACK = 8 * 1024**3  # bytes on the wire: regular files are small, pointers are tiny
LIMITS = PackLimits(max_objects=2_000_000, max_object_size=1024**3, max_inflated=16 * 1024**3)


class _NoHaves:
    """The graph walker of a fetch into an empty store: nothing to offer, so the upstream sends everything
    the wanted commit reaches (at depth 1: its tree)."""

    shallow: set = set()  # noqa: RUF012 - dulwich reads this attribute

    def __init__(self) -> None:
        self.shallow = set()

    def next(self) -> None:
        return None

    def __next__(self) -> None:
        return None

    def __iter__(self) -> _NoHaves:
        return self

    def ack(self, _sha: bytes) -> None:
        return None

    def nak(self) -> None:
        return None


def fetch_commit(git: GitStore, url: str, sha: str, token: str | None) -> None:
    """Store the commit `sha` of the repo at `url`, and everything its tree reaches, from the upstream.

    The upstream's upload-pack serves only advertised tips (dulwich, and the Hub, refuse other wants): a
    commit that is no tip is fetched with the whole history of every tip, which holds it if it exists."""
    if git.has("commit", sha):
        return
    client = HttpGitClient(url, username="hubd" if token else None, password=token, timeout=60)
    with tempfile.TemporaryFile(prefix="hubd-mirror-pack-") as f:
        size = 0
        tip = {"hit": False}

        def determine_wants(refs: dict[bytes, bytes], depth: int | None = None) -> list[bytes]:
            tips = set(refs.values())
            if sha.encode() in tips:
                tip["hit"] = True
                return [sha.encode()]
            return sorted(tips)

        def write(data: bytes) -> int:
            nonlocal size
            size += len(data)
            if size > MAX_PACK:
                raise PackRefused(f"the upstream's pack is larger than {MAX_PACK} bytes")
            f.write(data)
            return len(data)

        try:
            # no haves: the pack is closed over everything it names (see the top), history included
            client.fetch_pack("", cast("DetermineWantsFunc", determine_wants), _NoHaves(), write)
        except (GitProtocolError, HangupException, OSError) as exc:
            log.warning("git fetch of %s from %s failed: %r", sha, url, exc)
            raise UpstreamUnavailable(f"Could not fetch commit {sha} from the upstream hub") from None
        except PackRefused as exc:
            raise UpstreamUnavailable(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - dulwich raises its HTTP errors as plain exceptions
            log.warning("git fetch of %s from %s failed: %r", sha, url, exc)
            raise UpstreamUnavailable(f"Could not fetch commit {sha} from the upstream hub") from None
        if size == 0:
            raise UpstreamUnavailable(f"The upstream did not send commit {sha}")
        f.flush()
        f.seek(0)
        try:
            scan_pack(f, LIMITS)  # bounded before dulwich inflates anything
        except PackRefused as exc:
            raise UpstreamUnavailable(f"The upstream's pack was refused: {exc}") from None
        f.seek(0)
        objects = _read_pack(f)
    _check_closed(objects, sha)
    # content first: blobs and trees, then the commit (whose presence means "fetched", see the top)
    for obj in sorted(objects.values(), key=lambda o: isinstance(o, Commit)):
        git.add(obj)


def _read_pack(f: Any) -> dict[str, ShaFile]:
    with tempfile.NamedTemporaryFile(prefix="hubd-mirror-pack-", suffix=".pack") as named:
        while block := f.read(1024 * 1024):
            named.write(block)
        named.flush()
        data = PackData(named.name, object_format=DEFAULT_OBJECT_FORMAT)
        try:
            return {obj.id.decode(): obj for obj in PackInflater.for_pack_data(data)}
        finally:
            data.close()


def _check_closed(objects: dict[str, ShaFile], sha: str) -> None:
    """Every commit, tree and blob the commit reaches is in the pack (see the module's docstring)."""
    if not isinstance(objects.get(sha), Commit):
        raise UpstreamUnavailable(f"The upstream's pack does not hold commit {sha}")
    stack: list[str] = []
    commits, seen_commits = [sha], {sha}
    while commits:
        commit = objects.get(commits.pop())
        if not isinstance(commit, Commit):
            raise UpstreamUnavailable("The upstream's pack lacks a commit of the history")
        stack.append(commit.tree.decode())
        for parent in commit.parents:
            if parent.decode() not in seen_commits:
                seen_commits.add(parent.decode())
                commits.append(parent.decode())
    seen: set[str] = set()
    while stack:
        tree_sha = stack.pop()
        if tree_sha in seen:
            continue
        seen.add(tree_sha)
        tree = objects.get(tree_sha)
        if not isinstance(tree, Tree):
            raise UpstreamUnavailable(f"The upstream's pack lacks tree {tree_sha}")
        for entry in tree.iteritems():
            child = entry.sha.decode()
            if entry.mode == 0o040000:
                stack.append(child)
            elif entry.mode == 0o160000:
                continue  # a submodule names a commit of another repo, never read here
            elif not isinstance(objects.get(child), Blob):
                raise UpstreamUnavailable(f"The upstream's pack lacks blob {child}")
