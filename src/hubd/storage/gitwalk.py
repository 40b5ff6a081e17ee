"""Walking git objects from commits down to blobs: what fsck verifies and gc keeps."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from dulwich.objects import Commit, ShaFile, Tag, Tree

DIR_MODE = 0o040000


def children(kind: str, raw: bytes) -> list[tuple[str, str]]:
    if kind == "commit":
        commit = ShaFile.from_raw_string(Commit.type_num, raw)
        assert isinstance(commit, Commit)
        return [("tree", commit.tree.decode()), *(("commit", p.decode()) for p in commit.parents)]
    if kind == "tree":
        tree = ShaFile.from_raw_string(Tree.type_num, raw)
        assert isinstance(tree, Tree)
        return [("tree" if e.mode & 0o170000 == DIR_MODE else "blob", e.sha.decode()) for e in tree.iteritems()]
    if kind == "tag":  # an annotated tag pushed with git (refs.TAG_OBJECTS)
        tag = ShaFile.from_raw_string(Tag.type_num, raw)
        assert isinstance(tag, Tag)
        target_kind, target = tag.object
        return [(target_kind.type_name.decode(), target.decode())]
    return []


def walk(read: Callable[[str, str], bytes | None], roots: Iterable[str | tuple[str, str]],
         seen: set[str]) -> Iterator[tuple[str, str, bytes | None]]:
    """(kind, sha, raw or None when `read` could not give it) of every object reachable from the roots
    (commit ids, or (kind, id)) and not in `seen` yet (which the walk fills)."""
    stack = [("commit", r) if isinstance(r, str) else r for r in roots]
    while stack:
        kind, sha = stack.pop()
        if sha in seen:
            continue
        seen.add(sha)
        raw = read(kind, sha)
        yield kind, sha, raw
        if raw is not None:
            stack.extend(children(kind, raw))
