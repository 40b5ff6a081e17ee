"""The bad-input catalogue: one table of hostile or malformed requests over every endpoint. Each answers
the status in its row (never a 5xx) in the Hub's error shape (X-Error-Code, X-Error-Message, JSON
{"error": ...}), and a rejected write changes nothing the hub shows."""

from __future__ import annotations

import base64
import errno
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi

from tests.conftest import eventually, make_hubd

PID = os.getpid()
SHA = "a" * 64


@dataclass(frozen=True)
class World:
    model: str  # public model with a.txt (22 bytes), sub/b.txt, a tag v1 and a branch dev
    private: str  # alice's private model
    dataset: str  # public dataset with one CSV, exported to parquet


@pytest.fixture(scope="module")
def world(hubd, alice: HfApi) -> World:  # type: ignore[no-untyped-def]
    w = World(f"alice/bi-model-{PID}", f"alice/bi-private-{PID}", f"alice/bi-data-{PID}")
    alice.create_repo(w.model)
    alice.upload_file(path_or_fileobj=b"twenty-two bytes here\n", path_in_repo="a.txt", repo_id=w.model)
    alice.upload_file(path_or_fileobj=b"b", path_in_repo="sub/b.txt", repo_id=w.model)
    alice.create_tag(w.model, tag="v1")
    alice.create_branch(w.model, branch="dev")
    alice.create_discussion(w.model, title="first")
    alice.create_repo(w.private, private=True)
    alice.create_repo(w.dataset, repo_type="dataset")
    alice.upload_file(path_or_fileobj=b"a,b\n1,x\n2,y\n", path_in_repo="data.csv", repo_id=w.dataset,
                      repo_type="dataset")
    exported = eventually(lambda: httpx.get(f"{hubd.url}/api/datasets/{w.dataset}/parquet").status_code == 200, 120)
    assert exported, "the parquet export of the test dataset did not finish"
    return w


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor(value: Any, repo_id: Any) -> str:
    return _b64(json.dumps([value, repo_id]).encode())


DEEP = b"[" * 100_000 + b"]" * 100_000  # RecursionError in the stdlib parser
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
NDJSON = {"content-type": "application/x-ndjson"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}
HEADER_LINE = json.dumps({"key": "header", "value": {"summary": "bad input"}}).encode()


def _ndjson(*lines: bytes) -> bytes:
    return b"\n".join(lines)


def case(method: str, path: str, status: int, body: Any = None, headers: dict[str, str] | None = None,
         who: str | None = "alice", xfail: str | None = None) -> Any:
    """One row: `path` may name {model}, {private}, {dataset}; `body` is bytes as sent, or JSON."""
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    label = f"{method} {path[:60]} {status} {who or 'anon'}"
    return pytest.param(method, path, status, body, headers or {}, who, marks=marks, id=label)


BIG = "1" + "0" * 24  # 10^24
HUGE = "9" * 4300  # at Python's int() digit limit: int() of this raises ValueError
REPO = "/api/models/{model}"

