"""Schemathesis over the seed spec (the copy hubd ships: src/hubd/web/openapi-seed.yaml) against the live
hubd of the session.

Every operation of the spec is fuzzed with schema-valid and schema-invalid inputs (a bounded, derandomized
number of examples, so a run is repeatable) and must answer with no 5xx, only statuses the spec documents,
and bodies that validate against the spec's schemas. Where the spec is wrong about the real Hub, the spec
copy says what the Hub does (`# hubd:` comments there), and hubd behaves like the Hub.

Reads run with alice's token. Writes (create, settings, delete) run with the token of a user made for this
test only, `fuzzer`: whatever the fuzzer creates, flips or deletes is in its own namespace, never alice's.
About half the generated repo ids are replaced by real ones (seeded below), so the happy paths answer 200
with real bodies instead of only 404s.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import checks

from hubd.web.docs import SEED as SEED_SPEC
from tests.conftest import Hubd, eventually

SPEC = SEED_SPEC  # the copy hubd ships (web/docs serves it too)
EXAMPLES_PER_OPERATION = 25
FUZZER = "fuzzer"
_TAG = f"fz{os.getpid()}"
MODEL, DATASET, SPACE = f"alice/{_TAG}-model", f"alice/{_TAG}-dataset", f"alice/{_TAG}-space"
# The fuzzer's own repos: the only ones settings and delete may reach with a real id.
OWN = {"models": f"{FUZZER}/{_TAG}-own-model", "datasets": f"{FUZZER}/{_TAG}-own-dataset",
       "spaces": f"{FUZZER}/{_TAG}-own-space"}
DOOMED = [f"{FUZZER}/{_TAG}-doomed-{i}" for i in range(6)]

schema = schemathesis.openapi.from_path(SPEC)
# conftest chose the session hubd's port at import time; the spec's server is the Hub's /api.
schema.config.update(base_url=os.environ["HF_ENDPOINT"] + "/api")
schema.config.generation.update(
    max_examples=EXAMPLES_PER_OPERATION,
    deterministic=True,  # derandomized: the same cases on every run and in CI
    database="none",  # no .hypothesis/ directory in the checkout, no replay of old failures
    with_security_parameters=False,  # the test sends the real tokens itself
)

CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance]
REAL_IDS = {
    "getModel": [MODEL], "getModelRevision": [MODEL], "getDataset": [DATASET], "getDatasetParquet": [DATASET],
    "getSpace": [SPACE],
}
WRITES = {"createRepo", "deleteRepo", "updateRepoSettings"}


def _with_real_id(case: Any, operation_id: str, choice: int) -> Any:
    """The case with a real repo id (or body name) in place of the generated one; choice 0 keeps it as is."""
    if choice == 0:
        return case
    if operation_id in REAL_IDS:
        case.path_parameters["repo_id"] = REAL_IDS[operation_id][0]
        if operation_id == "getModelRevision" and choice == 2:
            case.path_parameters["revision"] = "main"
    elif operation_id == "updateRepoSettings" and case.path_parameters.get("repo_type") in OWN:
        case.path_parameters["repo_id"] = OWN[case.path_parameters["repo_type"]]
    elif operation_id == "deleteRepo" and isinstance(case.body, dict):
        case.body = {**case.body, "name": DOOMED[choice % len(DOOMED)], "type": "model"}
        case.body.pop("organization", None)
    return case


@schema.hook
def flatmap_case(context: Any, case: Any) -> st.SearchStrategy:
    operation_id = context.operation.definition.raw.get("operationId", "")
    # A literal "/" in the id, as the Hub's clients send it (schemathesis would percent-encode one it generated).
    return st.integers(0, 6).map(lambda choice: _with_real_id(case, operation_id, choice))


@pytest.fixture(scope="module")
def seeded(hubd: Hubd) -> dict[str, str]:
    """Real repos for the happy paths, and a user whose namespace the fuzzer's writes may change."""
    tokens = {"alice": hubd.tokens["alice"], FUZZER: hubd.tokens.get(FUZZER) or hubd.add_user(FUZZER)}
    from huggingface_hub import HfApi

    alice = HfApi(token=tokens["alice"])
    alice.create_repo(MODEL)
    alice.upload_file(path_or_fileobj=b"---\nlicense: mit\npipeline_tag: fill-mask\nlibrary_name: transformers\n"
                                      b"tags: [fuzz]\n---\n# A model\n", path_in_repo="README.md", repo_id=MODEL)
    alice.upload_file(path_or_fileobj=b'{"architectures": ["BertForMaskedLM"], "model_type": "bert"}',
                      path_in_repo="config.json", repo_id=MODEL)
    alice.create_repo(DATASET, repo_type="dataset")
    alice.upload_file(path_or_fileobj=b"---\nlicense: mit\nlanguage: [en]\nsize_categories: [n<1K]\n---\n",
                      path_in_repo="README.md", repo_id=DATASET, repo_type="dataset")
    alice.upload_file(path_or_fileobj=b"a,b\n1,2\n3,4\n", path_in_repo="train.csv", repo_id=DATASET,
                      repo_type="dataset")
    alice.create_repo(SPACE, repo_type="space", space_sdk="gradio")
    fuzzer = HfApi(token=tokens[FUZZER])
    for plural, repo_id in OWN.items():
        fuzzer.create_repo(repo_id, repo_type=plural[:-1], space_sdk="static" if plural == "spaces" else None)
    for repo_id in DOOMED:
        fuzzer.create_repo(repo_id)
    # derived metadata and the parquet export are background jobs: wait for both before fuzzing
    assert eventually(lambda: next(iter(alice.list_models(search=MODEL.split("/")[1]))).pipeline_tag)
    assert eventually(lambda: httpx.get(f"{hubd.url}/api/datasets/{DATASET}/parquet").json().get("parquet_files"),
                      60)
    return tokens


