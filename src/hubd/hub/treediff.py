"""What a pull request changes, over immutable git objects: tree diffs, merge bases, three-way merges and the
unified diff the Hub shows. Every walk is bounded (invariant 8): a hostile history or a huge tree costs a 400."""

from __future__ import annotations

import difflib
from collections import deque

from hubd.hub.access import Principal
from hubd.hub.commits import new_commit
from hubd.hub.errors import BadRequest, HubError
from hubd.hub.treeedit import TreeEditor
from hubd.storage.gitstore import GitStore

MAX_CHANGES = 20_000  # changed paths one diff or merge looks at
MAX_HISTORY = 200_000  # commits walked to find a merge base
MAX_DIFF_BYTES = 1024 * 1024  # the text diff shown in a pull request's details
MAX_DIFF_BLOB = 256 * 1024  # files larger than this show as "differ", not line by line

File = tuple[int, str]  # (mode, blob sha)
Changes = dict[str, tuple[File | None, File | None]]  # path -> (before, after); None: absent


class MergeConflict(HubError):
    status = 409
    code = "Conflict"
    default_message = "This pull request has conflicts with its target branch"

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        shown = ", ".join(paths[:20]) + (" …" if len(paths) > 20 else "")
        super().__init__(f"Cannot merge: this pull request has conflicts with its target branch ({shown})")


def _too_large(what: str) -> BadRequest:
    return BadRequest(f"This pull request is too large to compare: {what}")


def tree_of(git: GitStore, commit: str) -> str:
    return git.commit(commit).tree.decode()


def changes(git: GitStore, old_tree: str | None, new_tree: str | None) -> Changes:
    """Files that differ between two trees; identical subtrees (same sha) are skipped without being read."""
    out: Changes = {}

    def walk(a: str | None, b: str | None, prefix: str) -> None:
        if a == b:
            return
        ea = {e.name: e for e in git.tree(a)} if a else {}
        eb = {e.name: e for e in git.tree(b)} if b else {}
        for name in sorted(ea.keys() | eb.keys()):
            x, y = ea.get(name), eb.get(name)
            if x is not None and y is not None and (x.mode, x.sha) == (y.mode, y.sha):
                continue
            path = prefix + name
            xd, yd = x is not None and x.is_dir, y is not None and y.is_dir
            if xd or yd:
                walk(x.sha if xd and x else None, y.sha if yd and y else None, path + "/")
            before = (x.mode, x.sha) if x is not None and not xd else None
            after = (y.mode, y.sha) if y is not None and not yd else None
            if before != after:
                out[path] = (before, after)
                if len(out) > MAX_CHANGES:
                    raise _too_large(f"more than {MAX_CHANGES} changed files")

    walk(old_tree, new_tree, "")
    return out


def _parents(git: GitStore, sha: str) -> list[str]:
    return [p.decode() for p in git.commit(sha).parents]


def merge_base(git: GitStore, a: str, b: str) -> str | None:
    """A common ancestor of two commits (the nearest to `b` in breadth-first order)."""
    seen: set[str] = set()
    stack = [a]
    while stack:
        sha = stack.pop()
        if sha in seen:
            continue
        seen.add(sha)
        if len(seen) > MAX_HISTORY:
            raise _too_large(f"more than {MAX_HISTORY} commits of history")
        stack.extend(_parents(git, sha))
    queue, visited = deque([b]), {b}
    while queue:
        sha = queue.popleft()
        if sha in seen:
            return sha
        for parent in _parents(git, sha):
            if parent not in visited:
                visited.add(parent)
                if len(visited) > MAX_HISTORY:
                    raise _too_large(f"more than {MAX_HISTORY} commits of history")
                queue.append(parent)
    return None


