"""A server killed with SIGKILL mid-commit leaves every repo at its old or its new commit, never between."""

from __future__ import annotations

import base64
import json
import random
import signal
import threading
import time
from collections.abc import Iterator

import httpx
from huggingface_hub import HfApi

from tests.conftest import make_hubd


def _lines(n: int, tag: str) -> Iterator[bytes]:
    yield json.dumps({"key": "header", "value": {"summary": f"big {tag}"}}).encode() + b"\n"
    for i in range(n):
        content = base64.b64encode(f"{tag} {i} ".encode() * 50).decode()
        yield json.dumps({"key": "file", "value": {"path": f"d{i % 37}/f{i}.txt", "content": content,
                                                   "encoding": "base64"}}).encode() + b"\n"


def _slow(lines: Iterator[bytes], delay_every: int, delay: float) -> Iterator[bytes]:
    for i, line in enumerate(lines):
        if i and i % delay_every == 0:
            time.sleep(delay)
        yield line


def _post_commit(url: str, token: str, body: Iterator[bytes], result: dict) -> None:
    try:
        r = httpx.post(url, content=body, timeout=60,
                       headers={"authorization": f"Bearer {token}", "content-type": "application/x-ndjson"})
        result["status"] = r.status_code
        result["sha"] = r.json().get("commitOid") if r.status_code == 200 else None
    except httpx.HTTPError as exc:
        result["error"] = repr(exc)


def test_sigkill_during_commits_leaves_old_or_new(tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = make_hubd("crash")
    token = server.add_user("carol")
    server.start()
    api = HfApi(endpoint=server.url, token=token)
    api.create_repo("carol/c")
    url = f"{server.url}/api/models/carol/c/commit/main"
    rng = random.Random(1234)
    outcomes = []
    try:
        for attempt in range(7):
            before = api.model_info("carol/c").sha
            result: dict = {}
            # the first attempts are killed while the body streams in, the later ones while the commit is built
            body = _slow(_lines(3000, f"a{attempt}"), 500, 1.0) if attempt < 2 else _lines(3000, f"a{attempt}")
            t = threading.Thread(target=_post_commit, args=(url, token, body, result))
            t.start()
            if attempt == 6:
                t.join(60)  # the last one is acknowledged first: a kill after the answer must not lose it
            else:
                time.sleep(rng.uniform(0.3, 4.0))
            server.stop(signal.SIGKILL)
            t.join(60)
            server.start()
            after = api.model_info("carol/c").sha
            files = [f for f in api.list_repo_files("carol/c") if f.startswith("d")]
            if after == before:
                assert result.get("status") != 200, "an acknowledged commit was lost"
                outcomes.append("old")
            else:
                # the new commit is whole: every file of it is there
                assert api.list_repo_commits("carol/c")[0].title == f"big a{attempt}"
                assert len(files) == 3000
                outcomes.append("new")
            fsck = server.cli("fsck", check=False)
            assert fsck.returncode == 0, fsck.stdout
    finally:
        server.stop()
    assert outcomes[0] == "old"  # killed while the body was still streaming in
    assert outcomes[-1] == "new"
