"""Hostile model metadata against a live hubd (issue 9, items 8–10): safetensors headers that cost quadratic
big-integer work or are not what the format allows, a YAML alias bomb in README.md, and /api/validate-yaml
under load. Each attack must fail safely: the derive job completes once (no retries), repo_info answers
200 without the bad part, and /healthz keeps answering within a second while it happens."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import struct
import time
from collections.abc import Iterator

import httpx
import pytest
from huggingface_hub import HfApi

from tests.conftest import Hubd, eventually, repo_jobs, running_hubd
from tests.resources import HealthProbe, peak_rss_mib, rss_mib


@pytest.fixture(scope="module")
def server() -> Iterator[Hubd]:
    """A dedicated hubd, so its worker's memory reflects these attacks only."""
    with running_hubd("meta", "mallory") as hub:
        yield hub


@pytest.fixture(scope="module")
def api(server: Hubd) -> HfApi:
    return HfApi(endpoint=server.url, token=server.tokens["mallory"])


_names = iter(range(10**6))


@pytest.fixture
def repo_id(api: HfApi) -> str:
    name = f"mallory/meta-{next(_names)}-{time.time_ns() % 10**6}"
    api.create_repo(name)
    return name


def derive_jobs(server: Hubd, repo_id: str) -> list[dict]:
    """The derive jobs of a repo, read from hubd's own database (to see attempts and state)."""
    return repo_jobs(server, repo_id, "derive")


def wait_derived(server: Hubd, repo_id: str, timeout: float = 60) -> list[dict]:
    """Until every derive job of the repo has finished; they must all have succeeded at the first attempt."""
    done = eventually(lambda: (j := derive_jobs(server, repo_id)) and all(x["state"] in ("done", "failed")
                                                                            for x in j) and j, timeout=timeout)
    assert done, f"derive jobs still pending: {derive_jobs(server, repo_id)}"
    assert all(j["state"] == "done" and j["attempts"] == 1 for j in done), done
    return done


def safetensors_file(header: bytes, data: bytes = b"") -> bytes:
    return struct.pack("<Q", len(header)) + header + data


