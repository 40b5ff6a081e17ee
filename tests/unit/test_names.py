from __future__ import annotations

import pytest

from hubd.hub.errors import BadRequest
from hubd.hub.names import check_file_path, check_ref_name, check_repo_name


@pytest.mark.parametrize("name", ["gpt2", "my-model", "a", "A.b_c-9", "x" * 96])
def test_good_repo_names(name: str) -> None:
    assert check_repo_name(name) == name


@pytest.mark.parametrize("name", ["", "-a", "a-", ".a", "a..b", "a--b", "x" * 97, "a b", "a/b", "m.git", "é"])
def test_bad_repo_names(name: str) -> None:
    with pytest.raises(BadRequest):
        check_repo_name(name)


@pytest.mark.parametrize("path", ["a.txt", "dir/sub/file.bin", ".gitattributes", "name with space.txt", "ü.txt",
                                  "folder/..\\..\\..\\file", "a\\b"])
def test_good_paths(path: str) -> None:
    assert check_file_path(path) == path


@pytest.mark.parametrize("path", ["", "/a", "a/", "a//b", "../a", "a/../b", "./a", ".git", ".git/x", "a/.GIT/b",
                                  "a\0b", "a\nb", "x" * 1025])
def test_bad_paths(path: str) -> None:
    with pytest.raises(BadRequest):
        check_file_path(path)


@pytest.mark.parametrize("ref", ["dev", "feature/x", "v1.0", "release-2024"])
def test_good_refs(ref: str) -> None:
    assert check_ref_name(ref) == ref


@pytest.mark.parametrize("ref", ["", "-x", "a..b", "a.lock", "a b", "a~1", "a^", "a:b", "refs/heads/x", "/a", "a/",
                                 "0" * 40, "a@{1}"])
def test_bad_refs(ref: str) -> None:
    with pytest.raises(BadRequest):
        check_ref_name(ref)
