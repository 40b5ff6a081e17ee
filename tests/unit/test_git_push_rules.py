"""The git_force_push setting's rules (hubd.hub.push.force_push_allowed): BRANCH or REPO:BRANCH globs."""

from __future__ import annotations

import pytest

from hubd.hub.push import force_push_allowed

RULES = "scratch-*, alice/*:main, datasets/acme/*:dev-*"


@pytest.mark.parametrize(("repo", "branch", "allowed"), [
    ("bob/m", "scratch-1", True),  # a bare BRANCH glob holds in every repo
    ("bob/m", "main", False),
    ("alice/m", "main", True),
    ("Alice/M", "main", True),  # repo ids resolve case-insensitively, so they compare so
    ("alice/m", "dev", False),
    ("datasets/alice/m", "main", False),  # the type prefix is part of the repo's path
    ("datasets/acme/d", "dev-2", True),
    ("acme/d", "dev-2", False),
])
def test_rules(repo: str, branch: str, allowed: bool) -> None:
    assert force_push_allowed(RULES, repo, branch) is allowed


def test_empty_and_malformed_rules_allow_nothing() -> None:
    for rules in ("", " , ", "alice/m:", ":"):
        assert not force_push_allowed(rules, "alice/m", "main")
