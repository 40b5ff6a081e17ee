"""Metadata the Hub derives from content, counters, tags by type, metrics — with the real client."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from huggingface_hub import HfApi, hf_hub_download
from safetensors.numpy import save_file

from tests.conftest import Hubd, eventually

README = """---
license: apache-2.0
language: [en, fr]
datasets: [acme/reviews]
base_model: acme/base-1
tags: [tiny, demo]
model-index:
- name: tiny
  results:
  - task: {type: text-classification}
    dataset: {name: reviews, type: acme/reviews}
    metrics:
    - {type: accuracy, value: 0.9}
    - {type: hubd_custom_score, value: 1.5}
---
# Tiny model

See https://arxiv.org/abs/2106.09685 for the method.
"""


def write_tiny_model(folder: Path, sharded: bool) -> dict[str, int]:
    rng = np.random.default_rng(0)
    tensors = {"embed.weight": rng.standard_normal((100, 16)).astype(np.float32),
               "classifier.weight": rng.standard_normal((2, 16)).astype(np.float16),
               "classifier.bias": np.zeros(2, dtype=np.float16)}
    if sharded:
        save_file({"embed.weight": tensors["embed.weight"]}, str(folder / "model-00001-of-00002.safetensors"))
        save_file({k: v for k, v in tensors.items() if k != "embed.weight"},
                  str(folder / "model-00002-of-00002.safetensors"))
        weight_map = {"embed.weight": "model-00001-of-00002.safetensors",
                      "classifier.weight": "model-00002-of-00002.safetensors",
                      "classifier.bias": "model-00002-of-00002.safetensors"}
        (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    else:
        save_file(tensors, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(
        {"architectures": ["BertForSequenceClassification"], "model_type": "bert", "hidden_size": 16}))
    (folder / "tokenizer_config.json").write_text(json.dumps({"unk_token": "[UNK]", "model_max_length": 8}))
    (folder / "vocab.txt").write_text("[UNK]\nhello\n")
    (folder / "README.md").write_text(README)
    return {"F32": 1600, "F16": 34}


@pytest.mark.parametrize("sharded", [False, True])
def test_model_info_derives_metadata(alice: HfApi, repo_name: str, tmp_path: Path, sharded: bool) -> None:
    repo_id = f"alice/{repo_name}"
    expected = write_tiny_model(tmp_path, sharded)
    alice.create_repo(repo_id)
    alice.upload_folder(repo_id=repo_id, folder_path=tmp_path)
    info = eventually(lambda: (i := alice.model_info(repo_id)).safetensors and i)
    assert info.safetensors.parameters == expected and info.safetensors.total == 1634
    assert info.card_data["license"] == "apache-2.0" and info.card_data["base_model"] == "acme/base-1"
    assert info.pipeline_tag == "text-classification"
    assert info.library_name == "transformers"
    assert info.transformers_info.auto_model == "AutoModelForSequenceClassification"
    assert info.transformers_info.processor == "AutoTokenizer"
    assert info.config["architectures"] == ["BertForSequenceClassification"]
    assert info.config["tokenizer_config"] == {"unk_token": "[UNK]"}
    for tag in ("transformers", "safetensors", "bert", "tiny", "text-classification", "en", "fr",
                "dataset:acme/reviews", "base_model:acme/base-1", "arxiv:2106.09685", "license:apache-2.0",
                "region:us"):
        assert tag in info.tags, tag
    with_sizes = alice.model_info(repo_id, files_metadata=True)
    assert info.used_storage == sum(s.size for s in with_sizes.siblings)
    assert info.used_storage > sum(f.stat().st_size for f in tmp_path.iterdir())
    # the listing carries the same, from the denormalised row
    # the listing reads the denormalised row the derive job writes
    listed = eventually(lambda: (m := next(iter(alice.list_models(search=repo_name, full=True,
                                                                  fetch_config=True)))).pipeline_tag and m)
    assert listed.pipeline_tag == "text-classification" and listed.config["model_type"] == "bert"
    assert {s.rfilename for s in listed.siblings} == {f.name for f in tmp_path.iterdir()} | {".gitattributes"}
    expanded = next(iter(alice.list_models(search=repo_name, expand=["safetensors", "transformersInfo"])))
    assert expanded.safetensors.total == 1634 and expanded.pipeline_tag is None


def test_broken_card_and_header_do_not_break_the_repo(hubd: Hubd, alice: HfApi, repo_name: str) -> None:
    """The client refuses to push broken YAML, so this commit goes over raw HTTP, as a git push would."""
    import base64

    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)

    def line(path: str, data: bytes) -> dict:
        return {"key": "file", "value": {"path": path, "content": base64.b64encode(data).decode(),
                                         "encoding": "base64"}}

    body = [{"key": "header", "value": {"summary": "broken"}},
            line("README.md", b"---\nlicense: [unclosed\n---\n# hi\n"), line("model.safetensors", b"\xff" * 64)]
    r = httpx.post(f"{hubd.url}/api/models/{repo_id}/commit/main", content="\n".join(json.dumps(x) for x in body),
                   headers={"authorization": f"Bearer {hubd.tokens['alice']}"})
    assert r.status_code == 200
    info = eventually(lambda: (i := next(iter(alice.list_models(search=repo_name)))).tags and i)
    assert "region:us" in info.tags and "safetensors" in info.tags
    info = alice.model_info(repo_id)
    assert info.card_data is None and info.safetensors is None
    assert hf_hub_download(repo_id, "README.md")


def test_likes_downloads_and_sorting(hubd: Hubd, alice: HfApi, bob: HfApi, repo_name: str) -> None:
    stem = f"pop{repo_name}"
    for suffix in ("a", "b", "c"):
        alice.create_repo(f"alice/{stem}-{suffix}")
        alice.upload_file(path_or_fileobj=b'{"model_type": "x"}', path_in_repo="config.json",
                          repo_id=f"alice/{stem}-{suffix}")
    like_url = f"{hubd.url}/api/models/alice/{stem}-b/like"
    r = httpx.post(like_url, headers={"authorization": f"Bearer {hubd.tokens['bob']}"})
    assert r.status_code == 200
    httpx.post(like_url, headers={"authorization": f"Bearer {hubd.tokens['alice']}"})
    bob.unlike(f"alice/{stem}-b")
    assert [u.username for u in alice.list_repo_likers(f"alice/{stem}-b")] == ["alice"]
    # alice likes other repos too in a whole run (the web tests' like button): look at this test's own
    assert [m for m in alice.list_liked_repos("alice").models if m.startswith(f"alice/{stem}")] == [f"alice/{stem}-b"]
    for _ in range(3):
        httpx.get(f"{hubd.url}/alice/{stem}-c/resolve/main/config.json")
    httpx.get(f"{hubd.url}/alice/{stem}-a/resolve/main/config.json")
    httpx.get(f"{hubd.url}/alice/{stem}-a/resolve/main/.gitattributes")  # not a download
    # Counts are flushed in the background, per worker process and not all at once: wait for every repo's
    # count (waiting on one repo's and checking another's was the flake), then for the info route's.
    expected = {f"alice/{stem}-a": 1, f"alice/{stem}-b": 0, f"alice/{stem}-c": 3}

    def counts() -> dict[str, int]:
        return {m.id: m.downloads for m in alice.list_models(search=stem)}

    assert eventually(lambda: counts() == expected), counts()
    assert eventually(lambda: alice.model_info(f"alice/{stem}-c").downloads_all_time == 3)
    by_downloads = [m.id for m in alice.list_models(search=stem, sort="downloads")]
    assert by_downloads == [f"alice/{stem}-c", f"alice/{stem}-a", f"alice/{stem}-b"]
    by_likes = [m.id for m in alice.list_models(search=stem, sort="likes")]
    assert by_likes[0] == f"alice/{stem}-b"
    r = httpx.get(f"{hubd.url}/api/models", params={"search": stem, "sort": "downloads", "direction": "1"})
    assert [m["id"] for m in r.json()] == by_downloads[::-1]


def test_tags_by_type_and_metrics(hubd: Hubd, alice: HfApi, repo_name: str, tmp_path: Path) -> None:
    write_tiny_model(tmp_path, sharded=False)
    alice.create_repo(f"alice/{repo_name}")
    alice.upload_folder(repo_id=f"alice/{repo_name}", folder_path=tmp_path)
    alice.create_repo(f"alice/{repo_name}-ds", repo_type="dataset")
    alice.upload_file(path_or_fileobj=b"---\ntask_categories: [text-classification]\nlicense: mit\n---\n",
                      path_in_repo="README.md", repo_id=f"alice/{repo_name}-ds", repo_type="dataset")
    alice.upload_file(path_or_fileobj=b"a,b\n1,2\n", path_in_repo="train.csv", repo_id=f"alice/{repo_name}-ds",
                      repo_type="dataset")

    def model_types() -> dict:
        r = httpx.get(f"{hubd.url}/api/models-tags-by-type").json()
        return r if any(t["id"] == "text-classification" for t in r.get("pipeline_tag", [])) else {}

    types = eventually(model_types)
    pipeline = next(t for t in types["pipeline_tag"] if t["id"] == "text-classification")
    assert pipeline["subType"] == "nlp" and pipeline["label"] == "Text Classification"
    assert any(t["id"] == "transformers" for t in types["library"])
    assert any(t["id"] == "license:apache-2.0" for t in types["license"])
    assert any(t["id"] == "en" for t in types["language"])

    def dataset_types() -> dict:
        r = httpx.get(f"{hubd.url}/api/datasets-tags-by-type").json()
        # wait for this test's dataset (its card's task), not for any CSV dataset: another test's may be first
        return r if any(t["id"] == "task_categories:text-classification" for t in r.get("task_categories", [])) else {}

    dtypes = eventually(dataset_types)
    assert any(t["id"] == "task_categories:text-classification" for t in dtypes["task_categories"])
    assert any(t["id"] == "modality:tabular" for t in dtypes["modality"])

    metrics = {m["id"]: m["description"] for m in httpx.get(f"{hubd.url}/api/metrics").json()}
    assert "accuracy" in metrics and metrics["accuracy"]
    assert "hubd_custom_score" in metrics
