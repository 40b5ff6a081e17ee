"""super_squash_history, list_lfs_files and permanently_delete_lfs_files with the official client."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

from tests.conftest import run_client


def _u() -> str:
    return uuid.uuid4().hex[:8]


def test_super_squash(hubd, alice, bob) -> None:  # type: ignore[no-untyped-def]
    repo = alice.create_repo(f"alice/sq-{_u()}").repo_id
    for i in range(3):
        alice.upload_file(path_or_fileobj=f"v{i}".encode(), path_in_repo=f"f{i}.txt", repo_id=repo)
    alice.create_branch(repo, branch="dev")
    alice.upload_file(path_or_fileobj=b"dev", path_in_repo="d.txt", repo_id=repo, revision="dev")
    old = alice.list_repo_commits(repo)
    assert len(old) == 4
    for api in (bob, HfApi(token=hubd.tokens["alice-read"])):
        with pytest.raises(HfHubHTTPError) as err:
            api.super_squash_history(repo)
        assert err.value.response.status_code == 403
    alice.super_squash_history(repo, commit_message="one commit")
    commits = alice.list_repo_commits(repo)
    assert len(commits) == 1 and commits[0].title == "one commit"
    assert sorted(alice.list_repo_files(repo)) == [".gitattributes", "f0.txt", "f1.txt", "f2.txt"]
    assert alice.list_repo_commits(repo, revision=old[1].commit_id)  # the old commits stay readable by sha
    alice.super_squash_history(repo, branch="dev")
    assert len(alice.list_repo_commits(repo, revision="dev")) == 1
    assert "d.txt" in alice.list_repo_files(repo, revision="dev")
    # a special ref
    pr = alice.upload_file(path_or_fileobj=b"pr", path_in_repo="p.txt", repo_id=repo, create_pr=True)
    alice.upload_file(path_or_fileobj=b"pr2", path_in_repo="p2.txt", repo_id=repo, revision=pr.pr_revision)
    alice.super_squash_history(repo, branch=pr.pr_revision)
    assert len(alice.list_repo_commits(repo, revision=pr.pr_revision)) == 1
    with pytest.raises(HfHubHTTPError) as err:
        alice.super_squash_history(repo, branch="nope")
    assert err.value.response.status_code == 404


def test_list_and_permanently_delete_lfs_files(hubd, alice, bob, tmp_path) -> None:  # type: ignore[no-untyped-def]
    repo = alice.create_repo(f"alice/lfs-{_u()}").repo_id
    keep, drop = os.urandom(2048), os.urandom(3072)
    (tmp_path / "keep.bin").write_bytes(keep)
    (tmp_path / "drop.bin").write_bytes(drop)
    # plain LFS (not Xet), so the bytes are one stored object hubd can remove
    run_client(
        "from huggingface_hub import HfApi\n"
        "api = HfApi()\n"
        f"for name in ('keep', 'drop'):\n"
        f"    api.upload_file(path_or_fileobj={str(tmp_path)!r} + f'/{{name}}.bin', path_in_repo=f'w/{{name}}.bin',"
        f" repo_id={repo!r})\n",
        hubd.tokens["alice"], env={"HF_HUB_DISABLE_XET": "1"})
    # an identical copy in another repo must survive the deletion
    other = alice.create_repo(f"alice/lfs2-{_u()}").repo_id
    run_client(
        "from huggingface_hub import HfApi\n"
        f"HfApi().upload_file(path_or_fileobj={str(tmp_path / 'drop.bin')!r}, path_in_repo='drop.bin', "
        f"repo_id={other!r})\n", hubd.tokens["alice"], env={"HF_HUB_DISABLE_XET": "1"})
    alice.delete_file("w/drop.bin", repo_id=repo)  # only history names it now

    files = {f.filename: f for f in alice.list_lfs_files(repo)}
    assert set(files) == {"w/keep.bin", "w/drop.bin"}
    assert files["w/drop.bin"].size == 3072 and len(files["w/drop.bin"].file_oid) == 64
    for api in (bob, HfApi(token=hubd.tokens["alice-read"])):
        with pytest.raises(HfHubHTTPError) as err:
            list(api.list_lfs_files(repo))
        assert err.value.response.status_code == 403
        with pytest.raises(HfHubHTTPError) as err:
            api.permanently_delete_lfs_files(repo, [files["w/drop.bin"]])
        assert err.value.response.status_code == 403
    r = httpx.post(f"{hubd.url}/api/models/{repo}/lfs-files/batch", json={"deletions": {"sha": ["nothex"]}},
                   headers={"authorization": f"Bearer {hubd.tokens['alice']}"})
    assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest"

    old_commit = alice.list_repo_commits(repo)[1].commit_id
    alice.permanently_delete_lfs_files(repo, [files["w/drop.bin"]])
    assert [f.filename for f in alice.list_lfs_files(repo)] == ["w/keep.bin"]
    # the pointer in history reads as absent; the other repo's copy and the kept file still read
    with pytest.raises(EntryNotFoundError):
        alice.hf_hub_download(repo, "w/drop.bin", revision=old_commit, cache_dir=tmp_path / "c1")
    r = httpx.head(f"{hubd.url}/{repo}/resolve/{old_commit}/w/drop.bin",
                   headers={"authorization": f"Bearer {hubd.tokens['alice']}"})
    assert r.status_code == 404
    assert Path(alice.hf_hub_download(other, "drop.bin", cache_dir=tmp_path / "c2")).read_bytes() == drop
    assert Path(alice.hf_hub_download(repo, "w/keep.bin", cache_dir=tmp_path / "c3")).read_bytes() == keep
    # deleting where nobody else links it removes the bytes
    keep_oid = files["w/keep.bin"].file_oid
    alice.permanently_delete_lfs_files(repo, [files["w/keep.bin"]])
    assert not any(k.endswith(keep_oid) for k in hubd.blobs().iter_keys("lfs/"))
    # fsck accepts the deliberate deletions (the session fixture runs fsck at exit too)
    report = hubd.cli("fsck", check=False)
    assert report.returncode == 0, report.stdout
