"""Xet with the default client (hf_xet installed, nothing disabled): uploads, downloads, ranges, dedup."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import hf_xet
import httpx
import pytest
from huggingface_hub import HfApi, HfFileSystem, hf_hub_download, snapshot_download

from tests.conftest import Hubd, make_hubd, run_client, sha256_file


def write_random(path: Path, size: int, seed: int = 0) -> None:
    rng = __import__("random").Random(seed)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 4 * 2**20)
            f.write(rng.randbytes(n))
            left -= n


@pytest.fixture(scope="module")
def xet_repo(hubd: Hubd, alice: HfApi, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("xet-up")
    write_random(folder / "big.bin", 100 * 2**20, seed=1)
    (folder / "notes.txt").write_text("small files stay regular")
    (folder / "sub").mkdir()
    write_random(folder / "sub" / "mid.bin", 11 * 2**20, seed=2)
    repo_id = "alice/xet-main"
    alice.create_repo(repo_id)
    alice.upload_folder(repo_id=repo_id, folder_path=folder)
    return repo_id, folder


def test_upload_folder_goes_through_xet(alice: HfApi, xet_repo: tuple[str, Path]) -> None:
    repo_id, folder = xet_repo
    entries = {e.path: e for e in alice.list_repo_tree(repo_id, recursive=True) if hasattr(e, "size")}
    big = entries["big.bin"]
    assert big.lfs is not None and big.lfs.sha256 == sha256_file(folder / "big.bin")
    expected = hf_xet.hash_files([str(folder / "big.bin"), str(folder / "sub" / "mid.bin")])
    assert big.xet_hash == expected[0].hash
    assert entries["sub/mid.bin"].xet_hash == expected[1].hash
    assert entries["notes.txt"].xet_hash is None and entries["notes.txt"].lfs is None


def test_downloads_through_xet_and_plain_http(hubd: Hubd, xet_repo: tuple[str, Path], tmp_path: Path) -> None:
    repo_id, folder = xet_repo
    head = httpx.head(f"{hubd.url}/{repo_id}/resolve/main/big.bin")
    assert head.headers["x-xet-hash"] and 'rel="xet-auth"' in head.headers["link"]
    path = hf_hub_download(repo_id, "big.bin", cache_dir=tmp_path / "c1")
    assert sha256_file(path) == sha256_file(folder / "big.bin")
    snap = Path(snapshot_download(repo_id, cache_dir=tmp_path / "c2"))
    assert sha256_file(snap / "sub" / "mid.bin") == sha256_file(folder / "sub" / "mid.bin")
    # the same /resolve URL serves the bytes over plain HTTP to clients without Xet
    out = run_client(
        f"from huggingface_hub import hf_hub_download; print(hf_hub_download({repo_id!r}, 'big.bin', "
        f"cache_dir={str(tmp_path / 'c3')!r}))",
        hubd.tokens["alice"], {"HF_HUB_DISABLE_XET": "1"},
    )
    assert sha256_file(out.strip()) == sha256_file(folder / "big.bin")
    r = httpx.get(f"{hubd.url}/{repo_id}/resolve/main/sub/mid.bin", headers={"Range": "bytes=1000000-1999999"})
    assert r.status_code == 206 and r.headers["content-range"] == f"bytes 1000000-1999999/{11 * 2**20}"
    assert r.content == (folder / "sub" / "mid.bin").read_bytes()[1000000:2000000]
    past = httpx.get(f"{hubd.url}/{repo_id}/resolve/main/sub/mid.bin", headers={"Range": f"bytes={11 * 2**20}-"})
    assert past.status_code == 416


def test_ranged_reads_with_hffilesystem(xet_repo: tuple[str, Path]) -> None:
    repo_id, folder = xet_repo
    data = (folder / "big.bin").read_bytes()
    fs = HfFileSystem()
    with fs.open(f"{repo_id}/big.bin", "rb") as f:
        for offset, n in [(0, 10), (65530, 20), (50 * 2**20 + 3, 300000), (len(data) - 7, 7)]:
            f.seek(offset)
            assert f.read(n) == data[offset:offset + n]


def test_hashes_agree_with_hf_xet(tmp_path: Path) -> None:
    """Every non-empty file goes to Xet on this server; hubd's xetHash must be hf_xet's own hash."""
    server = make_hubd("xet-small", extra_args=["--lfs-threshold", "1"])
    token = server.add_user("dora")
    server.start()
    try:
        api = HfApi(endpoint=server.url, token=token)
        api.create_repo("dora/h")
        folder = tmp_path / "h"
        folder.mkdir()
        sizes = {"one.bin": 1, "below.bin": 8191, "min.bin": 8192, "max.bin": 131072, "maxplus.bin": 131073,
                 "few.bin": 3 * 2**20 + 17, "xorbs.bin": 70 * 2**20}
        for i, (name, size) in enumerate(sizes.items()):
            write_random(folder / name, size, seed=10 + i)
        (folder / "zeros.bin").write_bytes(bytes(2**20))
        api.upload_folder(repo_id="dora/h", folder_path=folder)
        tree = {e.path: e.xet_hash for e in api.list_repo_tree("dora/h")}
        names = sorted(p.name for p in folder.iterdir())
        expected = hf_xet.hash_files([str(folder / n) for n in names])
        for name, info in zip(names, expected, strict=True):
            assert tree[name] == info.hash, name
        for name in names:
            got = hf_hub_download("dora/h", name, cache_dir=tmp_path / "c", endpoint=server.url, token=token)
            assert Path(got).read_bytes() == (folder / name).read_bytes(), name
        assert server.cli("fsck", check=False).returncode == 0
    finally:
        server.stop()


def _storage_bytes(server: Hubd) -> int:
    return server.stored_bytes("xet/xorbs/")


def test_dedup_of_an_edited_file(tmp_path: Path) -> None:
    server = make_hubd("xet-dedup")
    token = server.add_user("erin")
    server.start()
    try:
        api = HfApi(endpoint=server.url, token=token)
        api.create_repo("erin/d")
        original = tmp_path / "w.bin"
        write_random(original, 100 * 2**20, seed=5)
        api.upload_file(path_or_fileobj=str(original), path_in_repo="w.bin", repo_id="erin/d")
        first = _storage_bytes(server)
        edited = tmp_path / "w2.bin"
        data = bytearray(original.read_bytes())
        data[50 * 2**20:51 * 2**20] = os.urandom(2**20)
        edited.write_bytes(data)
        api.upload_file(path_or_fileobj=str(edited), path_in_repo="w.bin", repo_id="erin/d")
        added = _storage_bytes(server) - first
        print(f"\nxet dedup: first upload stored {first} bytes; the 1 MiB edit added {added} bytes "
              f"({100 * added / first:.2f}% of the first)")
        assert first >= 100 * 2**20
        assert added <= 0.02 * first + 2 * 2**20
        got = hf_hub_download("erin/d", "w.bin", cache_dir=tmp_path / "c", endpoint=server.url, token=token)
        assert sha256_file(got) == hashlib.sha256(data).hexdigest()
    finally:
        server.stop()


def test_global_dedup_across_clients_and_repos(tmp_path: Path) -> None:
    """A second client with an empty Xet cache, writing to another repo, still reuses stored chunks."""
    server = make_hubd("xet-global")
    token = server.add_user("finn")
    server.start()
    try:
        original = tmp_path / "w.bin"
        write_random(original, 100 * 2**20, seed=7)
        edited = tmp_path / "w2.bin"
        data = bytearray(original.read_bytes())
        data[50 * 2**20:51 * 2**20] = os.urandom(2**20)
        edited.write_bytes(data)
        upload = ("from huggingface_hub import HfApi; api = HfApi(endpoint={url!r}); api.create_repo({repo!r}); "
                  "api.upload_file(path_or_fileobj={path!r}, path_in_repo='w.bin', repo_id={repo!r})")
        run_client(upload.format(url=server.url, repo="finn/a", path=str(original)), token,
                   {"HF_XET_CACHE": str(tmp_path / "cache-a")})
        first = _storage_bytes(server)
        run_client(upload.format(url=server.url, repo="finn/b", path=str(edited)), token,
                   {"HF_XET_CACHE": str(tmp_path / "cache-b")})
        added = _storage_bytes(server) - first
        print(f"\nglobal dedup: first upload stored {first} bytes; another client's edited copy added {added} "
              f"bytes ({100 * added / first:.2f}%)")
        assert added <= 0.02 * first + 2 * 2**20
        got = hf_hub_download("finn/b", "w.bin", cache_dir=tmp_path / "c", endpoint=server.url, token=token)
        assert sha256_file(got) == hashlib.sha256(data).hexdigest()
        assert server.cli("fsck", check=False).returncode == 0
    finally:
        server.stop()