@schema.parametrize()
def test_seed_spec_under_fuzzing(case: Any, seeded: dict[str, str]) -> None:
    operation_id = case.operation.definition.raw.get("operationId", "")
    token = seeded[FUZZER] if operation_id in WRITES else seeded["alice"]
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS, timeout=30)


def test_seeded_repos_survive(hubd: Hubd, seeded: dict[str, str]) -> None:
    """The fuzzer's writes stayed in its own namespace: alice's repos are all there, as they were."""
    auth = {"authorization": f"Bearer {seeded['alice']}"}
    for kind, repo_id in (("models", MODEL), ("datasets", DATASET), ("spaces", SPACE)):
        r = httpx.get(f"{hubd.url}/api/{kind}/{repo_id}", headers=auth)
        assert r.status_code == 200, (repo_id, r.text)
        assert r.json()["private"] is False


# Issue 10 items 16 and 17, pinned down outside the fuzzer's draw.
HOSTILE_IDS = ["%10%F2%80%80abc", "alice/%00x", "%00/%00", "%C3%A9t%C3%A9/x%7F", "a%0Ab/c%0Dd", "%FF%FE/%E2%80%AE",
               "alice/" + "x" * 300, "alice/%2E%2E", "%2E/%2E%2E"]


@pytest.mark.parametrize("kind", ["models", "datasets", "spaces"])
def test_hostile_repo_ids_are_not_found(hubd: Hubd, kind: str) -> None:
    """Control and non-UTF-8 bytes in a repo id answer 404 in the Hub's shape (was 500), NUL 400, on every type."""
    auth = {"authorization": f"Bearer {hubd.tokens['alice']}"}
    for raw in HOSTILE_IDS:
        calls = [("GET", f"/api/{kind}/{raw}"), ("GET", f"/api/{kind}/{raw}/revision/main"),
                 ("PUT", f"/api/{kind}/{raw}/settings")]
        if kind == "datasets":
            calls.append(("GET", f"/api/datasets/{raw}/parquet"))
        for method, path in calls:
            r = httpx.request(method, hubd.url + path, headers=auth, json={"private": True})
            where = (method, path, r.status_code, r.text)
            if r.status_code == 400:  # no name holds NUL: the router refuses one in any path parameter
                assert "%00" in raw and r.headers["x-error-code"] == "BadRequest", where
            else:
                assert r.status_code == 404 and r.headers["x-error-code"] in ("RepoNotFound", "NotFound"), where
            assert isinstance(r.json()["error"], str) and r.headers["x-error-message"]
    assert httpx.get(f"{hubd.url}/healthz").status_code == 200


def test_create_repo_rejects_bad_input(hubd: Hubd, repo_name: str) -> None:
    """A wrong-typed organization is a 400 (was 503); a Space needs an SDK; nothing is created by either."""
    auth = {"authorization": f"Bearer {hubd.tokens['alice']}"}
    bad = [{"name": repo_name, "type": "model", "organization": 5},
           {"name": repo_name, "type": "model", "organization": ["acme"]},
           {"name": repo_name, "type": "model", "organization": "a\u0000b"},
           {"name": repo_name, "type": "space"},
           {"name": repo_name, "type": "space", "sdk": None},
           {"name": repo_name, "type": "space", "sdk": {"x": 1}},
           {"name": repo_name, "type": ["model"]},
           {"name": repo_name, "private": "yes"},
           {"name": 7}, [], "x", None]
    for body in bad:
        r = httpx.post(f"{hubd.url}/api/repos/create", json=body, headers=auth)
        assert r.status_code == 400, (body, r.status_code, r.text)
        assert r.headers["x-error-code"] == "BadRequest" and r.json()["error"]
    for kind in ("models", "datasets", "spaces"):
        assert httpx.get(f"{hubd.url}/api/{kind}/alice/{repo_name}", headers=auth).status_code == 404
        assert httpx.get(f"{hubd.url}/api/{kind}/acme/{repo_name}", headers=auth).status_code == 404


def test_settings_reject_junk_bodies(hubd: Hubd, alice, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    """Junk settings bodies are 400s (were 5xx) and change nothing."""
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    auth = {"authorization": f"Bearer {hubd.tokens['alice']}"}
    url = f"{hubd.url}/api/models/{repo_id}/settings"
    for body in (b"[1, 2]", b'"private"', b"{not json", b"\xff\xfe", b"null", b"12", b'{"private": "yes"}',
                 b'{"gated": true}', b'{"gated": ["auto"]}', b'{"gated": {"a": 1}}', b'{"visibility": 3}',
                 b'{"private": true, "gated": "sometimes"}'):
        r = httpx.put(url, content=body, headers={**auth, "content-type": "application/json"})
        assert r.status_code == 400, (body, r.status_code, r.text)
        assert r.headers["x-error-code"] == "BadRequest"
    info = httpx.get(f"{hubd.url}/api/models/{repo_id}", headers=auth).json()
    assert info["private"] is False and info["gated"] is False


def test_spaces_listing_has_an_sdk_on_every_space(hubd: Hubd, seeded: dict[str, str]) -> None:
    r = httpx.get(f"{hubd.url}/api/spaces", params={"limit": 1000},
                  headers={"authorization": f"Bearer {seeded['alice']}"})
    assert r.status_code == 200 and r.json()
    assert all(s.get("sdk") in ("gradio", "streamlit", "docker", "static") for s in r.json())
