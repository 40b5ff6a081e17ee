"""Attacks on the Xet CAS server (issue 9, items 2, 5 and 11), each reproduced against a live hubd and
shown to fail safely: a cross-user read through a xorb fetch URL, LZ4 decompression bombs, a 1 TiB
LZ4 frame, shards that ask for unbounded work, and a corrupt stored xorb."""

from __future__ import annotations

import os
import random
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import lz4.frame
import pytest
from huggingface_hub import HfApi, hf_hub_download

from hubd.xet.hashing import chunk_hash, file_hash, range_hash, xet_hex, xet_unhex, xorb_hash
from hubd.xet.shard import BOOKEND, TAG
from hubd.xet.store import FREE_REBUILD_BYTES, MAX_CHUNK_REFS, TERM_REBUILD_FLOOR, xorb_key
from hubd.xet.xorb import HEADER, decompress, parse_header
from tests.conftest import Hubd, make_hubd, run_client
from tests.resources import HealthProbe, peak_rss_mib, rss_mib


@pytest.fixture(scope="module")
def server() -> Iterator[Hubd]:
    """A hub of its own: every non-empty file goes to Xet (small files keep the test fast), and the
    stored xorbs can be damaged without touching the shared hub."""
    s = make_hubd("xet-attacks", extra_args=["--lfs-threshold", "1"])
    s.add_user("alice")
    s.add_user("bob")
    s.start()
    yield s
    s.stop()


def cas_auth(server: Hubd, user: str, repo: str, mode: str = "write") -> tuple[str, dict[str, str]]:
    r = httpx.get(f"{server.url}/api/models/{repo}/xet-{mode}-token/main",
                  headers={"authorization": f"Bearer {server.tokens[user]}"})
    r.raise_for_status()
    return r.json()["casUrl"], {"authorization": f"Bearer {r.json()['accessToken']}"}


def record(data: bytes, scheme: int = 0, declared: int | None = None, body: bytes | None = None) -> bytes:
    body = data if body is None else body
    size = len(data) if declared is None else declared
    return bytes([0]) + len(body).to_bytes(3, "little") + bytes([scheme]) + size.to_bytes(3, "little") + body


def make_xorb(chunks: list[bytes]) -> tuple[str, bytes]:
    return xet_hex(xorb_hash([(chunk_hash(c), len(c)) for c in chunks])), b"".join(record(c) for c in chunks)


def make_shard(files: list[tuple[list[tuple[bytes, int, int, list[bytes]]], list[bytes]]]) -> bytes:
    """files: (terms, chunks of the file in order); a term is (xorb raw hash, start, end, chunks [start, end))."""
    out = struct.pack("<32sQQ", TAG, 2, 0)
    for terms, chunks in files:
        fh = file_hash([(chunk_hash(c), len(c)) for c in chunks])
        out += struct.pack("<32sII8x", fh, 0x80000000, len(terms))
        for xorb, start, end, cs in terms:
            out += struct.pack("<32sIIII", xorb, 0, sum(len(c) for c in cs), start, end)
        for _xorb, _start, _end, cs in terms:
            out += range_hash([chunk_hash(c) for c in cs]) + bytes(16)
    return out + BOOKEND + BOOKEND


# --- item 2: a xorb fetch URL grants the reader's byte ranges only ---------------------------------------

def _reconstruction(server: Hubd, user: str, repo: str, xet_hash: str, version: str = "v1") -> dict:
    url, auth = cas_auth(server, user, repo, "read")
    r = httpx.get(f"{url}/{version}/reconstructions/{xet_hash}", headers={**auth, "Range": "bytes=0-"})
    r.raise_for_status()
    return r.json()


