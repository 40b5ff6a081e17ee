"""JSON shapes of the Hub's objects, as the client's parsers read them."""

from __future__ import annotations

import html

from dulwich.objects import Commit

from hubd.hub.browse import PathEntry
from hubd.hub.models import iso


def commit_title_message(commit: Commit) -> tuple[str, str]:
    text = commit.message.decode("utf-8", errors="replace")
    title, _, rest = text.partition("\n")
    return title.strip(), rest.strip("\n")


def author_name(commit: Commit) -> str:
    raw = commit.author.decode("utf-8", errors="replace")
    return raw.split(" <", 1)[0]


def commit_json(sha: str, commit: Commit, formatted: bool = False) -> dict:
    title, message = commit_title_message(commit)
    out: dict = {
        "id": sha,
        "title": title,
        "message": message,
        "authors": [{"user": author_name(commit), "avatar": None}],
        "date": iso(commit.commit_time),
    }
    if formatted:
        out["formatted"] = {"title": html.escape(title), "message": html.escape(message)}
    return out


def last_commit_json(sha: str, commit: Commit) -> dict:
    return {"id": sha, "title": commit_title_message(commit)[0], "date": iso(commit.commit_time)}


def tree_entry_json(e: PathEntry, xet_hashes: dict[str, str]) -> dict:
    if e.is_dir:
        return {"type": "directory", "oid": e.sha, "size": 0, "path": e.path}
    out: dict = {"type": "file", "oid": e.sha, "size": e.size, "path": e.path}
    if e.lfs is not None:
        out["lfs"] = {"oid": e.lfs.oid, "size": e.lfs.size, "pointerSize": e.lfs.pointer_size}
        if e.lfs.oid in xet_hashes:
            out["xetHash"] = xet_hashes[e.lfs.oid]
    return out


def sibling_json(e: PathEntry, blobs: bool) -> dict:
    out: dict = {"rfilename": e.path}
    if blobs:
        out["size"] = e.size
        out["blobId"] = e.sha
        if e.lfs is not None:
            out["lfs"] = {"size": e.lfs.size, "sha256": e.lfs.oid, "pointerSize": e.lfs.pointer_size}
    return out
