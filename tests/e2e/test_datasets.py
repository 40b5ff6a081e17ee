"""`datasets` against hubd: push_to_hub (through Xet by default) and load_dataset back."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import HfApi

from tests.conftest import Hubd, run_client

PUSH_AND_LOAD = """
import datasets, json, sys
rows = {"text": [f"row {i}" for i in range(5000)], "label": [i % 3 for i in range(5000)]}
ds = datasets.Dataset.from_dict(rows)
ds.push_to_hub(sys.argv[1], split="train")
datasets.Dataset.from_dict({"text": ["t"], "label": [1]}).push_to_hub(sys.argv[1], split="test")
back = datasets.load_dataset(sys.argv[1], cache_dir=sys.argv[2])
print(json.dumps({"train": back["train"].to_dict(), "test": back["test"].to_dict()}))
"""


def test_push_to_hub_and_load_dataset(hubd: Hubd, alice: HfApi, repo_name: str, tmp_path: Path) -> None:
    repo_id = f"alice/{repo_name}"
    script = tmp_path / "push.py"
    script.write_text(PUSH_AND_LOAD)
    out = run_client(
        f"import sys, runpy; sys.argv = ['push', {repo_id!r}, {str(tmp_path / 'cache')!r}]; "
        f"runpy.run_path({str(script)!r}, run_name='__main__')",
        hubd.tokens["alice"],
    )
    import json

    loaded = json.loads(out.strip().splitlines()[-1])
    assert loaded["train"]["text"] == [f"row {i}" for i in range(5000)]
    assert loaded["train"]["label"] == [i % 3 for i in range(5000)]
    assert loaded["test"] == {"text": ["t"], "label": [1]}
    files = alice.list_repo_files(repo_id, repo_type="dataset")
    assert any(f.startswith("data/train-") and f.endswith(".parquet") for f in files)
    assert "README.md" in files