def test_fetch_url_serves_only_the_granted_ranges(server: Hubd, tmp_path: Path) -> None:
    alice = HfApi(endpoint=server.url, token=server.tokens["alice"])
    rng = random.Random(42)
    folder = tmp_path / "vault"
    folder.mkdir()
    secret = rng.randbytes(600_000)
    public = rng.randbytes(700_000)
    (folder / "secret.bin").write_bytes(secret)
    (folder / "public.bin").write_bytes(public)
    alice.create_repo("alice/vault", private=True)
    alice.upload_folder(repo_id="alice/vault", folder_path=folder)  # one commit, one xorb for both files
    tree = {e.path: e.xet_hash for e in alice.list_repo_tree("alice/vault")}

    # bob holds a copy of public.bin (published elsewhere) and uploads it with an empty Xet cache: global
    # dedup answers with alice's xorb, and bob's file is stored as a reference into it
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "public.bin").write_bytes(public)
    run_client(
        f"from huggingface_hub import HfApi; api = HfApi(endpoint={server.url!r}); api.create_repo('bob/mine'); "
        f"api.upload_folder(repo_id='bob/mine', folder_path={str(tmp_path / 'mine')!r})",
        server.tokens["bob"], {"HF_XET_CACHE": str(tmp_path / "bob-cache")})
    bob_hash = {e.path: e.xet_hash for e in HfApi(endpoint=server.url, token=server.tokens["bob"])
                .list_repo_tree("bob/mine")}["public.bin"]
    assert bob_hash == tree["public.bin"]

    secret_info = _reconstruction(server, "alice", "alice/vault", tree["secret.bin"])
    info = _reconstruction(server, "bob", "bob/mine", bob_hash)
    shared = set(info["fetch_info"]) & set(secret_info["fetch_info"])
    assert shared, "setup: bob's file and alice's secret should share a xorb"
    xorb = shared.pop()
    grant = info["fetch_info"][xorb][0]
    a, b = grant["url_range"]["start"], grant["url_range"]["end"]
    secret_spans = [(e["url_range"]["start"], e["url_range"]["end"]) for e in secret_info["fetch_info"][xorb]]
    assert all(e < a or s > b for s, e in secret_spans), "the secret's bytes lie outside bob's grant"

    url = grant["url"]
    whole = httpx.get(url)  # the attack: no Range, hoping for the whole xorb
    assert whole.status_code == 403 and whole.headers["x-error-code"] == "Forbidden"
    assert "error" in whole.json() and len(whole.content) < 1000
    for s, e in secret_spans:  # the secret's own bytes, and ranges straddling the grant
        outside = httpx.get(url, headers={"Range": f"bytes={s}-{e}"})
        assert outside.status_code == 416 and outside.headers["x-error-code"] == "RangeNotSatisfiable"
    for rng_header in (f"bytes={a}-{b + 1}", f"bytes={max(a - 1, 0)}-{b}" if a else f"bytes={b}-{b + 10}",
                       f"bytes={a}-", f"bytes=-{b - a + 1}", f"bytes={a}-{a},{b}-{b}", "bytes=0-0x10"):
        assert httpx.get(url, headers={"Range": rng_header}).status_code == 416, rng_header
    forged = url.replace(f"r={a}-{b}", f"r=0-{b + 10_000_000}")
    assert httpx.get(forged, headers={"Range": f"bytes=0-{b}"}).status_code == 403

    inside = httpx.get(url, headers={"Range": f"bytes={a}-{b}"})
    assert inside.status_code == 206 and len(inside.content) == b - a + 1
    # the granted bytes are bob's own file: chunk records that decompress to public.bin
    got, pos = bytearray(), 0
    while pos < len(inside.content):
        clen, scheme, ulen = parse_header(inside.content[pos:pos + HEADER])
        got += decompress(scheme, inside.content[pos + HEADER:pos + HEADER + clen], ulen)
        pos += HEADER + clen
    assert bytes(got) in public
    part = httpx.get(url, headers={"Range": f"bytes={a}-{a + 7}"})  # a sub-range of the grant is fine
    assert part.status_code == 206 and part.content == inside.content[:8]

    # v2 answers are bound the same way
    v2 = _reconstruction(server, "bob", "bob/mine", bob_hash, "v2")
    entry = v2["xorbs"][xorb][0]
    span = entry["ranges"][0]["bytes"]
    assert httpx.get(entry["url"]).status_code == 403
    for s, e in secret_spans:
        assert httpx.get(entry["url"], headers={"Range": f"bytes={s}-{e}"}).status_code == 416
    ok = httpx.get(entry["url"], headers={"Range": f"bytes={span['start']}-{span['end']}"})
    assert ok.status_code == 206 and ok.content == inside.content

    # the default client still downloads through these URLs, for both users
    path = hf_hub_download("bob/mine", "public.bin", cache_dir=tmp_path / "c1", endpoint=server.url,
                           token=server.tokens["bob"])
    assert Path(path).read_bytes() == public
    path = hf_hub_download("alice/vault", "secret.bin", cache_dir=tmp_path / "c2", endpoint=server.url,
                           token=server.tokens["alice"])
    assert Path(path).read_bytes() == secret


