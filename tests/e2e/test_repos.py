"""Repo lifecycle with the real client: create (all types, private/public), info, settings, move, delete."""

from __future__ import annotations

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError


@pytest.mark.parametrize("repo_type", ["model", "dataset", "space"])
@pytest.mark.parametrize("private", [False, True])
def test_create_repo_each_type(alice: HfApi, repo_name: str, repo_type: str, private: bool) -> None:
    kwargs = {"space_sdk": "gradio"} if repo_type == "space" else {}
    url = alice.create_repo(f"alice/{repo_name}", repo_type=repo_type, private=private, **kwargs)
    assert url.repo_id == f"alice/{repo_name}"
    assert url.repo_type == repo_type
    info = alice.repo_info(f"alice/{repo_name}", repo_type=repo_type)
    assert info.id == f"alice/{repo_name}"
    assert info.private is private
    assert len(info.sha) == 40
    # as on the Hub, a new Space has a README.md with its sdk in the front matter
    expected = [".gitattributes", "README.md"] if repo_type == "space" else [".gitattributes"]
    assert sorted(s.rfilename for s in info.siblings) == expected
    if repo_type == "space":
        assert info.sdk == "gradio"
        assert info.runtime.stage == "STOPPED"
    # exist_ok reads the url from the 409
    again = alice.create_repo(f"alice/{repo_name}", repo_type=repo_type, exist_ok=True, **kwargs)
    assert again.repo_id == url.repo_id
    with pytest.raises(HfHubHTTPError) as exc:
        alice.create_repo(f"alice/{repo_name}", repo_type=repo_type, **kwargs)
    assert exc.value.response.status_code == 409


def test_create_in_org_and_whoami(alice: HfApi, repo_name: str) -> None:
    me = alice.whoami()
    assert me["name"] == "alice"
    assert "acme" in [o["name"] for o in me["orgs"]]
    assert me["auth"]["accessToken"]["role"] == "write"
    url = alice.create_repo(f"acme/{repo_name}")
    assert alice.model_info(url.repo_id).author == "acme"


def test_bob_cannot_create_in_alices_namespace(bob: HfApi, repo_name: str) -> None:
    with pytest.raises(HfHubHTTPError) as exc:
        bob.create_repo(f"alice/{repo_name}")
    assert exc.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as exc:
        bob.create_repo(f"acme/{repo_name}")
    assert exc.value.response.status_code == 403


def test_read_token_cannot_write(hubd, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    reader = HfApi(token=hubd.tokens["alice-read"])
    with pytest.raises(HfHubHTTPError) as exc:
        reader.create_repo(f"alice/{repo_name}")
    assert exc.value.response.status_code == 403
    assert reader.whoami()["auth"]["accessToken"]["role"] == "read"


def test_settings_move_delete(alice: HfApi, repo_name: str) -> None:
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id, repo_type="dataset")
    alice.update_repo_settings(repo_id, repo_type="dataset", private=True, gated="manual")
    info = alice.dataset_info(repo_id)
    assert info.private is True
    assert info.gated == "manual"
    alice.update_repo_settings(repo_id, repo_type="dataset", private=False, gated=False)
    info = alice.dataset_info(repo_id)
    assert info.private is False and info.gated is False

    moved = f"acme/{repo_name}-moved"
    alice.move_repo(repo_id, moved, repo_type="dataset")
    assert alice.repo_exists(moved, repo_type="dataset")
    # the old id leads to the moved repo (as on the Hub) until a new repo takes the name
    assert alice.dataset_info(repo_id).id == moved
    alice.delete_repo(moved, repo_type="dataset")
    assert not alice.repo_exists(repo_id, repo_type="dataset")
    assert not alice.repo_exists(moved, repo_type="dataset")
    alice.delete_repo(moved, repo_type="dataset", missing_ok=True)
    with pytest.raises(RepositoryNotFoundError):
        alice.delete_repo(moved, repo_type="dataset")


@pytest.mark.parametrize("bad", ["-bad", "a..b", "x" * 97, "has space", "a--b", "end.git"])
def test_invalid_repo_names_rejected(hubd, bad: str) -> None:  # type: ignore[no-untyped-def]
    r = httpx.post(f"{hubd.url}/api/repos/create", json={"name": bad},
                   headers={"authorization": f"Bearer {hubd.tokens['alice']}"})
    assert r.status_code == 400
    assert r.headers["x-error-code"] == "BadRequest"
    assert "error" in r.json()
    assert httpx.get(f"{hubd.url}/api/models/alice/{bad}").status_code in (401, 404)


def test_bad_token_is_401(hubd) -> None:  # type: ignore[no-untyped-def]
    r = httpx.get(f"{hubd.url}/api/whoami-v2", headers={"authorization": "Bearer hf_nope"})
    assert r.status_code == 401
    assert r.headers["x-error-message"] == "Invalid credentials in Authorization header"