def quadratic_header(size: int) -> bytes:
    """`size` bytes of `1e308` dimensions: int(1e308) is a 309-digit integer and their product grows by 309
    digits per dimension (40 KB took 27 s, 160 KB 219 s, then a 500)."""
    dims = ",".join(["1e308"] * ((size - 60) // 6))
    return ('{"w":{"dtype":"F32","shape":[' + dims + '],"data_offsets":[0,4]}}').encode()


def assert_healthy_without_safetensors(server: Hubd, api: HfApi, repo_id: str) -> None:
    r = httpx.get(f"{server.url}/api/models/{repo_id}", headers={"authorization": f"Bearer {server.tokens['mallory']}"})
    assert r.status_code == 200 and "safetensors" not in r.json()
    info = api.model_info(repo_id)
    assert info.safetensors is None and "safetensors" in info.tags  # the file is there, its header refused


@pytest.mark.parametrize("kib", [40, 160])
def test_quadratic_safetensors_header(server: Hubd, api: HfApi, repo_id: str, kib: int) -> None:
    before = rss_mib(server.proc.pid)
    with HealthProbe(server.url) as probe:
        api.upload_file(path_or_fileobj=safetensors_file(quadratic_header(kib * 1024), b"\0" * 4),
                        path_in_repo="model.safetensors", repo_id=repo_id)
        started = time.perf_counter()
        jobs = wait_derived(server, repo_id)
        took = time.perf_counter() - started
        assert_healthy_without_safetensors(server, api, repo_id)
    print(f"{kib} KB header: derived in {took:.2f} s, /healthz slowest {probe.slowest:.3f} s over {probe.answers}"
          f" probes, worker RSS {before:.0f} → {rss_mib(server.proc.pid):.0f} MiB")
    assert jobs and probe.answers > 0 and probe.slowest < 1
    assert took < 15  # before: 27 s (40 KB) and 219 s (160 KB) of CPU, five times over
    assert rss_mib(server.proc.pid) < before + 100


HOSTILE_HEADERS = {
    "list": b"[1, 2, 3]",
    "infinity": b'{"w":{"dtype":"F32","shape":[Infinity],"data_offsets":[0,4]}}',
    "nan": b'{"w":{"dtype":"F32","shape":[NaN],"data_offsets":[0,4]}}',
    "negative": b'{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}',
    "bool": b'{"w":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}',
    "huge": b'{"w":{"dtype":"F32","shape":[' + b"9" * 4000 + b'],"data_offsets":[0,4]}}',
    "deep": b'{"w":' * 50_000 + b"1" + b"}" * 50_000,
    "lying offsets": b'{"w":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,4]}}',
    "unknown dtype": b'{"w":{"dtype":"F128","shape":[1],"data_offsets":[0,4]}}',
    "metadata not strings": b'{"__metadata__":{"a":{"b":1}},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
    "length past the end": None,
}


@pytest.mark.parametrize("case", list(HOSTILE_HEADERS))
def test_hostile_safetensors_headers(server: Hubd, api: HfApi, repo_id: str, case: str) -> None:
    header = HOSTILE_HEADERS[case]
    blob = struct.pack("<Q", 10**6) + b"{}" if header is None else safetensors_file(header, b"\0" * 4)
    api.upload_file(path_or_fileobj=blob, path_in_repo="model.safetensors", repo_id=repo_id)
    wait_derived(server, repo_id)
    assert_healthy_without_safetensors(server, api, repo_id)
    # a revision other than the derived head is computed on the fly: the same header must not break it
    api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=repo_id)
    first = api.list_repo_commits(repo_id)[1].commit_id
    r = httpx.get(f"{server.url}/api/models/{repo_id}/revision/{first}",
                  headers={"authorization": f"Bearer {server.tokens['mallory']}"})
    assert r.status_code == 200 and "safetensors" not in r.json()


def test_good_header_beside_a_bad_shard_is_not_half_counted(server: Hubd, api: HfApi, repo_id: str) -> None:
    good = safetensors_file(b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', b"\0" * 8)
    api.upload_file(path_or_fileobj=good, path_in_repo="model.safetensors", repo_id=repo_id)
    wait_derived(server, repo_id)
    assert api.model_info(repo_id).safetensors.total == 2
    api.upload_file(path_or_fileobj=safetensors_file(HOSTILE_HEADERS["infinity"], b"\0" * 4),
                    path_in_repo="extra.safetensors", repo_id=repo_id)
    eventually(lambda: api.model_info(repo_id).safetensors is None)
    wait_derived(server, repo_id)
    assert api.model_info(repo_id).safetensors is None  # a partial count would be a wrong one


def raw_commit(server: Hubd, repo_id: str, path: str, data: bytes) -> None:
    """A commit over raw HTTP, as an attacker (or git push) sends it: the official client validates README.md
    with /api/validate-yaml first and would refuse these cards."""
    lines = [{"key": "header", "value": {"summary": "raw"}},
             {"key": "file", "value": {"path": path, "content": base64.b64encode(data).decode(), "encoding": "base64"}}]
    r = httpx.post(f"{server.url}/api/models/{repo_id}/commit/main", content="\n".join(json.dumps(x) for x in lines),
                   headers={"authorization": f"Bearer {server.tokens['mallory']}"})
    assert r.status_code == 200, r.text


BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
)


@pytest.mark.parametrize("yaml", [BOMB, "a: &a [1, *a]", "x: " + "[" * 100 + "]" * 100, "x: 2024-13-45"],
                         ids=["alias bomb", "recursive alias", "deep", "bad date"])
def test_hostile_card_is_a_broken_card(server: Hubd, api: HfApi, repo_id: str, yaml: str) -> None:
    raw_commit(server, repo_id, "README.md", f"---\n{yaml}\nlicense: mit\n---\n# card\n".encode())
    with HealthProbe(server.url) as probe:
        wait_derived(server, repo_id)
        for _ in range(5):  # anonymous repo_info: each used to be 33.6 MB
            r = httpx.get(f"{server.url}/api/models/{repo_id}")
            assert r.status_code == 200 and "cardData" not in r.json() and len(r.content) < 10_000
        listed = httpx.get(f"{server.url}/api/models", params={"search": repo_id.split("/")[1], "full": "true",
                                                               "cardData": "true"})
        assert listed.status_code == 200 and len(listed.content) < 10_000
    assert probe.slowest < 1
    assert api.model_info(repo_id).card_data is None


def test_card_values_are_json(server: Hubd, api: HfApi, repo_id: str) -> None:
    """Dates and NaN used to reach the JSON column as Python objects: the derive job failed five times."""
    api.upload_file(path_or_fileobj=b"---\nlicense: mit\ndate: 2024-01-02\nscore: .nan\nbase: &b {lr: 1}\n"
                                    b"run: *b\n---\n# card\n", path_in_repo="README.md", repo_id=repo_id)
    wait_derived(server, repo_id)
    r = httpx.get(f"{server.url}/api/models/{repo_id}")
    assert r.status_code == 200
    assert json.loads(r.text)["cardData"] == {"license": "mit", "date": "2024-01-02", "score": None,
                                              "base": {"lr": 1}, "run": {"lr": 1}}


# --- /api/validate-yaml -----------------------------------------------------------------------------------

def validate(server: Hubd, content: str, token: str | None = "mallory", **kw: object) -> httpx.Response:
    headers = {"authorization": f"Bearer {server.tokens[token]}"} if token else {}
    return httpx.post(f"{server.url}/api/validate-yaml", json={"content": content, "repoType": "model"},
                      headers=headers, timeout=120, **kw)


def test_validate_yaml_anonymous_gets_the_smallest_bound(server: Hubd) -> None:
    """huggingface_hub's RepoCard.validate() sends no token; anonymous callers get a 256 KiB bound."""
    r = validate(server, "---\nlicense: mit\n---\n", token=None)
    assert r.status_code == 200 and r.json() == {"errors": [], "warnings": []}
    r = validate(server, "---\nlicense: mit\nx: " + "y" * 300_000 + "\n---\n", token=None)
    assert r.status_code == 413 and r.headers["x-error-code"] == "PayloadTooLarge"
    r = httpx.post(f"{server.url}/api/validate-yaml", content=b"x" * (8 * 2**20))  # refused on its length
    assert r.status_code == 413
    r = validate(server, "---\nlicense: mit\nx: " + "y" * 300_000 + "\n---\n")  # with a token
    assert r.status_code == 200


def test_validate_yaml_answers(server: Hubd) -> None:
    ok = validate(server, "---\nlicense: mit\n---\n# hi")
    assert ok.status_code == 200 and ok.json() == {"errors": [], "warnings": []}
    for bad in ("---\nlicense: [mit\n---\n", f"---\n{BOMB}\n---\n", "---\n" + "[" * 100 + "]" * 100 + "\n---\n",
                "---\nx: " + "9" * 5000 + "\n---\n"):
        r = validate(server, bad)
        assert r.status_code == 400 and r.json()["errors"][0]["message"], bad[:40]
        assert r.headers["x-error-code"] == "BadRequest" and r.json()["error"]
    lone_surrogate = b'{"content": "---\\nx: \\ud800\\n---\\n"}'
    r = httpx.post(f"{server.url}/api/validate-yaml", content=lone_surrogate,
                   headers={"authorization": f"Bearer {server.tokens['mallory']}"})
    assert r.status_code == 400 and r.json()["errors"][0]["message"]
    for body in (b"[[[[" * 10_000, b"not json", b'{"content": 5}'):
        r = httpx.post(f"{server.url}/api/validate-yaml", content=body,
                       headers={"authorization": f"Bearer {server.tokens['mallory']}"})
        assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest"


def test_validate_yaml_size_bounds(server: Hubd) -> None:
    big_yaml = "---\nx: '" + "a" * (2**20) + "'\n---\n"
    r = validate(server, big_yaml)
    assert r.status_code == 413 and r.headers["x-error-code"] == "PayloadTooLarge"
    # a long README whose metadata is small is fine: only the metadata is parsed
    assert validate(server, "---\nlicense: mit\n---\n" + "text " * 400_000).status_code == 200
    r = validate(server, "x" * (5 * 2**20))
    assert r.status_code == 413 and r.headers["x-error-code"] == "PayloadTooLarge"


def megabyte_card(i: int) -> str:
    """~1 MiB of model-index, 96,000 nodes: the costliest card under the bounds (MAX_CARD_NODES)."""
    pad = "x" * 78
    rows = "".join(f"- name: m{i}-{n}-{pad}\n  results:\n  - metrics:\n    - type: acc\n      value: 0.{n}\n"
                   f"      name: {n}\n" for n in range(6000))
    return f"---\nmodel-index:\n{rows}---\n# card\n"


@pytest.mark.once  # the server's memory and liveness, whatever the backend
def test_six_concurrent_megabyte_validations_do_not_stall(server: Hubd) -> None:
    cards = [megabyte_card(i) for i in range(6)]
    assert all(len(c) < 2**20 for c in cards)
    with HealthProbe(server.url) as idle:  # this machine's own latency, to tell the attack's share from it
        time.sleep(5)
    before = rss_mib(server.proc.pid)
    with HealthProbe(server.url) as probe, concurrent.futures.ThreadPoolExecutor(6) as pool:
        started = time.perf_counter()
        answers = list(pool.map(lambda c: validate(server, c), cards))
        took = time.perf_counter() - started
    print(f"six 1 MiB validations: {took:.1f} s, /healthz slowest {probe.slowest:.3f} s over {probe.answers} probes"
          f" (idle: {idle.slowest:.3f} s),"
          f" worker RSS {before:.0f} → {rss_mib(server.proc.pid):.0f} MiB (peak {peak_rss_mib(server.proc.pid):.0f})")
    # each card was parsed whole and judged: its results have no task or dataset (the Hub's model-index
    # needs both), so every answer is the 400 verdict that lists those errors
    assert [a.status_code for a in answers] == [400] * 6
    assert all(a.json()["errors"][-1]["message"].endswith("more errors") for a in answers)
    assert probe.answers > 0 and probe.slowest < idle.slowest + 1
    assert rss_mib(server.proc.pid) < before + 400


def test_denser_cards_are_refused_early(server: Hubd) -> None:
    rows = "".join(f"- m: {n}\n" for n in range(40_000))  # 120,000 nodes in 400 KB
    r = validate(server, f"---\nx:\n{rows}---\n")
    assert r.status_code == 400 and "values" in r.json()["error"]