def test_dedup_query_needs_a_write_token(server: Hubd) -> None:
    alice = HfApi(endpoint=server.url, token=server.tokens["alice"])
    alice.create_repo("alice/dq")
    url, write = cas_auth(server, "alice", "alice/dq")
    chunks = [os.urandom(20000)]
    name, body = make_xorb(chunks)
    assert httpx.post(f"{url}/v1/xorbs/default/{name}", content=body, headers=write).status_code == 200
    raw = xet_unhex(name)
    shard = make_shard([([(raw, 0, 1, chunks)], chunks)])
    assert httpx.post(f"{url}/v1/shards", content=shard, headers=write).status_code == 200
    first = xet_hex(chunk_hash(chunks[0]))  # the first chunk of every file is indexed
    assert httpx.get(f"{url}/v1/chunks/default/{first}", headers=write).status_code == 200
    _url, read = cas_auth(server, "alice", "alice/dq", "read")
    r = httpx.get(f"{url}/v1/chunks/default/{first}", headers=read)
    assert r.status_code == 403 and r.headers["x-error-code"] == "Forbidden"
    assert httpx.get(f"{url}/v1/chunks/default/{first}").status_code == 401


# --- item 5: decompression bombs -------------------------------------------------------------------------

def _bomb_chunk() -> bytes:
    """A chunk record of ~247 KB whose LZ4 frame inflates to 60 MiB while its header declares 64 KiB."""
    body = lz4.frame.compress(bytes(60 * 2**20))
    assert len(body) < 262144
    return record(b"", scheme=1, declared=65536, body=body)


