"""Every seed operation's 200 response validates against the seed's own schemas (the copy hubd ships)."""

from __future__ import annotations

import httpx
import jsonschema
import pytest
import yaml
from huggingface_hub import CommitOperationAdd, HfApi

from hubd.web.docs import SEED as SEED_SPEC
from tests.conftest import Hubd, eventually

# the project's copy of shared/seed/hub-api.openapi.yaml: tests read nothing outside the repository
SEED = SEED_SPEC  # the copy hubd ships (web/docs serves it too)


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(SEED.read_text())


def response_schema(spec: dict, path: str, method: str) -> dict:
    content = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    return {**content, "components": spec["components"]}


def validate(spec: dict, path: str, method: str, body: object) -> None:
    jsonschema.validate(body, response_schema(spec, path, method), cls=jsonschema.Draft202012Validator)


def test_seed_operations_validate(hubd: Hubd, alice: HfApi, repo_name: str, spec: dict) -> None:
    auth = {"authorization": f"Bearer {hubd.tokens['alice']}"}
    r = httpx.post(f"{hubd.url}/api/repos/create", json={"name": f"{repo_name}-m", "type": "model"}, headers=auth)
    validate(spec, "/repos/create", "post", r.json())
    for kind, sdk in (("dataset", None), ("space", "gradio")):
        body = {"name": f"{repo_name}-{kind[0]}", "type": kind, **({"sdk": sdk} if sdk else {})}
        assert httpx.post(f"{hubd.url}/api/repos/create", json=body, headers=auth).status_code == 200
    alice.create_commit(f"alice/{repo_name}-m", [
        CommitOperationAdd("README.md", b"---\nlicense: mit\npipeline_tag: fill-mask\nmodel-index:\n- name: m\n"
                                        b"  results:\n  - task: {type: fill-mask}\n"
                                        b"    dataset: {type: wiki, name: Wiki}\n"
                                        b"    metrics:\n    - {type: f1, value: 1}\n---\n"),
        CommitOperationAdd("config.json", b'{"architectures": ["BertForMaskedLM"], "model_type": "bert"}'),
    ], commit_message="card")
    alice.upload_file(path_or_fileobj=b"---\nlicense: mit\nlanguage: [en]\nsize_categories: [n<1K]\n---\n",
                      path_in_repo="README.md", repo_id=f"alice/{repo_name}-d", repo_type="dataset")
    alice.upload_file(path_or_fileobj=b"a,b\n1,2\n", path_in_repo="train.csv", repo_id=f"alice/{repo_name}-d",
                      repo_type="dataset")
    # background jobs derive the card metadata and export the parquet files: wait for both, and fail here if not
    assert eventually(lambda: next(iter(alice.list_models(search=f"{repo_name}-m"))).pipeline_tag)
    parquet = f"{hubd.url}/api/datasets/alice/{repo_name}-d/parquet"
    assert eventually(lambda: (r := httpx.get(parquet)).status_code == 200 and r.json()["parquet_files"], 60)

    checks = [
        ("/models", f"/api/models?search={repo_name}&full=true&config=true"),
        ("/models", "/api/models?limit=5"),
        ("/models/{repo_id}", f"/api/models/alice/{repo_name}-m"),
        ("/models/{repo_id}/revision/{revision}", f"/api/models/alice/{repo_name}-m/revision/main"),
        ("/datasets", f"/api/datasets?search={repo_name}&full=true"),
        ("/datasets/{repo_id}", f"/api/datasets/alice/{repo_name}-d"),
        ("/datasets/{repo_id}/parquet", f"/api/datasets/alice/{repo_name}-d/parquet"),
        ("/spaces", f"/api/spaces?search={repo_name}"),
        ("/spaces/{repo_id}", f"/api/spaces/alice/{repo_name}-s"),
        ("/whoami-v2", "/api/whoami-v2"),
        ("/metrics", "/api/metrics"),
        ("/models-tags-by-type", "/api/models-tags-by-type"),
        ("/datasets-tags-by-type", "/api/datasets-tags-by-type"),
    ]
    for seed_path, url in checks:
        r = httpx.get(hubd.url + url, headers=auth)
        assert r.status_code == 200, url
        validate(spec, seed_path, "get", r.json())
        assert r.json(), url
    # gated is false|"auto"|"manual" as on the Hub: the spec copy says so (a `# hubd:` deviation from the seed)
    r = httpx.put(f"{hubd.url}/api/models/alice/{repo_name}-m/settings", json={"gated": "auto"}, headers=auth)
    assert r.status_code == 200
    for seed_path, url in (("/models/{repo_id}", f"/api/models/alice/{repo_name}-m"),
                           ("/models", f"/api/models?search={repo_name}-m")):
        body = httpx.get(hubd.url + url, headers=auth).json()
        validate(spec, seed_path, "get", body)
        assert (body[0] if isinstance(body, list) else body)["gated"] == "auto"
    r = httpx.put(f"{hubd.url}/api/models/alice/{repo_name}-m/settings", json={"private": True}, headers=auth)
    assert r.status_code == 200
    r = httpx.request("DELETE", f"{hubd.url}/api/repos/delete", json={"name": f"alice/{repo_name}-m",
                                                                       "type": "model"}, headers=auth)
    assert r.status_code == 200