CASES = [
    # --- listing
    case("GET", "/api/models?search=a%00b", 400),
    case("GET", "/api/models?search=" + "x" * 300, 400),
    case("GET", "/api/models?author=al%01ice", 400),
    case("GET", "/api/models?filter=" + ",".join(f"t{i}" for i in range(60)), 400),
    case("GET", "/api/models?cursor=" + _cursor(1e30, 1), 400),
    case("GET", "/api/models?cursor=" + _cursor(1, 10**30), 400),
    case("GET", "/api/models?cursor=" + _cursor(1, -1), 400),
    case("GET", "/api/models?cursor=" + _cursor("x", 1), 400),
    case("GET", "/api/datasets?cursor=" + _b64(b"[NaN,1]"), 400),
    case("GET", "/api/spaces?cursor=" + _b64(b"[" * 60 + b"]" * 60), 400),
    case("GET", "/api/models?cursor=%21%21%21", 400),
    case("GET", "/api/models?cursor=" + "A" * 5000, 400),
    case("GET", "/api/models?limit=" + BIG, 400),
    case("GET", "/api/models?limit=" + HUGE, 400),
    case("GET", "/api/models?limit=abc", 400),
    case("GET", "/api/models?limit=0", 400),
    case("GET", "/api/spaces?limit=-5", 400),
    case("GET", "/api/models?sort=bogus", 400),
    case("GET", "/api/models?direction=2", 400),
    case("GET", "/api/models?search=a%00b", 400, who=None),
    # --- repo info
    case("GET", REPO + "/revision/ma%00in", 400),
    case("GET", "/api/models/al%00ice/x", 400),
    case("GET", "/api/models/alice/no-such-repo-xyz", 404),
    case("GET", REPO + "/revision/no-such-rev", 404),
    case("GET", REPO + "/revision/" + "r" * 4000, 404),
    case("GET", "/api/models/{private}", 401, who=None),
    case("GET", "/api/models/{private}", 404, who="bob"),
    case("HEAD", "/api/models/{private}", 404, who="bob"),
    # --- tree
    case("GET", REPO + "/tree/main?cursor=" + BIG, 400),
    case("GET", REPO + "/tree/main?cursor=-1", 400),
    case("GET", REPO + "/tree/main?cursor=" + HUGE, 400),
    case("GET", REPO + "/tree/main?cursor=1e3", 400),
    case("GET", REPO + "/tree/main?recursive=1&cursor=" + BIG, 400, who=None),
    case("GET", REPO + "/tree/main/a%00b", 400),
    case("GET", REPO + "/tree/ma%00in", 400),
    case("GET", REPO + "/tree/main/no/such/dir", 404),
    case("GET", REPO + "/tree/no-such-rev", 404),
    # --- paths-info
    case("POST", REPO + "/paths-info/main", 400, [], JSON),
    case("POST", REPO + "/paths-info/main", 400, "a.txt", JSON),
    case("POST", REPO + "/paths-info/main", 400, 42, JSON),
    case("POST", REPO + "/paths-info/main", 400, DEEP, JSON),
    case("POST", REPO + "/paths-info/main", 400, DEEP_OBJECT, JSON),
    case("POST", REPO + "/paths-info/main", 400, {"paths": "a.txt"}, JSON),
    case("POST", REPO + "/paths-info/main", 400, {"paths": [1]}, JSON),
    case("POST", REPO + "/paths-info/main", 400, {"paths": ["a.txt"], "expand": "yes"}, JSON),
    case("POST", REPO + "/paths-info/main", 400, b"{not json", JSON),
    case("POST", REPO + "/paths-info/main", 400, {"paths": ["a"] * 10_001}, JSON),
    case("POST", REPO + "/paths-info/main", 400, b"paths=a%00b", FORM),
    case("POST", REPO + "/paths-info/ma%00in", 400, b"paths=a.txt", FORM),
    # --- commits
    case("GET", REPO + "/commits/main?p=" + BIG, 400),
    case("GET", REPO + "/commits/main?p=-1", 400),
    case("GET", REPO + "/commits/main?p=" + HUGE, 400),
    case("GET", REPO + "/commits/main?limit=abc", 400),
    case("GET", REPO + "/commits/main?limit=" + BIG, 400),
    case("GET", REPO + "/commits/ma%00in", 400),
    case("GET", REPO + "/commits/no-such-rev", 404),
    # --- refs
    case("GET", "/api/models/alice/no-such-repo-xyz/refs", 404),
    case("GET", "/api/models/{private}/refs", 404, who="bob"),
    case("GET", "/api/models/{private}/refs", 401, who=None),
    # --- branches and tags
    case("POST", REPO + "/branch/feature", 400, []),
    case("POST", REPO + "/branch/feature", 400, "main"),
    case("POST", REPO + "/branch/feature", 400, {"startingPoint": 1}),
    case("POST", REPO + "/branch/feature", 400, {"startingPoint": {}}),
    case("POST", REPO + "/branch/feature", 400, {"startingPoint": ""}),
    case("POST", REPO + "/branch/feature", 400, {"startingPoint": ["main"]}),
    case("POST", REPO + "/branch/feature", 400, DEEP),
    case("POST", REPO + "/branch/feature", 400, b"{not json"),
    case("POST", REPO + "/branch/feature", 400, {"emptyBranch": "yes"}),
    case("POST", REPO + "/branch/feature", 404, {"startingPoint": "no-such-rev"}),
    case("POST", REPO + "/branch/feature", 403, {}, who="bob"),
    case("POST", REPO + "/branch/feature", 401, {}, who=None),
    case("POST", REPO + "/branch/a%00b", 400, {}),
    case("POST", REPO + "/branch/dev", 409, {}),
    case("DELETE", REPO + "/branch/no-such-branch", 404),
    case("DELETE", REPO + "/branch/main", 403),
    case("DELETE", REPO + "/branch/dev", 403, who="bob"),
    case("POST", REPO + "/tag/main", 400, "v2"),
    case("POST", REPO + "/tag/main", 400, {"tag": 1}),
    case("POST", REPO + "/tag/main", 400, {}),
    case("POST", REPO + "/tag/main", 400, DEEP),
    case("POST", REPO + "/tag/main", 409, {"tag": "v1"}),
    case("POST", REPO + "/tag/no-such-rev", 404, {"tag": "v2"}),
    case("DELETE", REPO + "/tag/no-such-tag", 404),
    # --- preupload
    case("POST", REPO + "/preupload/main", 400, []),
    case("POST", REPO + "/preupload/main", 400, {"files": "a.txt"}),
    case("POST", REPO + "/preupload/main", 400, {"files": [1]}),
    case("POST", REPO + "/preupload/main", 400, {"files": [{"path": "../x", "size": 1}]}),
    case("POST", REPO + "/preupload/main", 400, {"files": [{"path": "a\u0000b", "size": 1}]}),
    case("POST", REPO + "/preupload/main", 400, {"files": [{"path": "a", "size": "1"}]}),
    case("POST", REPO + "/preupload/main", 400, {"files": [{"path": "a", "size": 1}] * 1001}),
    case("POST", REPO + "/preupload/main", 400, DEEP),
    case("POST", REPO + "/preupload/ma%00in", 400, {"files": []}),
    case("POST", REPO + "/preupload/main", 401, {"files": []}, who=None),
    # --- commit (NDJSON)
    case("POST", REPO + "/commit/main", 400, _ndjson(HEADER_LINE, DEEP), NDJSON),
    case("POST", REPO + "/commit/main", 400, _ndjson(DEEP_OBJECT), NDJSON),
    case("POST", REPO + "/commit/main", 400, _ndjson(HEADER_LINE, b"[1]"), NDJSON),
    case("POST", REPO + "/commit/main", 400, _ndjson(HEADER_LINE, b"{not json"), NDJSON),
    case("POST", REPO + "/commit/main", 400, _ndjson(b'{"key":"header","value":"summary"}'), NDJSON),
    case("POST", REPO + "/commit/main", 400, _ndjson(b'{"key":"deletedFile","value":{"path":"a.txt"}}'), NDJSON),
    case("POST", REPO + "/commit/main", 400, _ndjson(HEADER_LINE, json.dumps(
        {"key": "file", "value": {"path": "x\u0000.txt", "content": "eA==", "encoding": "base64"}}).encode()), NDJSON),
    case("POST", REPO + "/commit/main", 400, b"", NDJSON),
    case("POST", REPO + "/commit/ma%00in", 400, _ndjson(HEADER_LINE), NDJSON),
    case("POST", REPO + "/commit/main", 401, _ndjson(HEADER_LINE), NDJSON, who=None),
    # --- discussions
    case("GET", REPO + "/discussions/" + "9" * 25, 404),
    case("GET", REPO + "/discussions/" + "0" * 30 + "1", 200),
    case("GET", REPO + "/discussions/99999", 404),
    case("POST", REPO + "/discussions", 400, []),
    case("POST", REPO + "/discussions", 400, {"title": 1}),
    case("POST", REPO + "/discussions", 400, {}),
    case("POST", REPO + "/discussions", 400, {"title": "t", "description": {}}),
    case("POST", REPO + "/discussions", 400, {"title": "t", "pullRequest": "yes"}),
    case("POST", REPO + "/discussions", 400, {"title": "x" * 1000}),
    case("POST", REPO + "/discussions", 400, DEEP_OBJECT),
    case("POST", REPO + "/discussions", 401, {"title": "t"}, who=None),
    # --- resolve
    case("GET", "/{model}/resolve/main/a.txt", 416, headers={"range": "bytes=-0"}),
    case("HEAD", "/{model}/resolve/main/a.txt", 416, headers={"range": "bytes=-0"}),
    case("GET", "/{model}/resolve/main/a.txt", 416, headers={"range": f"bytes={HUGE}-"}),
    case("GET", "/{model}/resolve/main/a.txt", 206, headers={"range": f"bytes=0-{HUGE}"}),
    case("GET", "/{model}/resolve/main/a.txt", 206, headers={"range": f"bytes=-{HUGE}"}),
    case("GET", "/{model}/resolve/main/a.txt", 416, headers={"range": "bytes=5-2"}),
    case("GET", "/{model}/resolve/main/a.txt", 416, headers={"range": "bytes=22-"}),
    case("GET", "/{model}/resolve/main/a.txt", 400, headers={"range": "bytes=abc"}),
    case("GET", "/{model}/resolve/main/a.txt", 400, headers={"range": "bytes=0-1,3-4"}),
    case("GET", "/{model}/resolve/main/a.txt", 416, headers={"range": "bytes=-0"}, who=None),
    case("GET", "/{model}/resolve/main/a%00.txt", 400),
    case("GET", "/{model}/resolve/ma%00in/a.txt", 400),
    case("GET", "/{model}/resolve/main/no-such-file", 404),
    case("GET", "/{model}/resolve/no-such-rev/a.txt", 404),
    case("GET", "/{private}/resolve/main/.gitattributes", 401, who=None),
    # --- LFS batch and verify
    case("POST", "/{model}.git/info/lfs/objects/batch", 400, []),
    case("POST", "/{model}.git/info/lfs/objects/batch", 400, {"operation": "download", "objects": "x"}),
    case("POST", "/{model}.git/info/lfs/objects/batch", 400, {"operation": "bogus", "objects": []}),
    case("POST", "/{model}.git/info/lfs/objects/batch", 400, DEEP),
    case("POST", "/{model}.git/info/lfs/objects/batch", 400,
         {"operation": "download", "objects": [{"oid": "zz", "size": 1}]}),
    case("POST", "/{model}.git/info/lfs/objects/batch", 400,
         {"operation": "upload", "objects": [{"oid": SHA, "size": 10**30}]}),
    case("POST", "/{model}.git/info/lfs/objects/batch", 400,
         {"operation": "upload", "objects": [{"oid": SHA, "size": -1}]}),
    case("POST", "/{model}.git/info/lfs/objects/batch", 401,
         {"operation": "upload", "objects": [{"oid": SHA, "size": 1}]}, who=None),
    case("POST", "/{model}.git/info/lfs/objects/verify", 400, []),
    case("POST", "/{model}.git/info/lfs/objects/verify", 400, {"oid": "zz", "size": 1}),
    case("POST", "/{model}.git/info/lfs/objects/verify", 400, {"oid": SHA, "size": -1}),
    case("POST", "/{model}.git/info/lfs/objects/verify", 400, DEEP_OBJECT),
    case("POST", "/{private}.git/info/lfs/objects/verify", 401, {"oid": SHA, "size": 1}, who=None),
    # --- Xet tokens and CAS
    case("GET", REPO + "/xet-write-token/main", 401, who=None),
    case("GET", REPO + "/xet-write-token/main", 403, who="alice-read"),  # any write token may upload for a PR
    case("GET", REPO + "/xet-read-token/ma%00in", 400),
    case("GET", REPO + "/xet-read-token/no-such-rev", 404),
    case("GET", "/api/models/alice/no-such-repo-xyz/xet-read-token/main", 404),
    case("GET", f"/api/cas/v1/reconstructions/{SHA}", 401, who=None),
    case("GET", f"/api/cas/v1/reconstructions/{SHA}", 401, headers={"authorization": f"Bearer {HUGE}9:read:1:x"},
         who=None),
    # --- dataset viewer and parquet
    case("GET", "/viewer/rows", 422),
    case("GET", "/viewer/rows?dataset=alice/no-such-data&config=default&split=train", 404),
    case("GET", "/viewer/rows?dataset={dataset}&config=default&split=train&offset=" + BIG, 400),
    case("GET", "/viewer/rows?dataset={dataset}&config=default&split=train&length=abc", 400),
    case("GET", "/viewer/rows?dataset={dataset}&config=default&split=no-such-split", 404),
    case("GET", "/viewer/search?dataset={dataset}&config=default&split=train&query=a%00", 400),
    case("GET", "/viewer/splits?dataset=al%00ice/x", 400),
    case("GET", "/api/datasets/{dataset}/parquet/default/train/" + "9" * 30 + ".parquet", 404),
    case("GET", "/api/datasets/{dataset}/parquet/default/train/" + HUGE + ".parquet", 404),
    case("GET", "/api/datasets/alice/no-such-data/parquet", 404),
    case("GET", "/api/datasets/alice/no-such-data/parquet/default/train/" + "9" * 30 + ".parquet", 404),
    # --- copies, access checks, storage overview, avatars, raw
    case("POST", REPO + "/duplicate", 400, {"repository": "no-namespace"}),
    case("POST", REPO + "/duplicate", 400, {"repository": ["alice", "x"]}),
    case("POST", REPO + "/duplicate", 400, {"repository": "alice/dup-bad-vis", "visibility": "secret"}),
    case("POST", REPO + "/duplicate", 400, {"repository": "alice/" + "x" * 200}),
    case("POST", REPO + "/duplicate", 400, b"[" * 5000),
    case("POST", REPO + "/lfs-files/duplicate", 400, {"target": {"type": "model", "name": "alice/x"},
                                                      "files": [{"sha256": "zz"}]}),
    case("POST", REPO + "/lfs-files/duplicate", 400, {"target": "alice/x", "files": []}),
    case("POST", REPO + "/lfs-files/duplicate", 400, {"target": {"type": "model", "name": "alice/x"},
                                                      "files": [{"sha256": "a" * 64}] * 1001}),
    case("GET", "/api/settings/repositories?cursor=" + BIG, 400),
    case("GET", "/api/settings/repositories?cursor=-1", 400),
    case("GET", "/api/settings/repositories", 401, who=None),
    case("GET", "/api/organizations/acme/settings/repositories", 403, who="bob"),
    case("GET", "/avatars/%3Cscript%3E.svg", 400),
    case("GET", "/avatars/nobody-at-all.svg", 404),
    case("GET", "/{model}/raw/main/missing.txt", 404),
    case("GET", "/{model}/raw/main/a.txt", 416, headers={"range": f"bytes={HUGE}-"}),
    case("GET", "/{private}/raw/main/a.txt", 404, who="bob"),
    case("GET", REPO + "/auth-check/write", 403, who="bob"),
    case("GET", "/api/models/gpt2/auth-check", 404),
    # --- whoami and credentials
    case("GET", "/api/whoami-v2", 401, who=None),
    case("GET", "/api/whoami-v2", 401, headers={"authorization": "Bearer hf_not_a_real_token"}, who=None),
    case("GET", "/api/whoami-v2", 401, headers={"authorization": "Basic !!!!"}, who=None),
    case("GET", "/api/whoami-v2", 401, headers={"authorization": "Weird xyz"}, who=None),
    case("PATCH", "/api/whoami-v2", 405),
    case("GET", "/nothing%00here", 400),  # a NUL in any path parameter (here a profile page's name)
    # --- create, delete, move, settings
    case("POST", "/api/repos/create", 400, []),
    case("POST", "/api/repos/create", 400, "name"),
    case("POST", "/api/repos/create", 400, 7),
    case("POST", "/api/repos/create", 400, {"name": 1}),
    case("POST", "/api/repos/create", 400, DEEP),
    case("POST", "/api/repos/create", 400, {"name": f"bi-new-{PID}", "type": "bogus"}),
    case("POST", "/api/repos/create", 400, {"name": "../x"}),
    case("POST", "/api/repos/create", 400, {"name": f"bi-new-{PID}", "private": "yes"}),
    case("POST", "/api/repos/create", 400, {"name": "a\u0000b"}),
    case("POST", "/api/repos/create", 409, {"name": f"bi-model-{PID}"}),
    case("POST", "/api/repos/create", 401, {"name": f"bi-new-{PID}"}, who=None),
    case("DELETE", "/api/repos/delete", 400, []),
    case("DELETE", "/api/repos/delete", 400, {"name": 1}),
    case("DELETE", "/api/repos/delete", 404, {"name": "no-such-repo-xyz", "organization": "alice"}),
    case("DELETE", "/api/repos/delete", 403, {"name": f"bi-model-{PID}", "organization": "alice"}, who="bob"),
    case("POST", "/api/repos/move", 400, []),
    case("POST", "/api/repos/move", 400, "alice/x"),
    case("POST", "/api/repos/move", 400, {"fromRepo": 1, "toRepo": "alice/x"}),
    case("POST", "/api/repos/move", 400, {"fromRepo": "{model}"}),
    case("POST", "/api/repos/move", 409, {"fromRepo": "{model}", "toRepo": "{private}"}),
    case("POST", "/api/repos/move", 403, {"fromRepo": "{model}", "toRepo": "bob/stolen"}, who="bob"),
    case("PUT", REPO + "/settings", 400, []),
    case("PUT", REPO + "/settings", 400, {"private": "yes"}),
    case("PUT", REPO + "/settings", 400, {"gated": "bogus"}),
    case("PUT", REPO + "/settings", 400, {"visibility": "hidden"}),
    case("PUT", REPO + "/settings", 400, DEEP_OBJECT),
    case("PUT", REPO + "/settings", 403, {"private": True}, who="bob"),
    case("PUT", REPO + "/settings", 401, {"private": True}, who=None),
]