@pytest.mark.once  # the server's memory and liveness, whatever the backend
def test_lz4_bomb_stays_bounded(tmp_path: Path) -> None:
    s = make_hubd("xet-bomb")
    s.add_user("mallory")
    s.start()
    try:
        HfApi(endpoint=s.url, token=s.tokens["mallory"]).create_repo("mallory/b")
        url, auth = cas_auth(s, "mallory", "mallory/b")
        bomb = _bomb_chunk()
        # a valid first chunk, then bombs: the parser gets past the header checks before inflating
        body = record(os.urandom(1000)) + bomb
        before = rss_mib(s.proc.pid)
        bomb_file = tmp_path / "bomb.xorb"
        bomb_file.write_bytes(body)
        # the senders run in their own process, so that the probe's timings are hubd's, not this
        # interpreter's threads competing for its GIL
        sender = (
            "import sys, httpx; from concurrent.futures import ThreadPoolExecutor\n"
            f"body = open({str(bomb_file)!r}, 'rb').read()\n"
            "client = httpx.Client(limits=httpx.Limits(max_connections=20), timeout=60)\n"
            f"def send(i): return client.post({url!r} + f'/v1/xorbs/default/{{i:064x}}', content=body, "
            f"headers={auth!r})\n"
            "with ThreadPoolExecutor(20) as pool: answers = list(pool.map(send, range(100)))\n"
            "print(' '.join(f'{r.status_code}:{r.headers.get(\"x-error-code\")}' for r in answers))\n"
        )
        with HealthProbe(s.url) as probe:
            out = subprocess.run([sys.executable, "-c", sender], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        answers = out.stdout.split()
        peak = peak_rss_mib(s.proc.pid)
        print(f"\nlz4 bomb: 100 uploads ({len(body) * 100 / 1e6:.1f} MB sent, 20 at a time): worker RSS "
              f"{before:.0f} MiB before, peak {peak:.0f} MiB, {rss_mib(s.proc.pid):.0f} MiB after; "
              f"slowest /healthz {probe.slowest:.3f} s over {probe.answers} probes")
        assert answers == ["400:BadRequest"] * 100
        assert peak < before + 150  # unbounded inflation was 60 MiB per chunk, 4.45 GB for this run
        assert probe.answers > 0 and probe.slowest < 1.0
        assert not [k for k in s.blobs().iter_keys("xet/")]  # nothing was kept
    finally:
        s.stop()


def test_lz4_frame_declaring_1_tib(server: Hubd) -> None:
    HfApi(endpoint=server.url, token=server.tokens["alice"]).create_repo("alice/tib")
    url, auth = cas_auth(server, "alice", "alice/tib")
    c = lz4.frame.LZ4FrameCompressor()
    frame = c.begin(source_size=2**40) + c.compress(b"a" * 1000) + b"\0\0\0\0"
    for body in (record(b"", scheme=1, declared=1000, body=frame),
                 record(b"", scheme=2, declared=131072, body=frame)):
        r = httpx.post(f"{url}/v1/xorbs/default/{'ab' * 32}", content=body, headers=auth)
        assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest"
        assert r.json()["error"]
    # garbage where the frame should be, and a scheme that does not exist: clean 400s too
    for body in (record(b"", scheme=1, declared=10, body=b"not an lz4 frame"), record(b"x" * 10, scheme=3)):
        r = httpx.post(f"{url}/v1/xorbs/default/{'ab' * 32}", content=body, headers=auth)
        assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest"
    # a legitimate LZ4 chunk of the same kind is accepted
    data = b"abc" * 20000
    name = xet_hex(xorb_hash([(chunk_hash(data), len(data))]))
    ok = httpx.post(f"{url}/v1/xorbs/default/{name}", content=record(data, 1, body=lz4.frame.compress(data)),
                    headers=auth)
    assert ok.status_code == 200


# --- item 11: shard amplification ------------------------------------------------------------------------

def _no_files_stored(server: Hubd, before: set[str]) -> bool:
    return set(server.blobs().iter_keys("xet/files/")) == before


def test_shard_repeating_a_range_is_refused_before_the_work(server: Hubd) -> None:
    HfApi(endpoint=server.url, token=server.tokens["alice"]).create_repo("alice/amp")
    url, auth = cas_auth(server, "alice", "alice/amp")
    # one xorb of 64 chunks × 128 KiB = 8 MiB, then a file that names all of it again and again
    chunks = [os.urandom(131072) for _ in range(64)]
    name, body = make_xorb(chunks)
    assert httpx.post(f"{url}/v1/xorbs/default/{name}", content=body, headers=auth).status_code == 200
    raw = xet_unhex(name)
    repeats = FREE_REBUILD_BYTES // (8 * 2**20) + 8
    shard = make_shard([([(raw, 0, 64, chunks)] * repeats, chunks * repeats)])
    before = set(server.blobs().iter_keys("xet/files/"))
    started = time.perf_counter()
    r = httpx.post(f"{url}/v1/shards", content=shard, headers=auth, timeout=120)
    took = time.perf_counter() - started
    print(f"\namplified shard: {len(shard) / 1e3:.0f} KB asking for {repeats * 8 / 1024:.1f} GiB of rebuild "
          f"-> {r.status_code} in {took:.2f} s")
    assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest" and "rebuild" in r.json()["error"]
    assert took < 3
    assert _no_files_stored(server, before)

    # tiny chunks instead: a ~20 KB shard naming millions of chunks (the file hash is a merkle tree over
    # every one of them) is refused before any hashing
    tiny = [bytes([i % 256, i // 256]) for i in range(8192)]
    tname, tbody = make_xorb(tiny)
    assert httpx.post(f"{url}/v1/xorbs/default/{tname}", content=tbody, headers=auth).status_code == 200
    n = MAX_CHUNK_REFS // 8192 + 1
    shard = struct.pack("<32sQQ", TAG, 2, 0) + struct.pack("<32sII8x", os.urandom(32), 0x80000000, n)
    shard += struct.pack("<32sIIII", xet_unhex(tname), 0, 2 * 8192, 0, 8192) * n
    shard += (range_hash([chunk_hash(c) for c in tiny]) + bytes(16)) * n + BOOKEND + BOOKEND
    started = time.perf_counter()
    r = httpx.post(f"{url}/v1/shards", content=shard, headers=auth, timeout=120)
    took = time.perf_counter() - started
    print(f"chunk-reference shard: {len(shard) / 1e3:.0f} KB naming {n * 8192} chunks -> {r.status_code} "
          f"in {took:.2f} s")
    assert r.status_code == 400 and "chunks" in r.json()["error"] and took < 3
    assert _no_files_stored(server, before)

    # repeats within the allowance are real files (a file of zeros is one chunk many times) and work
    few = make_shard([([(raw, 0, 1, chunks[:1])] * 8, chunks[:1] * 8)])
    assert httpx.post(f"{url}/v1/shards", content=few, headers=auth).status_code == 200



def test_shard_of_many_tiny_terms_is_refused_before_the_work(server: Hubd) -> None:
    """Each term costs a lookup and a read whatever its size: a file of 40,000 one-chunk terms of 64 bytes is
    2.5 MB to rebuild, under every byte limit, but was accepted after 5.6 s of work (load 4; 2^18 such terms,
    the most a file may have, ~37 s); each term is now charged a floor and the shard refused up front."""
    HfApi(endpoint=server.url, token=server.tokens["alice"]).create_repo("alice/tiny-terms")
    url, auth = cas_auth(server, "alice", "alice/tiny-terms")
    chunks = [os.urandom(64)]
    name, body = make_xorb(chunks)
    assert httpx.post(f"{url}/v1/xorbs/default/{name}", content=body, headers=auth).status_code == 200
    repeats = FREE_REBUILD_BYTES // TERM_REBUILD_FLOOR + 7232
    assert repeats * 64 < FREE_REBUILD_BYTES  # the bytes alone would pass
    shard = make_shard([([(xet_unhex(name), 0, 1, chunks)] * repeats, chunks * repeats)])
    before = set(server.blobs().iter_keys("xet/files/"))
    started = time.perf_counter()
    r = httpx.post(f"{url}/v1/shards", content=shard, headers=auth, timeout=120)
    took = time.perf_counter() - started
    print(f"\n{repeats} tiny terms: {len(shard) / 1e6:.1f} MB shard -> {r.status_code} in {took:.2f} s")
    assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest" and "rebuild" in r.json()["error"]
    assert took < 5
    assert _no_files_stored(server, before)

def test_bad_shard_changes_nothing_even_after_good_files(server: Hubd) -> None:
    HfApi(endpoint=server.url, token=server.tokens["alice"]).create_repo("alice/partial")
    url, auth = cas_auth(server, "alice", "alice/partial")
    chunks = [os.urandom(30000), os.urandom(30000)]
    name, body = make_xorb(chunks)
    assert httpx.post(f"{url}/v1/xorbs/default/{name}", content=body, headers=auth).status_code == 200
    raw = xet_unhex(name)
    good = ([(raw, 0, 1, chunks[:1])], chunks[:1])
    bad = ([(raw, 1, 2, chunks[1:])], chunks[:1])  # its file hash names the other chunk
    before = set(server.blobs().iter_keys("xet/files/"))
    r = httpx.post(f"{url}/v1/shards", content=make_shard([good, bad]), headers=auth)
    assert r.status_code == 400
    assert _no_files_stored(server, before)  # the first, valid file was not stored either


# --- a corrupt stored xorb is hubd's fault ---------------------------------------------------------------

def test_corrupt_stored_xorb_is_a_server_error(server: Hubd) -> None:
    HfApi(endpoint=server.url, token=server.tokens["alice"]).create_repo("alice/rot")
    url, auth = cas_auth(server, "alice", "alice/rot")
    chunks = [os.urandom(40000), os.urandom(40000)]
    name, body = make_xorb(chunks)
    assert httpx.post(f"{url}/v1/xorbs/default/{name}", content=body, headers=auth).status_code == 200
    raw = xet_unhex(name)
    assert httpx.post(f"{url}/v1/shards", content=make_shard([([(raw, 0, 1, chunks[:1])], chunks[:1])]),
                      headers=auth).status_code == 200
    # the storage damages the second record's header after the upload was validated
    blobs = server.blobs()
    stored = bytearray(blobs.read(xorb_key(name)))
    stored[HEADER + 40000] = 7  # chunk version 7
    blobs.delete(xorb_key(name))  # put_bytes keeps an existing key (content is immutable)
    blobs.put_bytes(xorb_key(name), bytes(stored))
    # a new file over the damaged chunk: the rebuild for its sha256 meets the corruption
    r = httpx.post(f"{url}/v1/shards", content=make_shard([([(raw, 0, 2, chunks)], chunks)]), headers=auth)
    assert r.status_code == 500 and r.headers["x-error-code"] == "StorageCorrupt", r.text
    assert "corrupt" in r.json()["error"]
    # the same bytes uploaded by a client are the client's fault
    r = httpx.post(f"{url}/v1/xorbs/default/{name}", content=bytes(stored), headers=auth)
    assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest"