def _sides(git: GitStore, base_head: str, pr_head: str) -> tuple[str | None, Changes, Changes]:
    """(merge base, changes on the base branch since it, changes of the pull request since it)."""
    mb = merge_base(git, base_head, pr_head)
    root = tree_of(git, mb) if mb else None
    ours = changes(git, root, tree_of(git, base_head)) if mb != base_head else {}
    theirs = changes(git, root, tree_of(git, pr_head)) if mb != pr_head else {}
    return mb, ours, theirs


def _conflicts(ours: Changes, theirs: Changes) -> list[str]:
    """Paths both sides changed differently, and a file on one side where the other has a folder."""
    out = {p for p, (_b, after) in theirs.items() if p in ours and ours[p][1] != after}
    ours_dirs = {p.rsplit("/", i)[0] for p in ours for i in range(1, p.count("/") + 1)}
    theirs_dirs = {p.rsplit("/", i)[0] for p in theirs for i in range(1, p.count("/") + 1)}
    out |= {p for p, (_b, after) in theirs.items() if after is not None and p in ours_dirs}
    out |= {p for p, (_b, after) in ours.items() if after is not None and p in theirs_dirs}
    return sorted(out)


def conflicting_files(git: GitStore, base_head: str, pr_head: str) -> list[str]:
    _mb, ours, theirs = _sides(git, base_head, pr_head)
    return _conflicts(ours, theirs)


def merge(git: GitStore, base_head: str, pr_head: str, message: str, author: Principal) -> str:
    """The commit the base branch moves to: the pull request's head when it descends from the base (a
    fast-forward), else a merge commit with both heads as parents. Conflicts raise MergeConflict."""
    mb, ours, theirs = _sides(git, base_head, pr_head)
    if mb == pr_head:
        raise BadRequest("This pull request has no changes to merge")
    if mb == base_head:
        return pr_head
    conflicts = _conflicts(ours, theirs)
    if conflicts:
        raise MergeConflict(conflicts)
    editor = TreeEditor(git, tree_of(git, base_head))
    for path, (_before, after) in sorted(theirs.items()):
        if path in ours:  # the same change on both sides
            continue
        if after is None:
            editor.delete_file(path)
        else:
            editor.add(path, after[1], after[0])
    return git.add(new_commit(editor.write(), [base_head, pr_head], message, author))


def unified_diff(git: GitStore, base_head: str, pr_head: str) -> str:
    """`git diff` of the pull request against where it left its base branch, cut at MAX_DIFF_BYTES."""
    mb = merge_base(git, base_head, pr_head)
    if mb == pr_head:
        return ""
    parts: list[str] = []
    size = 0
    for path, (before, after) in sorted(changes(git, tree_of(git, mb) if mb else None, tree_of(git, pr_head)).items()):
        text = _file_diff(git, path, before, after)
        size += len(text)
        if size > MAX_DIFF_BYTES:
            parts.append(f"... (diff cut at {MAX_DIFF_BYTES} bytes)\n")
            break
        parts.append(text)
    return "".join(parts)


def _lines(git: GitStore, f: File | None) -> list[str] | None:
    if f is None:
        return []
    if git.blob_info(f[1]).blob_size > MAX_DIFF_BLOB:
        return None
    raw = git.raw("blob", f[1])
    if b"\0" in raw:
        return None
    try:
        return raw.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def _file_diff(git: GitStore, path: str, before: File | None, after: File | None) -> str:
    head = [f"diff --git a/{path} b/{path}\n"]
    if before is None and after is not None:
        head.append(f"new file mode {after[0]:o}\n")
    elif after is None and before is not None:
        head.append(f"deleted file mode {before[0]:o}\n")
    head.append(f"index {before[1][:7] if before else '0000000'}..{after[1][:7] if after else '0000000'}\n")
    a, b = _lines(git, before), _lines(git, after)
    old_name = f"a/{path}" if before else "/dev/null"
    new_name = f"b/{path}" if after else "/dev/null"
    if a is None or b is None:
        return "".join(head) + f"Binary files {old_name} and {new_name} differ\n"
    body = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in difflib.unified_diff(a, b, old_name, new_name))
    return "".join(head) + body
