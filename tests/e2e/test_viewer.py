"""The parquet export and the dataset viewer API, with `datasets`, pandas and pyarrow as the readers."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pandas as pd
import pyarrow.parquet as pq
import pytest
from huggingface_hub import CommitOperationAdd, HfApi, HfFileSystem

from tests.conftest import Hubd, eventually, run_client

TRAIN = "name,age,city\n" + "".join(f"person{i},{20 + i % 50},{['paris', 'oslo', 'lima'][i % 3]}\n"
                                    for i in range(300))
TEST = "name,age,city\nzoe,33,rome\nyann,44,oslo\n"


def wait_export(hubd: Hubd, repo_id: str, token: str, want_files: bool = True) -> dict:
    def ready() -> dict | None:
        r = httpx.get(f"{hubd.url}/api/datasets/{repo_id}/parquet", headers={"authorization": f"Bearer {token}"})
        if r.status_code != 200:
            return None
        body = r.json()
        return body if (body["parquet_files"] or body["failed"] or not want_files) else None

    result = eventually(ready, timeout=60)
    assert result, "the parquet export did not finish"
    return result


@pytest.fixture(scope="module")
def csv_dataset(hubd: Hubd, alice: HfApi) -> str:
    repo_id = "alice/people"
    alice.create_repo(repo_id, repo_type="dataset")
    alice.create_commit(repo_id, [CommitOperationAdd("train.csv", TRAIN.encode()),
                                  CommitOperationAdd("test.csv", TEST.encode()),
                                  CommitOperationAdd("README.md", b"---\nlicense: mit\n---\n# People\n")],
                        commit_message="data", repo_type="dataset")
    wait_export(hubd, repo_id, hubd.tokens["alice"])
    return repo_id


def test_export_listed_and_readable(hubd: Hubd, alice: HfApi, csv_dataset: str, tmp_path: Path) -> None:
    auth = {"authorization": f"Bearer {hubd.tokens['alice']}"}
    body = httpx.get(f"{hubd.url}/api/datasets/{csv_dataset}/parquet", headers=auth).json()
    files = {f["split"]: f for f in body["parquet_files"]}
    assert set(files) == {"train", "test"} and body["failed"] == [] and body["partial"] is False
    assert all(f["config"] == "default" and f["dataset"] == csv_dataset for f in files.values())
    assert files["train"]["url"].endswith("/resolve/refs%2Fconvert%2Fparquet/default/train/0000.parquet")
    train = pd.read_parquet(io.BytesIO(httpx.get(files["train"]["url"], follow_redirects=True).content))
    assert train.equals(pd.read_csv(io.StringIO(TRAIN)))
    assert len(httpx.get(files["train"]["url"], follow_redirects=True).content) == files["train"]["size"]
    # ranged reads (what DuckDB and pyarrow do over HTTP) work on the same URLs
    with HfFileSystem().open(f"datasets/{csv_dataset}/default/test/0000.parquet", "rb",
                             revision="refs/convert/parquet") as f:
        assert pq.read_table(f).to_pandas().equals(pd.read_csv(io.StringIO(TEST)))
    # the Hub's URL forms
    urls = httpx.get(f"{hubd.url}/api/datasets/{csv_dataset}/parquet/default/train", headers=auth).json()
    assert urls == [f"{hubd.url}/api/datasets/{csv_dataset}/parquet/default/train/0.parquet"]
    shard = httpx.get(urls[0], headers=auth, follow_redirects=True)
    assert shard.status_code == 200 and shard.content[:4] == b"PAR1"
    refs = alice.list_repo_refs(csv_dataset, repo_type="dataset")
    assert [c.ref for c in refs.converts] == ["refs/convert/parquet"]
    # datasets reads both the original files and the export
    out = run_client(
        "import datasets, json; "
        f"a = datasets.load_dataset({csv_dataset!r}, cache_dir={str(tmp_path / 'c1')!r}); "
        f"b = datasets.load_dataset({csv_dataset!r}, revision='refs/convert/parquet', "
        f"cache_dir={str(tmp_path / 'c2')!r}); "
        "print(json.dumps([a['train'].to_dict(), b['train'].to_dict(), b['test'].num_rows]))",
        hubd.tokens["alice"], {"HF_UPDATE_DOWNLOAD_COUNTS": "0"})
    original, exported, test_rows = json.loads(out.strip().splitlines()[-1])
    assert original == exported == pd.read_csv(io.StringIO(TRAIN)).to_dict(orient="list")
    assert test_rows == 2


def test_viewer_endpoints(hubd: Hubd, csv_dataset: str) -> None:
    v = f"{hubd.url}/viewer"
    base = {"dataset": csv_dataset, "config": "default", "split": "train"}
    assert httpx.get(f"{v}/is-valid", params={"dataset": csv_dataset}).json()["viewer"] is True
    splits = httpx.get(f"{v}/splits", params={"dataset": csv_dataset})
    assert splits.headers["x-revision"] and [s["split"] for s in splits.json()["splits"]] == ["train", "test"]
    first = httpx.get(f"{v}/first-rows", params=base).json()
    assert [f["name"] for f in first["features"]] == ["name", "age", "city"]
    assert first["features"][1]["type"] == {"dtype": "int64", "_type": "Value"}
    assert len(first["rows"]) == 100 and first["truncated"] is True
    rows = httpx.get(f"{v}/rows", params={**base, "offset": 250, "length": 10}).json()
    assert rows["num_rows_total"] == 300 and [r["row_idx"] for r in rows["rows"]] == list(range(250, 260))
    assert rows["rows"][0]["row"] == {"name": "person250", "age": 20, "city": "oslo"}
    found = httpx.get(f"{v}/search", params={**base, "query": "PERSON29"}).json()
    assert sorted(r["row"]["name"] for r in found["rows"]) == ["person29"] + [f"person{i}" for i in range(290, 300)]
    assert found["num_rows_total"] == 11
    filt = httpx.get(f"{v}/filter", params={**base, "where": "\"age\" > 67 AND (\"city\"='oslo')",
                                             "orderby": "\"name\" DESC", "length": 5}).json()
    expected = sorted((r for r in pd.read_csv(io.StringIO(TRAIN)).to_dict(orient="records")
                       if r["age"] > 67 and r["city"] == "oslo"), key=lambda r: r["name"], reverse=True)
    assert [r["row"]["name"] for r in filt["rows"]] == [r["name"] for r in expected[:5]]
    assert filt["num_rows_total"] == len(expected)
    for bad in ["1=1; DROP TABLE data", "age > (SELECT 1)", "read_csv('/etc/passwd') IS NOT NULL", "a -- x"]:
        r = httpx.get(f"{v}/filter", params={**base, "where": bad})
        assert r.status_code == 400, bad
    info = httpx.get(f"{v}/info", params={"dataset": csv_dataset}).json()["dataset_info"]["default"]
    assert info["splits"]["train"]["num_examples"] == 300 and info["splits"]["test"]["num_examples"] == 2
    size = httpx.get(f"{v}/size", params={"dataset": csv_dataset}).json()["size"]
    assert size["dataset"]["num_rows"] == 302
    stats = {s["column_name"]: s for s in httpx.get(f"{v}/statistics", params=base).json()["statistics"]}
    assert stats["age"]["column_type"] == "int" and stats["age"]["column_statistics"]["min"] == 20
    assert sum(stats["age"]["column_statistics"]["histogram"]["hist"]) == 300
    assert stats["city"]["column_type"] == "string_label"
    assert stats["city"]["column_statistics"]["frequencies"] == {"paris": 100, "oslo": 100, "lima": 100}
    assert stats["name"]["column_type"] == "string_text"
    missing = httpx.get(f"{v}/rows", params={"dataset": csv_dataset})
    assert missing.status_code == 422 and missing.json()["error"]
    assert httpx.get(f"{v}/rows", params={**base, "split": "nope"}).status_code == 404


def test_jsonl_and_yaml_configs(hubd: Hubd, alice: HfApi, repo_name: str) -> None:
    jsonl = f"alice/{repo_name}-jsonl"
    alice.create_repo(jsonl, repo_type="dataset")
    lines = [json.dumps({"text": f"t{i}", "label": i % 2}) + "\n" for i in range(50)]
    alice.create_commit(jsonl, [CommitOperationAdd("data/train.jsonl", "".join(lines).encode()),
                                CommitOperationAdd("data/validation.jsonl", "".join(lines[:5]).encode())],
                        commit_message="jsonl", repo_type="dataset")
    body = wait_export(hubd, jsonl, hubd.tokens["alice"])
    assert {f["split"] for f in body["parquet_files"]} == {"train", "validation"}

    cfg = f"alice/{repo_name}-cfg"
    alice.create_repo(cfg, repo_type="dataset")
    readme = ("---\nconfigs:\n- config_name: small\n  data_files:\n  - split: train\n    path: small/*.csv\n"
              "- config_name: big\n  data_files: big.csv\n---\n")
    alice.create_commit(cfg, [CommitOperationAdd("README.md", readme.encode()),
                              CommitOperationAdd("small/a.csv", b"x,y\n1,2\n"),
                              CommitOperationAdd("small/b.csv", b"x,y\n3,4\n"),
                              CommitOperationAdd("big.csv", TRAIN.encode())],
                        commit_message="configs", repo_type="dataset")
    body = wait_export(hubd, cfg, hubd.tokens["alice"])
    got = {(f["config"], f["split"]) for f in body["parquet_files"]}
    assert got == {("small", "train"), ("big", "train")}
    rows = httpx.get(f"{hubd.url}/viewer/rows", params={"dataset": cfg, "config": "small", "split": "train"}).json()
    assert [r["row"] for r in rows["rows"]] == [{"x": 1, "y": 2}, {"x": 3, "y": 4}]


def test_malformed_csv_is_a_recorded_failure(hubd: Hubd, alice: HfApi, repo_name: str) -> None:
    repo_id = f"alice/{repo_name}-bad"
    alice.create_repo(repo_id, repo_type="dataset")
    alice.create_commit(repo_id, [CommitOperationAdd("train.csv", b'a,b\n1,2\n3,4,5,6\n"unterminated\n')],
                        commit_message="bad", repo_type="dataset")
    body = wait_export(hubd, repo_id, hubd.tokens["alice"])
    assert body["parquet_files"] == [] and body["failed"] and body["failed"][0]["error"]["error"]
    assert httpx.get(f"{hubd.url}/viewer/is-valid", params={"dataset": repo_id}).json()["viewer"] is False
    # the repo itself is fine
    assert alice.file_exists(repo_id, "train.csv", repo_type="dataset")
    assert alice.dataset_info(repo_id).sha


def test_private_dataset_viewer_is_private(hubd: Hubd, alice: HfApi, repo_name: str) -> None:
    repo_id = f"alice/{repo_name}-priv"
    alice.create_repo(repo_id, repo_type="dataset", private=True)
    alice.upload_file(path_or_fileobj=TEST.encode(), path_in_repo="train.csv", repo_id=repo_id, repo_type="dataset")
    wait_export(hubd, repo_id, hubd.tokens["alice"])
    for headers in ({}, {"authorization": f"Bearer {hubd.tokens['bob']}"}):
        r = httpx.get(f"{hubd.url}/viewer/rows", params={"dataset": repo_id, "config": "default", "split": "train"},
                      headers=headers)
        assert r.headers["x-error-code"] == "RepoNotFound"
        assert httpx.get(f"{hubd.url}/api/datasets/{repo_id}/parquet", headers=headers).status_code in (401, 404)
    mine = httpx.get(f"{hubd.url}/viewer/rows", params={"dataset": repo_id, "config": "default", "split": "train"},
                     headers={"authorization": f"Bearer {hubd.tokens['alice']}"})
    assert mine.status_code == 200 and mine.json()["num_rows_total"] == 2
