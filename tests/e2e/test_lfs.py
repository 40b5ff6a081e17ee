"""Large files through the LFS batch API (clients with Xet disabled, file objects), hashed while streamed."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi

from tests.backends import BACKEND
from tests.conftest import run_client, sha256_file


def write_random(path: Path, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 8 * 2**20))
            h.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return h.hexdigest()




def test_200mb_lfs_upload_multipart_and_download(hubd, alice: HfApi, repo_name: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    big = tmp_path / "big.bin"
    oid = write_random(big, 200_000_000)
    run_client(
        f"from huggingface_hub import HfApi; HfApi().upload_file(path_or_fileobj={str(big)!r}, "
        f"path_in_repo='weights/big.bin', repo_id={repo_id!r})",
        hubd.tokens["alice"], {"HF_HUB_DISABLE_XET": "1"},
    )
    entry = alice.get_paths_info(repo_id, ["weights/big.bin"])[0]
    assert entry.lfs is not None and entry.lfs.sha256 == oid and entry.size == 200_000_000
    head = httpx.head(f"{hubd.url}/{repo_id}/resolve/main/weights/big.bin")
    assert head.headers["x-linked-etag"] == f'"{oid}"' and head.headers["x-linked-size"] == "200000000"
    out = run_client(
        f"from huggingface_hub import hf_hub_download; print(hf_hub_download({repo_id!r}, 'weights/big.bin', "
        f"cache_dir={str(tmp_path / 'cache')!r}))",
        hubd.tokens["alice"], {"HF_HUB_DISABLE_XET": "1"},
    )
    assert sha256_file(out.strip()) == oid


def test_lfs_basic_upload_and_bytesio_fallback(hubd, alice: HfApi, repo_name: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id, repo_type="dataset")
    mid = tmp_path / "mid.bin"
    oid = write_random(mid, 12 * 2**20)
    # a file object goes to the LFS batch API even with hf_xet installed
    with open(mid, "rb") as f:
        alice.upload_file(path_or_fileobj=f, path_in_repo="mid.bin", repo_id=repo_id, repo_type="dataset")
    info = alice.dataset_info(repo_id, files_metadata=True)
    sib = next(s for s in info.siblings if s.rfilename == "mid.bin")
    assert sib.lfs.sha256 == oid and sib.lfs.size == 12 * 2**20 and sib.lfs.pointer_size > 0
    from huggingface_hub import hf_hub_download

    path = hf_hub_download(repo_id, "mid.bin", repo_type="dataset", cache_dir=tmp_path / "c")
    assert Path(path).name == "mid.bin" and sha256_file(path) == oid
    # local_dir downloads keep the file when its sha256 matches the etag
    local = hf_hub_download(repo_id, "mid.bin", repo_type="dataset", local_dir=tmp_path / "ld")
    assert sha256_file(local) == oid
    # a range over several of the server's reused 1 MiB read buffers, unaligned at both ends: every block
    # is the file's own bytes, none a leftover of the block before (object storage: a redirect, followed)
    data = mid.read_bytes()
    start, end = 2**20 - 5, 4 * 2**20 + 7
    part = httpx.get(f"{hubd.url}/datasets/{repo_id}/resolve/main/mid.bin", headers={"Range": f"bytes={start}-{end}"},
                     follow_redirects=True)
    assert part.status_code == 206 and part.content == data[start:end + 1]
    # the LFS download href answers HEAD with the headers alone (object storage: the presigned redirect)
    batch = httpx.post(f"{hubd.url}/datasets/{repo_id}.git/info/lfs/objects/batch", json={
        "operation": "download", "transfers": ["basic"], "objects": [{"oid": oid, "size": len(data)}]}).json()
    href = batch["objects"][0]["actions"]["download"]["href"]
    head = httpx.head(href)
    if BACKEND == "sqlite":
        assert head.status_code == 200 and head.headers["content-length"] == str(len(data)) and head.content == b""
    else:
        assert head.status_code == 302 and head.headers["location"] and head.content == b""
    assert httpx.get(href, headers={"Range": "bytes=-3"}, follow_redirects=True).content == data[-3:]


def _batch(hubd, repo_id: str, oid: str, size: int) -> dict:  # type: ignore[no-untyped-def]
    r = httpx.post(
        f"{hubd.url}/{repo_id}.git/info/lfs/objects/batch",
        headers={"authorization": f"Bearer {hubd.tokens['alice']}", "content-type": "application/vnd.git-lfs+json"},
        content=json.dumps({"operation": "upload", "transfers": ["basic"], "hash_algo": "sha256",
                            "objects": [{"oid": oid, "size": size}]}),
    )
    r.raise_for_status()
    return r.json()["objects"][0]


def _transfer(hubd, actions: dict, body: bytes) -> httpx.Response:  # type: ignore[no-untyped-def]
    """What the client does with one object's actions: PUT the bytes, then verify when asked to.
    Returns the first refusal, or the last answer. (On S3 the PUT goes straight to the bucket and
    hubd checks the bytes at verify; on disk hubd checks them while they stream in.)"""
    r = httpx.put(actions["upload"]["href"], content=body)
    if r.status_code >= 300 or "verify" not in actions:
        return r
    return httpx.post(actions["verify"]["href"], json={"oid": actions["_oid"], "size": actions["_size"]},
                      headers={"authorization": f"Bearer {hubd.tokens['alice']}"})


def test_corrupt_or_short_upload_is_rejected(hubd, alice: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    data = os.urandom(100_000)
    oid = hashlib.sha256(data).hexdigest()

    def actions() -> dict:
        obj = _batch(hubd, repo_id, oid, len(data))
        return {**obj["actions"], "_oid": oid, "_size": len(data)} if "actions" in obj else {}

    flipped = bytearray(data)
    flipped[5000] ^= 1
    for bad in (bytes(flipped), data[:-1], data + b"x"):
        r = _transfer(hubd, actions(), bad)
        assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest"
    # nothing was stored: the object is still asked for, and a commit naming it is refused
    assert actions()
    before = alice.model_info(repo_id).sha
    commit = "\n".join(json.dumps(x) for x in [
        {"key": "header", "value": {"summary": "bad"}},
        {"key": "lfsFile", "value": {"path": "x.bin", "algo": "sha256", "oid": oid, "size": len(data)}},
    ])
    r = httpx.post(f"{hubd.url}/api/models/{repo_id}/commit/main", content=commit,
                   headers={"authorization": f"Bearer {hubd.tokens['alice']}",
                            "content-type": "application/x-ndjson"})
    assert r.status_code == 400
    assert alice.model_info(repo_id).sha == before
    # a tampered signature is refused; the real bytes are then accepted
    tampered = actions()
    for action in ("upload", "verify"):  # hubd's signature, or the object store's on a presigned URL
        href = tampered[action]["href"]
        tampered[action]["href"] = href.replace("sig=", "sig=0").replace("Signature=", "Signature=0")
    assert _transfer(hubd, tampered, data).status_code == 403
    assert _transfer(hubd, actions(), data).status_code == 200
    assert not actions()


# a read token, or no token: anyone with a write token may upload content for a pull request
@pytest.mark.parametrize("who", ["alice-read", None])
def test_lfs_batch_needs_write_access(hubd, alice: HfApi, repo_name: str, who: str | None) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    headers = {"content-type": "application/vnd.git-lfs+json"}
    if who:
        headers["authorization"] = f"Bearer {hubd.tokens[who]}"
    r = httpx.post(f"{hubd.url}/{repo_id}.git/info/lfs/objects/batch", headers=headers, content=json.dumps(
        {"operation": "upload", "objects": [{"oid": "a" * 64, "size": 1}]}))
    assert r.status_code in (401, 403) and "error" in r.json()
