"""Reading a commit's content: path lookup, tree listings, history, the last commit touching a path."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from dulwich.objects import Commit

from hubd.hub.errors import EntryNotFound
from hubd.storage.gitstore import GitStore, TreeEntry
from hubd.storage.lfspointer import LfsPointer


@dataclass(frozen=True, slots=True)
class PathEntry:
    path: str
    is_dir: bool
    sha: str
    size: int = 0
    lfs: LfsPointer | None = None


MISSING = object()  # not in the entry cache (None there means: no such path at that commit)
MAX_CACHED_ENTRIES = 200_000


class Browser:
    def __init__(self, git: GitStore) -> None:
        self.git = git
        # (commit, path) -> entry: a commit's content never changes, so a path resolved once is known for good
        self._entries: dict[tuple[str, str], PathEntry | None] = {}

    def cached(self, commit_sha: str, path: str) -> PathEntry | None | object:
        """The entry when this path was looked up before (no I/O, for the event loop), else MISSING."""
        return self._entries.get((commit_sha, path), MISSING)

    def root_tree(self, commit_sha: str) -> str:
        return self.git.commit(commit_sha).tree.decode()

    def _entry(self, path: str, e: TreeEntry) -> PathEntry:
        if e.is_dir:
            return PathEntry(path, True, e.sha)
        info = self.git.blob_info(e.sha)
        return PathEntry(path, False, e.sha, info.size, info.lfs)

    def lookup(self, commit_sha: str, path: str) -> PathEntry | None:
        """The entry at `path` ('' is the root folder) or None."""
        found = self._entries.get((commit_sha, path), MISSING)
        if found is MISSING:
            found = self._lookup(commit_sha, path)
            if len(self._entries) >= MAX_CACHED_ENTRIES:
                self._entries.clear()
            self._entries[(commit_sha, path)] = found
        return found  # type: ignore[return-value]

    def _lookup(self, commit_sha: str, path: str) -> PathEntry | None:
        tree_sha = self.root_tree(commit_sha)
        if not path:
            return PathEntry("", True, tree_sha)
        parts = path.split("/")
        for i, part in enumerate(parts):
            found = next((e for e in self.git.tree(tree_sha) if e.name == part), None)
            if found is None:
                return None
            if i == len(parts) - 1:
                return self._entry(path, found)
            if not found.is_dir:
                return None
            tree_sha = found.sha
        return None

    def list_dir(self, commit_sha: str, path: str, recursive: bool) -> Iterator[PathEntry]:
        """Entries under `path`, folders before their content, in git's order."""
        folder = self.lookup(commit_sha, path)
        if folder is None or not folder.is_dir:
            raise EntryNotFound(f"Entry not found: {path}")
        yield from self._walk(folder.sha, path, recursive)

    def _walk(self, tree_sha: str, prefix: str, recursive: bool) -> Iterator[PathEntry]:
        for e in self.git.tree(tree_sha):
            path = f"{prefix}/{e.name}" if prefix else e.name
            yield self._entry(path, e)
            if recursive and e.is_dir:
                yield from self._walk(e.sha, path, True)

    def files(self, commit_sha: str) -> list[PathEntry]:
        return [e for e in self._walk(self.root_tree(commit_sha), "", True) if not e.is_dir]

    def history(self, commit_sha: str) -> Iterator[tuple[str, Commit]]:
        """Commits reachable from `commit_sha`, newest first (by commit time, like git log)."""
        seen = {commit_sha}
        frontier = [(self.git.commit(commit_sha), commit_sha)]
        while frontier:
            frontier.sort(key=lambda cs: cs[0].commit_time)
            commit, sha = frontier.pop()
            yield sha, commit
            for parent in commit.parents:
                p = parent.decode()
                if p not in seen:
                    seen.add(p)
                    frontier.append((self.git.commit(p), p))

    def last_commit(self, commit_sha: str, path: str) -> tuple[str, Commit]:
        """The newest commit (first-parent walk) that changed the entry at `path`."""
        current = self.lookup(commit_sha, path)
        sha = commit_sha
        commit = self.git.commit(sha)
        while commit.parents:
            parent = commit.parents[0].decode()
            before = self.lookup(parent, path)
            if before is None or current is None or before.sha != current.sha:
                return sha, commit
            sha, commit = parent, self.git.commit(parent)
        return sha, commit
