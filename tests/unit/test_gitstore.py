"""The git object layer on a real local blob store: ids agree with git itself."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hubd.hub.errors import BadRequest, EntryNotFound
from hubd.hub.treeedit import TreeEditor
from hubd.storage.gitstore import GitStore, git_sha
from hubd.storage.local import LocalBlobStore


@pytest.fixture
def git(tmp_path: Path) -> GitStore:
    return GitStore(LocalBlobStore(tmp_path / "store"))


@pytest.mark.skipif(shutil.which("git") is None, reason="git binary not installed")
def test_blob_ids_match_git(git: GitStore, tmp_path: Path) -> None:
    for data in (b"", b"hello\n", bytes(range(256)) * 10):
        f = tmp_path / "f"
        f.write_bytes(data)
        expected = subprocess.run(["git", "hash-object", str(f)], capture_output=True, text=True).stdout.strip()
        assert git.add_blob(data) == expected == git_sha("blob", data)


def test_tree_edits(git: GitStore) -> None:
    a, b = git.add_blob(b"a"), git.add_blob(b"b")
    ed = TreeEditor(git, None)
    ed.add("x/y/a.txt", a)
    ed.add("x/b.txt", b)
    ed.add("top.txt", a)
    root = ed.write()
    assert [e.name for e in git.tree(root)] == ["top.txt", "x"]

    ed = TreeEditor(git, root)
    ed.delete_file("x/y/a.txt")  # its folder becomes empty and disappears, as in git
    after = ed.write()
    x = next(e for e in git.tree(after) if e.name == "x")
    assert [e.name for e in git.tree(x.sha)] == ["b.txt"]

    ed = TreeEditor(git, root)
    ed.delete_folder("x/")
    assert [e.name for e in git.tree(ed.write())] == ["top.txt"]

    ed = TreeEditor(git, root)
    with pytest.raises(EntryNotFound):
        ed.delete_file("x/nope")
    with pytest.raises(EntryNotFound):
        ed.delete_folder("top.txt")
    with pytest.raises(BadRequest):
        ed.add("top.txt/inner", a)
    with pytest.raises(BadRequest):
        ed.add("x", a)
    # an unchanged edit gives the same tree id: content addressing
    assert TreeEditor(git, root).write() == root


def test_blob_info_for_pointer(git: GitStore) -> None:
    from hubd.storage.lfspointer import pointer_bytes

    sha = git.add_blob(pointer_bytes("c" * 64, 10**9))
    info = git.blob_info(sha)
    assert info.size == 10**9 and info.lfs is not None and info.lfs.oid == "c" * 64
