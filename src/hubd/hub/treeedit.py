"""Edits of a git tree (add, delete file, delete folder) written back bottom-up as new tree objects."""

from __future__ import annotations

from hubd.hub.errors import BadRequest, EntryNotFound
from hubd.storage.gitstore import DIR_MODE, GitStore, make_tree

FILE_MODE = 0o100644

Entries = dict[str, tuple[int, str]]


class TreeEditor:
    def __init__(self, git: GitStore, root_sha: str | None) -> None:
        self.git = git
        root: Entries = {}
        if root_sha:
            root = {e.name: (e.mode, e.sha) for e in git.tree(root_sha)}
        self.dirs: dict[str, Entries] = {"": root}

    def _dir(self, dirpath: str, create: bool) -> Entries | None:
        if dirpath in self.dirs:
            return self.dirs[dirpath]
        parent_path, _, name = dirpath.rpartition("/")
        parent = self._dir(parent_path, create)
        if parent is None:
            return None
        entry = parent.get(name)
        if entry is None:
            if not create:
                return None
            entries: Entries = {}
            parent[name] = (DIR_MODE, "")
        elif entry[0] != DIR_MODE:
            if not create:
                return None
            full = f"{parent_path}/{name}".lstrip("/")
            raise BadRequest(f"Cannot create {dirpath!r}: {full!r} is a file")
        else:
            entries = {e.name: (e.mode, e.sha) for e in self.git.tree(entry[1])} if entry[1] else {}
        self.dirs[dirpath] = entries
        return entries

    def add(self, path: str, blob_sha: str, mode: int = FILE_MODE) -> None:
        dirpath, _, name = path.rpartition("/")
        entries = self._dir(dirpath, create=True)
        assert entries is not None
        current = entries.get(name)
        if current is not None and current[0] == DIR_MODE:
            raise BadRequest(f"Cannot write file {path!r}: a folder has that name")
        entries[name] = (mode, blob_sha)

    def lookup(self, path: str) -> tuple[int, str] | None:
        dirpath, _, name = path.rpartition("/")
        entries = self._dir(dirpath, create=False)
        return None if entries is None else entries.get(name)

    def delete_file(self, path: str) -> None:
        entry = self.lookup(path)
        if entry is not None and entry[0] == DIR_MODE:
            self.delete_folder(path)  # as on the Hub: a deletedFile naming a folder deletes the folder
            return
        if entry is None:
            raise EntryNotFound(f"A file with this name doesn't exist: {path}")
        dirpath, _, name = path.rpartition("/")
        del self.dirs[dirpath][name]

    def delete_folder(self, path: str) -> None:
        path = path.rstrip("/")
        entry = self.lookup(path) if path else None
        if entry is None or entry[0] != DIR_MODE:
            raise EntryNotFound(f"A folder with this name doesn't exist: {path}")
        dirpath, _, name = path.rpartition("/")
        del self.dirs[dirpath][name]
        for loaded in [d for d in self.dirs if d == path or d.startswith(path + "/")]:
            del self.dirs[loaded]

    def write(self) -> str:
        """Store every changed tree, deepest first; empty folders disappear as in git. Returns the root sha.
        The trees are written together, before the caller can write a commit naming the root."""
        batch = self.git.batch()
        for dirpath in sorted(self.dirs, key=lambda d: d.count("/") + (1 if d else 0), reverse=True):
            entries = self.dirs[dirpath]
            if not dirpath:
                continue
            parent_path, _, name = dirpath.rpartition("/")
            parent = self.dirs.get(parent_path)
            if parent is None or name not in parent:
                continue
            if not entries:
                del parent[name]
            else:
                parent[name] = (DIR_MODE, batch.add(make_tree(entries)))
        root = batch.add(make_tree(self.dirs[""]))
        batch.flush()
        return root
