"""The CAS server's checks, driven over HTTP with xorbs and shards built in the test."""

from __future__ import annotations

import os
import struct

import httpx
import pytest
from huggingface_hub import HfApi

from hubd.xet.hashing import chunk_hash, file_hash, range_hash, xet_hex, xorb_hash
from hubd.xet.shard import BOOKEND, TAG
from tests.conftest import Hubd


def make_xorb(chunks: list[bytes]) -> tuple[str, bytes]:
    body = b"".join(bytes([0]) + len(c).to_bytes(3, "little") + bytes([0]) + len(c).to_bytes(3, "little") + c
                    for c in chunks)
    return xet_hex(xorb_hash([(chunk_hash(c), len(c)) for c in chunks])), body


def make_shard(xorb_raw: bytes, chunks: list[bytes], sha256_raw: bytes | None = None) -> bytes:
    hashes = [chunk_hash(c) for c in chunks]
    size = sum(len(c) for c in chunks)
    fh = file_hash([(h, len(c)) for h, c in zip(hashes, chunks, strict=True)])
    out = struct.pack("<32sQQ", TAG, 2, 0)
    flags = 0x80000000 | (0x40000000 if sha256_raw else 0)
    out += struct.pack("<32sII8x", fh, flags, 1)
    out += struct.pack("<32sIIII", xorb_raw, 0, size, 0, len(chunks))
    out += range_hash(hashes) + bytes(16)
    if sha256_raw:
        out += sha256_raw + bytes(16)
    out += BOOKEND + BOOKEND
    return out


@pytest.fixture
def cas(hubd: Hubd, alice: HfApi, repo_name: str) -> tuple[str, dict]:
    alice.create_repo(f"alice/{repo_name}")
    r = httpx.get(f"{hubd.url}/api/models/alice/{repo_name}/xet-write-token/main",
                  headers={"authorization": f"Bearer {hubd.tokens['alice']}"})
    r.raise_for_status()
    assert r.headers["x-xet-access-token"] == r.json()["accessToken"]
    assert int(r.headers["x-xet-token-expiration"]) == r.json()["exp"]
    return r.json()["casUrl"], {"authorization": f"Bearer {r.json()['accessToken']}"}


def test_corrupt_xorb_rejected_and_nothing_kept(hubd: Hubd, cas: tuple[str, dict]) -> None:
    url, auth = cas
    chunks = [os.urandom(70000), os.urandom(5000)]
    name, body = make_xorb(chunks)
    flipped = bytearray(body)
    flipped[100] ^= 1
    r = httpx.post(f"{url}/v1/xorbs/default/{name}", content=bytes(flipped), headers=auth)
    assert r.status_code == 400 and "hash" in r.json()["error"]
    for truncated in (body[:-1], body[:5], b""):
        assert httpx.post(f"{url}/v1/xorbs/default/{name}", content=truncated, headers=auth).status_code == 400
    assert not [k for k in hubd.blobs().iter_keys("xet/") if name in k]
    # a shard that names the xorb is refused while the xorb is missing
    r = httpx.post(f"{url}/v1/shards", content=make_shard(bytes.fromhex("00" * 32), chunks), headers=auth)
    assert r.status_code == 400
    # the genuine bytes are accepted once, then known
    ok = httpx.post(f"{url}/v1/xorbs/default/{name}", content=body, headers=auth)
    assert ok.status_code == 200 and ok.json() == {"was_inserted": True}
    again = httpx.post(f"{url}/v1/xorbs/default/{name}", content=body, headers=auth)
    assert again.json() == {"was_inserted": False}


def test_shard_checks(hubd: Hubd, cas: tuple[str, dict]) -> None:
    from hubd.xet.hashing import xet_unhex

    url, auth = cas
    chunks = [os.urandom(30000)]
    name, body = make_xorb(chunks)
    assert httpx.post(f"{url}/v1/xorbs/default/{name}", content=body, headers=auth).status_code == 200
    raw = xet_unhex(name)
    missing = make_shard(xet_unhex("ab" * 32), chunks)
    r = httpx.post(f"{url}/v1/shards", content=missing, headers=auth)
    assert r.status_code == 400 and "not uploaded" in r.json()["error"]
    wrong_sha = make_shard(raw, chunks, sha256_raw=os.urandom(32))
    assert httpx.post(f"{url}/v1/shards", content=wrong_sha, headers=auth).status_code == 400
    bad_verification = bytearray(make_shard(raw, chunks))
    bad_verification[48 * 3] ^= 1
    assert httpx.post(f"{url}/v1/shards", content=bytes(bad_verification), headers=auth).status_code == 400
    assert httpx.post(f"{url}/v1/shards", content=b"garbage" * 10, headers=auth).status_code == 400
    fh = xet_hex(file_hash([(chunk_hash(chunks[0]), len(chunks[0]))]))
    stored = f"xet/files/{fh[:2]}/{fh}"
    assert not hubd.blobs().exists(stored)  # the refused shards left nothing behind
    ok = httpx.post(f"{url}/v1/shards", content=make_shard(raw, chunks), headers=auth)
    assert ok.status_code == 200 and ok.json() == {"result": 1}
    assert hubd.blobs().exists(stored)


def test_tokens_are_scoped(hubd: Hubd, cas: tuple[str, dict], alice: HfApi, repo_name: str) -> None:
    url, auth = cas
    assert httpx.post(f"{url}/v1/shards", content=b"", headers={}).status_code == 401
    forged = {"authorization": auth["authorization"][:-4] + "0000"}
    assert httpx.post(f"{url}/v1/xorbs/default/{'a' * 64}", content=b"", headers=forged).status_code == 401
    read = httpx.get(f"{hubd.url}/api/models/alice/{repo_name}/xet-read-token/main").json()
    read_auth = {"authorization": f"Bearer {read['accessToken']}"}
    assert httpx.post(f"{url}/v1/shards", content=b"", headers=read_auth).status_code == 403
    # a read token gets no write token (any write token does: pull requests upload content too); nobody gets
    # one for a private repo they cannot see
    r = httpx.get(f"{hubd.url}/api/models/alice/{repo_name}/xet-write-token/main",
                  headers={"authorization": f"Bearer {hubd.tokens['alice-read']}"})
    assert r.status_code == 403
    alice.update_repo_settings(f"alice/{repo_name}", private=True)
    r = httpx.get(f"{hubd.url}/api/models/alice/{repo_name}/xet-read-token/main")
    assert r.status_code == 401 and r.headers["x-error-code"] == "RepoNotFound"
    # unknown CAS endpoints answer 404, which the client takes as "not supported"
    assert httpx.post(f"{url}/v2/shards", content=b"", headers=auth).status_code == 404
    assert httpx.post(f"{url}/v1/xorb-grants/default/{'a' * 64}", json={}, headers=auth).status_code == 404
