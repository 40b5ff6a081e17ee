"""What the repo pages show, read from the domain (no HTTP here): card, files with last commits, diffs."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from dulwich.objects import Commit

from hubd.hub.browse import PathEntry
from hubd.hub.models import Repo
from hubd.hub.service import Hub
from hubd.storage.lfspointer import parse_pointer
from hubd.web import render

MAX_TEXT_VIEW = 512 * 1024  # bytes of a file the blob page reads and highlights; larger files: a link
MAX_DIFF_BLOB = 256 * 1024  # each side of a text diff
MAX_DIFF_FILES = 300
MAX_DIFF_LINES = 3000
LAST_COMMIT_DEPTH = 200  # commits walked to date a folder's entries; older entries show no date
IMAGE_EXTS = {"png", "jpg", "jpeg", "gif", "webp", "bmp", "ico"}


@dataclass
class FileRow:
    entry: PathEntry
    name: str
    xet: bool = False
    commit_sha: str | None = None
    commit_title: str = ""
    commit_time: int = 0


@dataclass
class FileChange:
    path: str
    kind: str  # added | deleted | modified
    lines: list[tuple[str, str]] = field(default_factory=list)  # (css class, text)
    note: str = ""


def commit_title(commit: Commit) -> str:
    return commit.message.decode("utf-8", "replace").partition("\n")[0].strip()


def commit_body(commit: Commit) -> str:
    return commit.message.decode("utf-8", "replace").partition("\n")[2].strip()


def author(commit: Commit) -> str:
    return commit.author.decode("utf-8", "replace").split(" <", 1)[0]


def folder_rows(hub: Hub, repo: Repo, sha: str, path: str) -> list[FileRow]:
    """A folder's entries (folders first), each with the newest commit that changed it, found in one
    first-parent walk that compares the folder's tree with its parent's (bounded by LAST_COMMIT_DEPTH)."""
    entries = list(hub.browse.list_dir(sha, path, False))
    entries.sort(key=lambda e: (not e.is_dir, e.path.lower()))
    rows = [FileRow(e, e.path.rsplit("/", 1)[-1]) for e in entries]
    oids = [e.lfs.oid for e in entries if e.lfs is not None]
    xet = hub.objects.xet_hashes(repo.id, oids) if oids else {}
    for row in rows:
        row.xet = row.entry.lfs is not None and row.entry.lfs.oid in xet
    pending = {r.name: r for r in rows}
    current_sha, commit = sha, hub.git.commit(sha)
    current = _tree_map(hub, sha, path)
    for _ in range(LAST_COMMIT_DEPTH):
        if not pending:
            break
        parent = commit.parents[0].decode() if commit.parents else None
        before = _tree_map(hub, parent, path) if parent else {}
        for name in list(pending):
            if before.get(name) != current.get(name):
                row = pending.pop(name)
                row.commit_sha, row.commit_title = current_sha, commit_title(commit)
                row.commit_time = commit.commit_time
        if parent is None:
            break
        current_sha, commit, current = parent, hub.git.commit(parent), before
    return rows


def _tree_map(hub: Hub, commit_sha: str, path: str) -> dict[str, str]:
    folder = hub.browse.lookup(commit_sha, path)
    if folder is None or not folder.is_dir:
        return {}
    return {e.name: e.sha for e in hub.git.tree(folder.sha)}


def readme(hub: Hub, sha: str) -> tuple[str | None, PathEntry | None]:
    """The README's sanitized HTML (None when absent, LFS or beyond the render limit) and its entry."""
    entry = hub.browse.lookup(sha, "README.md")
    if entry is None or entry.is_dir:
        return None, None
    if entry.lfs is not None or entry.size > render.MAX_MARKDOWN_BYTES:
        return None, entry
    text = hub.git.raw("blob", entry.sha).decode("utf-8", "replace")
    return render.render_readme(entry.sha, text), entry


