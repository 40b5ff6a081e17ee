"""Tree diffs and merges of pull requests over a real local git object store."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubd.hub.access import Principal
from hubd.hub.commits import new_commit
from hubd.hub.errors import BadRequest
from hubd.hub.treediff import MergeConflict, changes, conflicting_files, merge, merge_base, tree_of, unified_diff
from hubd.hub.treeedit import TreeEditor
from hubd.storage.gitstore import GitStore
from hubd.storage.local import LocalBlobStore

ME = Principal(1, "me", "Me", None, False, "t", "write")


@pytest.fixture
def git(tmp_path: Path) -> GitStore:
    return GitStore(LocalBlobStore(tmp_path / "store"))


def commit(git: GitStore, parent: str | None, files: dict[str, bytes | None]) -> str:
    editor = TreeEditor(git, tree_of(git, parent) if parent else None)
    for path, content in files.items():
        if content is None:
            editor.delete_file(path)
        else:
            editor.add(path, git.add_blob(content))
    return git.add(new_commit(editor.write(), [parent] if parent else [], "c\n", ME))


def test_changes_skip_identical_subtrees(git: GitStore) -> None:
    a = commit(git, None, {"x/a.txt": b"a", "y/b.txt": b"b", "c.txt": b"c"})
    b = commit(git, a, {"x/a.txt": b"A", "c.txt": None, "z/new.txt": b"n"})
    diff = changes(git, tree_of(git, a), tree_of(git, b))
    assert sorted(diff) == ["c.txt", "x/a.txt", "z/new.txt"]
    assert diff["c.txt"][1] is None and diff["z/new.txt"][0] is None


def test_fast_forward_merge_commit_and_conflicts(git: GitStore) -> None:
    root = commit(git, None, {"a.txt": b"a\n", "b.txt": b"b\n"})
    pr = commit(git, root, {"c.txt": b"c\n"})
    assert merge_base(git, root, pr) == root
    assert merge(git, root, pr, "m\n", ME) == pr  # the base has not moved: fast-forward
    base = commit(git, root, {"b.txt": b"B\n"})
    merged = merge(git, base, pr, "m\n", ME)
    assert [p.decode() for p in git.commit(merged).parents] == [base, pr]
    assert sorted(changes(git, tree_of(git, root), tree_of(git, merged))) == ["b.txt", "c.txt"]
    clash = commit(git, root, {"b.txt": b"other\n"})
    assert conflicting_files(git, base, clash) == ["b.txt"]
    with pytest.raises(MergeConflict) as exc:
        merge(git, base, clash, "m\n", ME)
    assert exc.value.paths == ["b.txt"] and exc.value.status == 409
    # a file on one side where the other made a folder
    folder = commit(git, root, {"d/x.txt": b"x\n"})
    file = commit(git, root, {"d": b"file\n"})
    assert conflicting_files(git, folder, file) == ["d"]
    with pytest.raises(BadRequest):
        merge(git, pr, root, "m\n", ME)  # nothing to merge


def test_unified_diff(git: GitStore) -> None:
    root = commit(git, None, {"a.txt": b"one\ntwo\n", "bin": b"\0\1"})
    pr = commit(git, root, {"a.txt": b"one\n2\n", "bin": b"\0\2", "new.txt": b"n"})
    text = unified_diff(git, root, pr)
    assert "diff --git a/a.txt b/a.txt\n" in text and "-two\n+2\n" in text
    assert "Binary files a/bin and b/bin differ" in text
    assert "new file mode 100644" in text and "+n\n\\ No newline at end of file\n" in text
    assert unified_diff(git, pr, root) == ""
