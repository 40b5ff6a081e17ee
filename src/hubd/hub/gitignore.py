"""`.gitignore` rules, as preupload applies them (`shouldIgnore`): git's own wildmatch semantics."""

from __future__ import annotations

from pathspec import GitIgnoreSpec

MAX_GITIGNORE = 1024 * 1024  # a larger .gitignore is not read (a real one is a few KiB)


def ignore_spec(text: str | None) -> GitIgnoreSpec | None:
    if not text or len(text) > MAX_GITIGNORE:
        return None
    return GitIgnoreSpec.from_lines(text.splitlines())


def is_ignored(spec: GitIgnoreSpec | None, path: str) -> bool:
    return spec is not None and spec.match_file(path)
