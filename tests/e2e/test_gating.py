"""Gated repos and access requests with the official client: the gate form (the card's extra_gated_fields),
pending / accepted / rejected / cancelled requests, grants, auto-gating, the Hub's GatedRepo messages, and an
accepted user reading through every path (resolve, Xet, LFS batch, auth-check, viewer, parquet)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError

from tests.conftest import Hubd, eventually, run_client

CARD = b"""---
license: mit
extra_gated_fields:
  Company: text
  Country: country
  I agree to share my contact information: checkbox
---
# A gated model
"""
FORM = {"Company": "ACME", "Country": "France", "I agree to share my contact information": "on"}


@pytest.fixture(scope="module")
def dave(hubd: Hubd) -> HfApi:
    hubd.add_user("dave")
    hubd.tokens["dave-read"] = hubd.cli("tokens", "add", "dave", "--role", "read").stdout.strip()
    return HfApi(token=hubd.tokens["dave"])


@pytest.fixture(scope="module")
def erin(hubd: Hubd) -> HfApi:
    hubd.add_user("erin")
    return HfApi(token=hubd.tokens["erin"])


def _ask(hubd: Hubd, repo_path: str, token: str, form: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{hubd.url}/{repo_path}/ask-access", data=form or {},
                      headers={"authorization": f"Bearer {token}"})


def _gated_model(alice: HfApi, name: str, mode: str, big: bytes) -> str:
    repo_id = f"alice/{name}"
    alice.create_repo(repo_id)
    alice.create_commit(repo_id, [CommitOperationAdd("README.md", CARD), CommitOperationAdd("config.json", b"{}"),
                                  CommitOperationAdd("model.bin", big)], commit_message="weights")
    alice.update_repo_settings(repo_id, gated=mode)
    return repo_id


def _gated(exc: pytest.ExceptionInfo) -> str:
    assert exc.value.response.status_code == 403
    assert exc.value.response.headers["x-error-code"] == "GatedRepo"
    return exc.value.response.headers["x-error-message"]


def test_manual_gate_request_accept_reject_cancel_grant(hubd: Hubd, alice: HfApi, dave: HfApi, erin: HfApi,
                                                        repo_name: str, tmp_path: Path) -> None:
    big = os.urandom(200_000) + b"\0"  # binary: stored through Xet by the default client
    repo_id = _gated_model(alice, repo_name, "manual", big)
    assert alice.model_info(repo_id).gated == "manual"

    with pytest.raises(GatedRepoError) as exc:
        dave.hf_hub_download(repo_id, "config.json")
    assert _gated(exc) == (f"Access to model {repo_id} is restricted and you are not in the authorized list. "
                           f"Visit {hubd.url}/{repo_id} to ask for access.")
    # the form: every field answered, the checkbox checked; a bad form records nothing
    r = _ask(hubd, repo_id, hubd.tokens["dave"], {**FORM, "I agree to share my contact information": ""})
    assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest"
    assert list(alice.list_pending_access_requests(repo_id)) == []
    assert httpx.post(f"{hubd.url}/{repo_id}/ask-access", data=FORM).status_code == 401
    r = _ask(hubd, repo_id, hubd.tokens["dave"], FORM)
    assert r.status_code == 200 and r.json() == {"status": "pending"}

    pending = list(alice.list_pending_access_requests(repo_id))
    assert [(p.username, p.status, p.email, p.fields) for p in pending] == [
        ("dave", "pending", "dave@example.org", FORM)]
    with pytest.raises(GatedRepoError) as exc:
        dave.hf_hub_download(repo_id, "config.json")
    assert _gated(exc) == f"Your request to access model {repo_id} is awaiting a review from the repo authors."
    with pytest.raises(GatedRepoError):
        dave.auth_check(repo_id)

    # the requester, a read token of the owner's and strangers cannot review
    for api in (dave, HfApi(token=hubd.tokens["alice-read"]), erin):
        with pytest.raises(HfHubHTTPError) as exc:
            list(api.list_pending_access_requests(repo_id))
        assert exc.value.response.status_code == 403
        with pytest.raises(HfHubHTTPError) as exc:
            api.accept_access_request(repo_id, "dave")
        assert exc.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as exc:
        alice.accept_access_request(repo_id, "nobody-by-that-name")
    assert exc.value.response.status_code == 404

    alice.accept_access_request(repo_id, "dave")
    assert [p.username for p in alice.list_accepted_access_requests(repo_id)] == ["dave"]
    assert list(alice.list_pending_access_requests(repo_id)) == []
    dave.auth_check(repo_id)
    # through Xet (the default client) and plain HTTP (a client without Xet: /resolve and the LFS batch API)
    assert Path(dave.hf_hub_download(repo_id, "model.bin", cache_dir=tmp_path / "xet")).read_bytes() == big
    out = run_client(
        "from huggingface_hub import hf_hub_download\n"
        f"print(hf_hub_download({repo_id!r}, 'model.bin', cache_dir={str(tmp_path / 'http')!r}))\n",
        hubd.tokens["dave"], env={"HF_HUB_DISABLE_XET": "1"})
    assert Path(out.strip()).read_bytes() == big
    pointer = alice.get_paths_info(repo_id, ["model.bin"])[0].lfs
    batch = httpx.post(f"{hubd.url}/{repo_id}.git/info/lfs/objects/batch",
                       headers={"authorization": f"Bearer {hubd.tokens['dave']}"},
                       json={"operation": "download", "objects": [{"oid": pointer.sha256, "size": pointer.size}]})
    assert batch.status_code == 200 and "actions" in batch.json()["objects"][0]
    assert httpx.get(f"{hubd.url}/api/models/{repo_id}/xet-read-token/main",
                     headers={"authorization": f"Bearer {hubd.tokens['dave']}"}).status_code == 200

    # rejected, with a reason: no more downloads, and the Hub's message
    alice.reject_access_request(repo_id, "dave", rejection_reason="Not this time")
    rejected = list(alice.list_rejected_access_requests(repo_id))
    assert [(p.username, p.status) for p in rejected] == [("dave", "rejected")]
    with pytest.raises(GatedRepoError) as exc:
        dave.hf_hub_download(repo_id, "config.json", cache_dir=tmp_path / "after-reject")
    assert _gated(exc) == f"Your request to access model {repo_id} has been rejected by the repo's authors."
    with pytest.raises(HfHubHTTPError) as exc:
        alice.reject_access_request(repo_id, "dave", rejection_reason="again")
    assert exc.value.response.status_code == 404  # already rejected
    assert _ask(hubd, repo_id, hubd.tokens["dave"], FORM).json() == {"status": "rejected"}  # a rejection stands

    # cancelled: back to pending, by request id
    alice.cancel_access_request(repo_id, request_id=rejected[0].request_id)
    assert [p.username for p in alice.list_pending_access_requests(repo_id)] == ["dave"]

    # a grant needs no request; twice is an error
    alice.grant_access(repo_id, "erin")
    assert Path(erin.hf_hub_download(repo_id, "config.json", cache_dir=tmp_path / "erin")).read_bytes() == b"{}"
    with pytest.raises(HfHubHTTPError) as exc:
        alice.grant_access(repo_id, "erin")
    assert exc.value.response.status_code == 400
    assert {p.username for p in alice.list_accepted_access_requests(repo_id)} == {"erin"}


def test_auto_gate_grants_at_once(hubd: Hubd, alice: HfApi, dave: HfApi, repo_name: str, tmp_path: Path) -> None:
    repo_id = _gated_model(alice, repo_name, "auto", b"\0auto" * 100)
    with pytest.raises(GatedRepoError):
        dave.hf_hub_download(repo_id, "config.json", cache_dir=tmp_path)
    assert _ask(hubd, repo_id, hubd.tokens["dave-read"], FORM).json() == {"status": "accepted"}  # any token asks
    assert Path(dave.hf_hub_download(repo_id, "model.bin", cache_dir=tmp_path)).read_bytes() == b"\0auto" * 100
    assert [p.username for p in alice.list_accepted_access_requests(repo_id)] == ["dave"]


def test_requests_on_a_repo_that_is_not_gated(hubd: Hubd, alice: HfApi, repo_name: str) -> None:
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    r = _ask(hubd, repo_id, hubd.tokens["bob"])
    assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest"
    with pytest.raises(HfHubHTTPError) as exc:
        list(alice.list_pending_access_requests(repo_id))
    assert exc.value.response.status_code == 400
    with pytest.raises(HfHubHTTPError) as exc:
        alice.grant_access(repo_id, "bob")
    assert exc.value.response.status_code == 400
    # a private repo answers outsiders as a missing one does
    alice.update_repo_settings(repo_id, private=True)
    assert _ask(hubd, repo_id, hubd.tokens["bob"]).headers["x-error-code"] == "RepoNotFound"


def test_accepted_user_reads_a_gated_dataset_through_viewer_and_parquet(hubd: Hubd, alice: HfApi, dave: HfApi,
                                                                        repo_name: str) -> None:
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id, repo_type="dataset")
    alice.upload_file(path_or_fileobj=b"a,b\n1,2\n3,4\n", path_in_repo="train.csv", repo_id=repo_id,
                      repo_type="dataset")
    alice.update_repo_settings(repo_id, gated="manual", repo_type="dataset")
    headers = {"authorization": f"Bearer {hubd.tokens['dave']}"}
    rows = {"dataset": repo_id, "config": "default", "split": "train"}

    def parquet_ready() -> bool:
        r = httpx.get(f"{hubd.url}/api/datasets/{repo_id}/parquet",
                      headers={"authorization": f"Bearer {hubd.tokens['alice']}"})
        return r.status_code == 200 and bool(r.json()["parquet_files"])

    assert eventually(parquet_ready, timeout=60)
    for r in (httpx.get(f"{hubd.url}/api/datasets/{repo_id}/parquet", headers=headers),
              httpx.get(f"{hubd.url}/viewer/rows", params=rows, headers=headers)):
        assert r.status_code == 403 and r.headers["x-error-code"] == "GatedRepo"
    assert _ask(hubd, f"datasets/{repo_id}", hubd.tokens["dave"]).json() == {"status": "pending"}
    alice.accept_access_request(repo_id, "dave", repo_type="dataset")
    assert httpx.get(f"{hubd.url}/api/datasets/{repo_id}/parquet", headers=headers).json()["parquet_files"]
    body = httpx.get(f"{hubd.url}/viewer/rows", params=rows, headers=headers).json()
    assert [r["row"] for r in body["rows"]] == [{"a": 1, "b": 2}, {"a": 3, "b": 4}]
    assert dave.hf_hub_download(repo_id, "train.csv", repo_type="dataset")
