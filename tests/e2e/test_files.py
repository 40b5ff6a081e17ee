"""Files with the real client: upload, download by branch/tag/sha, listings, history, refs, deletes, PRs."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationCopy,
    HfApi,
    HfFileSystem,
    hf_hub_download,
    snapshot_download,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RevisionNotFoundError,
)


def git_blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@pytest.fixture
def tree_dir(tmp_path: Path) -> Path:
    root = tmp_path / "up"
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "README.md").write_text("---\nlicense: mit\nlibrary_name: transformers\ntags: [demo]\n---\n# Demo\n")
    (root / "a.txt").write_text("alpha")
    (root / "sub" / "b.txt").write_text("bravo")
    (root / "sub" / "deep" / "c.bin").write_bytes(os.urandom(3000))
    (root / "sub" / "name with space#1.txt").write_text("odd name")
    (root / "empty.txt").write_bytes(b"")
    return root


def test_upload_folder_and_download_every_way(alice: HfApi, repo_name: str, tree_dir: Path, tmp_path: Path) -> None:
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    first = alice.upload_folder(repo_id=repo_id, folder_path=tree_dir, commit_message="first")
    alice.create_tag(repo_id, tag="v1")
    (tree_dir / "a.txt").write_text("alpha two")
    second = alice.upload_folder(repo_id=repo_id, folder_path=tree_dir, commit_message="second")
    assert first.oid != second.oid and len(second.oid) == 40

    cache = tmp_path / "cache"
    by_branch = Path(hf_hub_download(repo_id, "a.txt", cache_dir=cache))
    by_tag = Path(hf_hub_download(repo_id, "a.txt", revision="v1", cache_dir=cache))
    by_sha = Path(hf_hub_download(repo_id, "a.txt", revision=first.oid, cache_dir=cache))
    by_short = Path(hf_hub_download(repo_id, "a.txt", revision=first.oid[:8], cache_dir=tmp_path / "c2"))
    assert by_branch.read_text() == "alpha two"
    assert by_tag.read_text() == by_sha.read_text() == by_short.read_text() == "alpha"
    odd = hf_hub_download(repo_id, "sub/name with space#1.txt", cache_dir=cache)
    assert Path(odd).read_text() == "odd name"
    assert Path(hf_hub_download(repo_id, "empty.txt", cache_dir=cache)).read_bytes() == b""

    snap = Path(snapshot_download(repo_id, cache_dir=tmp_path / "snap"))
    assert snap.name == second.oid
    for f in tree_dir.rglob("*"):
        if f.is_file():
            assert (snap / f.relative_to(tree_dir)).read_bytes() == f.read_bytes()
    old = Path(snapshot_download(repo_id, revision="v1", cache_dir=tmp_path / "snap"))
    assert (old / "a.txt").read_text() == "alpha"

    info = alice.model_info(repo_id, files_metadata=True)
    assert info.sha == second.oid
    assert info.card_data["license"] == "mit"
    assert "license:mit" in info.tags and "demo" in info.tags
    sizes = {s.rfilename: s.size for s in info.siblings}
    assert sizes["sub/deep/c.bin"] == 3000
    blob_ids = {s.rfilename: s.blob_id for s in info.siblings}
    assert blob_ids["a.txt"] == git_blob_sha(b"alpha two")
    assert alice.model_info(repo_id, revision="v1").sha == first.oid


def test_tree_paths_info_refs_commits(alice: HfApi, repo_name: str, tree_dir: Path) -> None:
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    alice.upload_folder(repo_id=repo_id, folder_path=tree_dir)
    top = {e.path: type(e).__name__ for e in alice.list_repo_tree(repo_id)}
    assert top == {".gitattributes": "RepoFile", "README.md": "RepoFile", "a.txt": "RepoFile",
                   "empty.txt": "RepoFile", "sub": "RepoFolder"}
    sub = [e.path for e in alice.list_repo_tree(repo_id, path_in_repo="sub/deep")]
    assert sub == ["sub/deep/c.bin"]
    files = set(alice.list_repo_files(repo_id))
    assert "sub/deep/c.bin" in files and "sub" not in files
    expanded = list(alice.list_repo_tree(repo_id, path_in_repo="sub", expand=True))
    assert all(e.last_commit is not None for e in expanded)
    with pytest.raises(EntryNotFoundError):
        list(alice.list_repo_tree(repo_id, path_in_repo="nope"))

    infos = alice.get_paths_info(repo_id, ["a.txt", "sub", "missing.txt"])
    assert sorted(i.path for i in infos) == ["a.txt", "sub"]
    a = next(i for i in infos if i.path == "a.txt")
    assert a.blob_id == git_blob_sha(b"alpha") and a.size == 5

    alice.create_branch(repo_id, branch="dev")
    alice.create_branch(repo_id, branch="dev", exist_ok=True)
    alice.create_tag(repo_id, tag="v1", tag_message="first release")
    alice.upload_file(path_or_fileobj=b"on dev", path_in_repo="dev.txt", repo_id=repo_id, revision="dev")
    refs = alice.list_repo_refs(repo_id)
    assert {b.name for b in refs.branches} == {"main", "dev"}
    assert [t.name for t in refs.tags] == ["v1"]
    assert not alice.file_exists(repo_id, "dev.txt")
    assert alice.file_exists(repo_id, "dev.txt", revision="dev")
    commits = alice.list_repo_commits(repo_id, revision="dev")
    assert [c.title for c in commits][:2] == ["Upload dev.txt with huggingface_hub",
                                              "Upload folder using huggingface_hub"]
    assert commits[-1].title == "initial commit"
    alice.delete_tag(repo_id, tag="v1")
    alice.delete_branch(repo_id, branch="dev")
    refs = alice.list_repo_refs(repo_id)
    assert [b.name for b in refs.branches] == ["main"] and refs.tags == []
    with pytest.raises(RevisionNotFoundError):
        alice.model_info(repo_id, revision="dev")


def test_history_pagination(alice: HfApi, repo_name: str) -> None:
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    for i in range(60):
        alice.create_commit(repo_id, [CommitOperationAdd(f"f{i}.txt", str(i).encode())], commit_message=f"c{i}")
    commits = alice.list_repo_commits(repo_id)
    assert len(commits) == 61
    assert commits[0].title == "c59" and commits[59].title == "c0"
    formatted = alice.list_repo_commits(repo_id, formatted=True)
    assert formatted[0].formatted_title == "c59"


def test_delete_file_folder_and_exists(alice: HfApi, repo_name: str, tree_dir: Path) -> None:
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    alice.upload_folder(repo_id=repo_id, folder_path=tree_dir)
    assert alice.file_exists(repo_id, "a.txt")
    alice.delete_file("a.txt", repo_id)
    assert not alice.file_exists(repo_id, "a.txt")
    alice.delete_folder("sub", repo_id)
    assert not alice.file_exists(repo_id, "sub/b.txt")
    assert "sub" not in {e.path for e in alice.list_repo_tree(repo_id)}
    with pytest.raises(EntryNotFoundError):
        alice.delete_file("a.txt", repo_id)
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo_id, "a.txt")


def test_stale_parent_commit_rejected(alice: HfApi, repo_name: str) -> None:
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    base = alice.model_info(repo_id).sha
    alice.upload_file(path_or_fileobj=b"one", path_in_repo="x.txt", repo_id=repo_id, parent_commit=base)
    head = alice.model_info(repo_id).sha
    with pytest.raises(HfHubHTTPError) as exc:
        alice.upload_file(path_or_fileobj=b"two", path_in_repo="x.txt", repo_id=repo_id, parent_commit=base)
    assert exc.value.response.status_code == 412
    assert alice.model_info(repo_id).sha == head


def test_pull_requests(alice: HfApi, repo_name: str, tree_dir: Path) -> None:
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    main_sha = alice.model_info(repo_id).sha
    pr = alice.create_commit(repo_id, [CommitOperationAdd("pr.txt", b"proposal")], commit_message="Propose",
                             create_pr=True)
    assert pr.pr_num == 1 and pr.pr_revision == "refs/pr/1"
    assert alice.model_info(repo_id).sha == main_sha
    path = hf_hub_download(repo_id, "pr.txt", revision="refs/pr/1")
    assert Path(path).read_bytes() == b"proposal"
    alice.create_commit(repo_id, [CommitOperationAdd("pr2.txt", b"more")], commit_message="more",
                        revision="refs/pr/1")
    assert alice.file_exists(repo_id, "pr2.txt", revision="refs/pr/1")
    refs = alice.list_repo_refs(repo_id, include_pull_requests=True)
    assert [r.ref for r in refs.pull_requests] == ["refs/pr/1"]
    # the pipelined upload opens a PR through the discussions API, then commits to refs/pr/N
    folder_pr = alice.upload_folder(repo_id=repo_id, folder_path=tree_dir, create_pr=True)
    assert folder_pr.pr_revision == "refs/pr/2"
    assert alice.file_exists(repo_id, "sub/b.txt", revision="refs/pr/2")
    assert not alice.file_exists(repo_id, "sub/b.txt")


def test_copy_and_noop_commit(alice: HfApi, repo_name: str) -> None:
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    alice.upload_file(path_or_fileobj=b"copy me", path_in_repo="src.txt", repo_id=repo_id)
    alice.create_commit(repo_id, [CommitOperationCopy("src.txt", "dst/copy.txt")], commit_message="copy")
    assert Path(hf_hub_download(repo_id, "dst/copy.txt")).read_bytes() == b"copy me"
    head = alice.model_info(repo_id).sha
    again = alice.upload_file(path_or_fileobj=b"copy me", path_in_repo="src.txt", repo_id=repo_id)
    assert again.oid == head  # the client saw the same oid in preupload and skipped the commit


def test_ranges_and_headers(hubd, alice: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    data = os.urandom(5_000).hex().encode()  # text, so it is committed as a regular git blob
    alice.upload_file(path_or_fileobj=data, path_in_repo="r.txt", repo_id=repo_id)
    url = f"{hubd.url}/{repo_id}/resolve/main/r.txt"
    head = httpx.head(url)
    assert head.status_code == 200
    assert head.headers["etag"] == f'"{git_blob_sha(data)}"'
    assert head.headers["content-length"] == "10000"
    assert len(head.headers["x-repo-commit"]) == 40
    part = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == "bytes 100-199/10000"
    past = httpx.get(url, headers={"Range": "bytes=20000-"})
    assert past.status_code == 416 and past.headers["x-error-code"] == "RangeNotSatisfiable"
    fs = HfFileSystem()
    with fs.open(f"{repo_id}/r.txt", "rb") as f:
        f.seek(5000)
        assert f.read(100) == data[5000:5100]
    missing = httpx.head(f"{hubd.url}/{repo_id}/resolve/main/nope.bin")
    assert missing.status_code == 404 and missing.headers["x-error-code"] == "EntryNotFound"
    assert missing.headers["x-repo-commit"] == head.headers["x-repo-commit"]
    bad_rev = httpx.get(f"{hubd.url}/{repo_id}/resolve/nope/r.txt")
    assert bad_rev.headers["x-error-code"] == "RevisionNotFound" and "error" in bad_rev.json()