def _state(hubd, w: World) -> Any:  # type: ignore[no-untyped-def]
    """What a write could change: refs, commits, repo lists and settings, discussions."""
    h = {"authorization": f"Bearer {hubd.tokens['alice']}"}

    def get(path: str) -> Any:
        r = httpx.get(hubd.url + path, headers=h, timeout=30)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    return (  # refs name every commit a write could make; listings show repos, privacy and gating
        get(f"/api/models/{w.model}/refs?include_prs=1"),
        get(f"/api/models/{w.private}/refs"),
        sorted((m["id"], m.get("private"), m.get("gated")) for m in get("/api/models?author=alice&limit=1000")),
        sorted(d["id"] for d in get("/api/datasets?author=alice&limit=1000")),
        get(f"/api/models/{w.model}/discussions")["count"],
    )


@pytest.mark.parametrize(("method", "path", "status", "body", "headers", "who"), CASES)
def test_bad_input(hubd, world: World, method: str, path: str, status: int, body: Any,  # type: ignore[no-untyped-def]
                   headers: dict[str, str], who: str | None) -> None:
    fill = {"model": world.model, "private": world.private, "dataset": world.dataset}
    url = hubd.url + path.format(**fill)
    headers = dict(headers)
    if who is not None:
        headers.setdefault("authorization", f"Bearer {hubd.tokens[who]}")
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).replace("{model}", world.model).replace("{private}", world.private).encode()
    write = method not in ("GET", "HEAD")
    before = _state(hubd, world) if write else None
    r = httpx.request(method, url, content=body, headers=headers, timeout=60)
    assert r.status_code < 500, (r.status_code, r.text[:500])
    assert r.status_code == status, (r.status_code, r.headers.get("x-error-message"), r.text[:300])
    if status >= 400:
        assert r.headers.get("x-error-code"), r.headers
        assert r.headers.get("x-error-message"), r.headers
        if method != "HEAD":
            error = r.json()["error"]
            assert isinstance(error, str) and error
    if write:
        assert _state(hubd, world) == before


