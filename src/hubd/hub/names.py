"""Validation of names the Hub accepts: accounts, repos, file paths, branches."""

from __future__ import annotations

import re

from hubd.hub.errors import BadRequest

REPO_TYPES = ("model", "dataset", "space", "kernel")  # kernels: the current client's fourth repo type
TYPE_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/", "kernel": "kernels/"}
PLURAL_TO_TYPE = {"models": "model", "datasets": "dataset", "spaces": "space", "kernels": "kernel"}
# the optional prefix of web and /resolve URLs: none for models
PREFIX_TYPE: dict[str | None, str] = {
    None: "model", **{plural: t for plural, t in PLURAL_TO_TYPE.items() if plural != "models"}}
# regex alternations for routes: the plural in API paths, the URL prefix of non-model repos
PLURALS_RE = "|".join(PLURAL_TO_TYPE)
PREFIXES_RE = "|".join(p for p in PLURAL_TO_TYPE if p != "models")
RESERVED_NAMESPACES = frozenset(
    {"api", "datasets", "spaces", "models", "kernels", "buckets", "docs", "settings", "organizations",
     "users", "login", "logout", "join", "new", "viewer", "healthz", "readyz", "metrics", "static", "oauth",
     "admin", "avatars", "openapi.json", "new-dataset", "new-space", "collections", "papers"}
)
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?$")
MAX_PATH_BYTES = 1024


def check_account_name(name: str) -> str:
    if not _NAME.match(name) or "--" in name or ".." in name or name.lower() in RESERVED_NAMESPACES:
        raise BadRequest(f"Invalid account name: {name!r}")
    return name


def check_repo_name(name: str) -> str:
    if (
        not isinstance(name, str)
        or not _NAME.match(name)
        or "--" in name
        or ".." in name
        or name.endswith(".git")
        or name.endswith(".ipynb")
    ):
        raise BadRequest(
            f"Invalid repo name: {name!r}. Use letters, digits, '-', '_' and '.', at most 96 characters, "
            "not starting or ending with '-' or '.', without '--' or '..'."
        )
    return name


def check_repo_type(repo_type: object) -> str:
    if repo_type is None:
        return "model"
    if repo_type not in REPO_TYPES:
        raise BadRequest(f"Invalid repo type: {repo_type!r}")
    return str(repo_type)


def check_file_path(path: object) -> str:
    """A path inside a repo: relative, no '..' or '.' parts, no NUL, not under .git/. A backslash is an
    ordinary character in a git path (`folder/..\\..\\file` is one legal name, as on the Hub): hubd never
    maps repo paths to local files, and the clients protect local paths themselves."""
    if not isinstance(path, str) or not path:
        raise BadRequest("Invalid file path: empty")
    if path.startswith("/") or "\0" in path or len(path.encode()) > MAX_PATH_BYTES:
        raise BadRequest(f"Invalid file path: {path!r}")
    parts = path.split("/")
    for part in parts:
        if part in ("", ".", "..") or part.lower() == ".git":
            raise BadRequest(f"Invalid file path: {path!r}")
        if any(ord(c) < 32 for c in part):
            raise BadRequest(f"Invalid file path: {path!r}")
    return path


def check_ref_name(name: str) -> str:
    """A branch or tag name, as git check-ref-format would accept it."""
    bad = (
        not name
        or len(name) > 200
        or name.startswith(("/", "-", "."))
        or name.endswith(("/", ".", ".lock"))
        or ".." in name
        or "//" in name
        or "@{" in name
        or re.search(r"[\x00-\x20~^:?*\[\\\x7f]", name) is not None
        or name.startswith("refs/")
        or re.fullmatch(r"[0-9a-f]{40}", name) is not None
    )
    if bad:
        raise BadRequest(f"Invalid reference name: {name!r}")
    return name
