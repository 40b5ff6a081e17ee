"""The hf CLI against hubd: repos create, upload, download, auth whoami."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import HfApi

from tests.conftest import run_hf


def test_hf_cli_round_trip(hubd, alice: HfApi, repo_name: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    token = hubd.tokens["alice"]
    repo_id = f"alice/{repo_name}"
    created = run_hf(["repos", "create", repo_id, "--type", "dataset", "--private"], token)
    assert created.returncode == 0, created.stderr
    assert alice.dataset_info(repo_id).private is True

    folder = tmp_path / "data"
    (folder / "split").mkdir(parents=True)
    (folder / "split" / "train.csv").write_text("a,b\n1,2\n")
    (folder / "notes.md").write_text("notes")
    up = run_hf(["upload", repo_id, str(folder), ".", "--repo-type", "dataset"], token)
    assert up.returncode == 0, up.stderr
    single = tmp_path / "one.txt"
    single.write_text("single file")
    up = run_hf(["upload", repo_id, str(single), "docs/one.txt", "--repo-type", "dataset",
                 "--commit-message", "one file"], token)
    assert up.returncode == 0, up.stderr
    assert alice.list_repo_commits(repo_id, repo_type="dataset")[0].title == "one file"

    dest = tmp_path / "out"
    down = run_hf(["download", repo_id, "--repo-type", "dataset", "--local-dir", str(dest)], token)
    assert down.returncode == 0, down.stderr
    assert (dest / "split" / "train.csv").read_text() == "a,b\n1,2\n"
    assert (dest / "docs" / "one.txt").read_text() == "single file"
    one = run_hf(["download", repo_id, "notes.md", "--repo-type", "dataset"], token)
    assert one.returncode == 0, one.stderr
    printed = one.stdout.strip().splitlines()[-1].strip()
    assert Path(printed.removeprefix("path:").strip()).read_text() == "notes"

    who = run_hf(["auth", "whoami"], token)
    assert who.returncode == 0 and "alice" in who.stdout
    # a fresh cache: the client would otherwise serve alice's cached copy when the hub says "not found"
    refused = run_hf(["download", repo_id, "notes.md", "--repo-type", "dataset", "--cache-dir",
                      str(tmp_path / "bob-cache")], hubd.tokens["bob"])
    assert refused.returncode != 0 and "not found" in (refused.stderr + refused.stdout).lower()