def test_catalogue_is_large_enough() -> None:
    assert len(CASES) >= 80
    endpoints = {p.values[1].split("?")[0].replace("{model}", "M") for p in CASES}
    assert len(endpoints) >= 40


def test_deep_json_costs_little(hubd, world: World) -> None:  # type: ignore[no-untyped-def]
    """A 16 MiB body of brackets is refused at the depth bound, not parsed to its end."""
    r = httpx.post(f"{hubd.url}/api/models/{world.model}/paths-info/main", content=b"[" * (16 * 2**20 - 1),
                   headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest"
    assert "nested too deeply" in r.json()["error"]


def test_request_id_is_echoed_only_when_plain(hubd) -> None:  # type: ignore[no-untyped-def]
    r = httpx.get(f"{hubd.url}/healthz", headers={"x-request-id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = httpx.get(f"{hubd.url}/healthz", headers={"x-request-id": "x" * 5000})
    assert r.status_code == 200 and len(r.headers["x-request-id"]) == 32


@pytest.fixture
def small_fs(tmp_path):  # type: ignore[no-untyped-def]
    """A 16 MiB tmpfs (needs root to mount; skipped otherwise)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode()[-200:]}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(directory: Path) -> Path:
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as f:
        block = b"\0" * 65536
        try:
            while True:
                f.write(block)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_full_disk_is_507_and_not_ready(small_fs: Path) -> None:
    """Blob storage (--storage-url file://) on a 16 MiB tmpfs: once it is full a commit is a 507
    InsufficientStorage that changes nothing, /readyz fails, and both recover when space is freed."""
    server = make_hubd("full", extra_args=["--storage-url", f"file://{small_fs}"])
    token = server.add_user("dora")
    server.start()
    try:
        api = HfApi(endpoint=server.url, token=token)
        api.create_repo("dora/full")
        api.upload_file(path_or_fileobj=b"before", path_in_repo="a.txt", repo_id="dora/full")
        before = api.model_info("dora/full").sha
        assert httpx.get(f"{server.url}/readyz").status_code == 200

        filler = _fill(small_fs)
        lines = [{"key": "header", "value": {"summary": "no room"}},
                 {"key": "file", "value": {"path": "b.bin", "encoding": "base64",
                                           "content": base64.b64encode(os.urandom(256 * 1024)).decode()}}]
        r = httpx.post(f"{server.url}/api/models/dora/full/commit/main",
                       content="\n".join(json.dumps(x) for x in lines),
                       headers={"authorization": f"Bearer {token}", "content-type": "application/x-ndjson"})
        assert r.status_code == 507, r.text
        assert r.headers["x-error-code"] == "InsufficientStorage" and r.json()["error"]
        assert api.model_info("dora/full").sha == before
        ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 503 and ready.json()["storage"] == "unavailable: StorageFull"

        filler.unlink()
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        api.upload_file(path_or_fileobj=b"after", path_in_repo="b.txt", repo_id="dora/full")
        assert api.model_info("dora/full").sha != before
    finally:
        server.stop()