def model_index_rows(card: dict | None) -> list[dict[str, Any]]:
    """`model-index` results flattened to table rows (task, dataset, metric, value); malformed parts skipped."""
    rows: list[dict[str, Any]] = []
    if not isinstance(card, dict) or not isinstance(card.get("model-index"), list):
        return rows
    for model in card["model-index"][:20]:
        if not isinstance(model, dict) or not isinstance(model.get("results"), list):
            continue
        for result in model["results"][:50]:
            if not isinstance(result, dict):
                continue
            task: dict = result["task"] if isinstance(result.get("task"), dict) else {}
            dataset: dict = result["dataset"] if isinstance(result.get("dataset"), dict) else {}
            for metric in (result.get("metrics") or [])[:50] if isinstance(result.get("metrics"), list) else []:
                if isinstance(metric, dict):
                    rows.append({"task": str(task.get("name") or task.get("type") or ""),
                                 "dataset": str(dataset.get("name") or dataset.get("type") or ""),
                                 "metric": str(metric.get("name") or metric.get("type") or ""),
                                 "value": str(metric.get("value", ""))})
    return rows[:200]


def card_list(card: dict | None, key: str) -> list[str]:
    if not isinstance(card, dict):
        return []
    value = card.get(key)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value[:30] if isinstance(v, str | int | float)]
    return []


def file_kind(entry: PathEntry) -> str:
    """text | image | binary | large: how the blob page shows a file (decided from its size and name
    before any byte is read)."""
    ext = entry.path.rsplit(".", 1)[-1].lower() if "." in entry.path else ""
    if ext in IMAGE_EXTS:
        return "image"
    if entry.size > MAX_TEXT_VIEW:
        return "large"
    return "text"


def read_text(hub: Hub, repo: Repo, entry: PathEntry) -> str | None:
    """A small file's text (bytes through the repo that links them), None when it is not UTF-8 text."""
    data = hub.content.read_range(repo.id, entry, 0, min(entry.size, MAX_TEXT_VIEW))
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def commit_changes(hub: Hub, sha: str) -> list[FileChange]:
    """The files a commit changed against its first parent, with text diffs for small text files."""
    commit = hub.git.commit(sha)
    new_tree = commit.tree.decode()
    old_tree = hub.git.commit(commit.parents[0].decode()).tree.decode() if commit.parents else None
    changes: list[tuple[str, str | None, str | None]] = []
    _diff_trees(hub, old_tree, new_tree, "", changes)
    out: list[FileChange] = []
    budget = MAX_DIFF_LINES
    for path, old, new in changes[:MAX_DIFF_FILES]:
        kind = "added" if old is None else "deleted" if new is None else "modified"
        change = FileChange(path, kind)
        old_text = _blob_text(hub, old) if old else ""
        new_text = _blob_text(hub, new) if new else ""
        if old_text is None or new_text is None:
            change.note = "Binary or LFS file changed"
        elif budget <= 0:
            change.note = "Diff not shown (the commit is too large)"
        else:
            diff = list(difflib.unified_diff(old_text.splitlines(), new_text.splitlines(), lineterm="", n=3))[2:]
            for line in diff[:budget]:
                css = "add" if line.startswith("+") else "del" if line.startswith("-") else \
                    "hunk" if line.startswith("@@") else "ctx"
                change.lines.append((css, line))
            budget -= len(diff)
        out.append(change)
    if len(changes) > MAX_DIFF_FILES:
        out.append(FileChange(f"… and {len(changes) - MAX_DIFF_FILES} more files", "modified", note="not shown"))
    return out


def _blob_text(hub: Hub, blob_sha: str) -> str | None:
    info = hub.git.blob_info(blob_sha)
    if info.lfs is not None or info.blob_size > MAX_DIFF_BLOB:
        return None
    data = hub.git.raw("blob", blob_sha)
    if b"\0" in data[:8192] or parse_pointer(data) is not None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _diff_trees(hub: Hub, old: str | None, new: str | None, prefix: str,
                out: list[tuple[str, str | None, str | None]]) -> None:
    if old == new or len(out) > MAX_DIFF_FILES:
        return
    old_entries = {e.name: e for e in hub.git.tree(old)} if old else {}
    new_entries = {e.name: e for e in hub.git.tree(new)} if new else {}
    for name in sorted(old_entries.keys() | new_entries.keys()):
        a, b = old_entries.get(name), new_entries.get(name)
        if a is not None and b is not None and a.sha == b.sha and a.mode == b.mode:
            continue
        path = f"{prefix}{name}"
        a_dir, b_dir = a is not None and a.is_dir, b is not None and b.is_dir
        if a_dir or b_dir:
            _diff_trees(hub, a.sha if a_dir and a else None, b.sha if b_dir and b else None, path + "/", out)
        a_file = a.sha if a is not None and not a.is_dir else None
        b_file = b.sha if b is not None and not b.is_dir else None
        if a_file != b_file:
            out.append((path, a_file, b_file))
