"""Fine-grained tokens (scopes by repo and namespace, expiry, last use, revocation), the token API and whoami,
driven with the official client against a live hubd."""

from __future__ import annotations

import json
import shutil
import time
import uuid

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from tests.e2e.test_git import git


def _name() -> str:
    return f"tok-{uuid.uuid4().hex[:8]}"


def _fine(hubd, *scopes: str, extra: tuple[str, ...] = ()) -> str:  # type: ignore[no-untyped-def]
    args = ["tokens", "add", "alice", "--name", "fine"]
    for s in scopes:
        args += ["--scope", s]
    return hubd.cli(*args, *extra).stdout.strip()


def _h(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_fine_grained_repo_scope(hubd, alice) -> None:  # type: ignore[no-untyped-def]
    inside, outside, private = f"alice/{_name()}", f"alice/{_name()}", f"alice/{_name()}"
    alice.create_repo(inside, private=True)
    alice.create_repo(outside)
    alice.create_repo(private, private=True)
    token = _fine(hubd, f"model:{inside}=repo.content.read,repo.write")
    api = HfApi(token=token)

    me = api.whoami()
    assert me["name"] == "alice"
    access = me["auth"]["accessToken"]
    assert access["role"] == "fineGrained"
    scoped = access["fineGrained"]["scoped"]
    assert [(s["entity"]["type"], s["entity"]["name"], s["permissions"]) for s in scoped] == [
        ("model", inside, ["repo.content.read", "repo.write"])]

    # inside its scope: read a private repo, commit
    api.upload_file(path_or_fileobj=b"hello", path_in_repo="a.txt", repo_id=inside)
    assert api.model_info(inside).sha
    # a public repo outside the scope: readable (public), not writable, with the Hub's 403
    with pytest.raises(HfHubHTTPError) as err:
        api.upload_file(path_or_fileobj=b"x", path_in_repo="a.txt", repo_id=outside)
    assert err.value.response.status_code == 403
    assert "repo.write" in err.value.response.headers["x-error-message"]
    assert api.model_info(outside).id == outside
    # a private repo outside the scope is invisible, exactly like a missing one
    with pytest.raises(RepositoryNotFoundError):
        api.model_info(private)
    r1 = httpx.get(f"{hubd.url}/api/models/{private}", headers=_h(token))
    r2 = httpx.get(f"{hubd.url}/api/models/alice/never-{_name()}", headers=_h(token))
    assert (r1.status_code, r1.headers["x-error-code"], r1.json()) == (r2.status_code, r2.headers["x-error-code"],
                                                                         r2.json())
    # no namespace scope: cannot create repos, and listing alice's models shows no private ones
    with pytest.raises(HfHubHTTPError) as err:
        api.create_repo(f"alice/{_name()}")
    assert err.value.response.status_code == 403
    listed = [m.id for m in api.list_models(author="alice", limit=1000)]
    assert private not in listed and inside not in listed  # scoped to one repo: no namespace-wide listing


def test_fine_grained_namespace_scope_and_read_only(hubd, alice) -> None:  # type: ignore[no-untyped-def]
    writer = HfApi(token=_fine(hubd, "user:alice=repo.content.read,repo.write"))
    repo = writer.create_repo(f"alice/{_name()}", private=True).repo_id
    writer.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo)
    # read-only scope on the namespace: reads private repos, writes nothing
    reader = HfApi(token=_fine(hubd, "user:alice=repo.content.read"))
    assert reader.model_info(repo).private
    with pytest.raises(HfHubHTTPError) as err:
        reader.upload_file(path_or_fileobj=b"y", path_in_repo="y.txt", repo_id=repo)
    assert err.value.response.status_code == 403
    # an org the token does not name stays out of reach, though alice is its admin
    org_repo = alice.create_repo(f"acme/{_name()}", private=True).repo_id
    with pytest.raises(RepositoryNotFoundError):
        writer.model_info(org_repo)


def test_scope_names_ids_not_names(hubd, alice) -> None:  # type: ignore[no-untyped-def]
    """A token scoped to a repo does not reach a later repo given the same name."""
    repo = alice.create_repo(f"alice/{_name()}").repo_id
    token = _fine(hubd, f"model:{repo}=repo.write")
    HfApi(token=token).upload_file(path_or_fileobj=b"1", path_in_repo="1.txt", repo_id=repo)
    alice.delete_repo(repo)
    alice.create_repo(repo)
    with pytest.raises(HfHubHTTPError) as err:
        HfApi(token=token).upload_file(path_or_fileobj=b"2", path_in_repo="2.txt", repo_id=repo)
    assert err.value.response.status_code == 403
    assert HfApi(token=token).whoami()["auth"]["accessToken"]["fineGrained"]["scoped"] == []


def test_wrong_user_and_read_token(hubd, alice, bob) -> None:  # type: ignore[no-untyped-def]
    repo = alice.create_repo(f"alice/{_name()}").repo_id
    for api in (bob, HfApi(token=hubd.tokens["alice-read"])):
        with pytest.raises(HfHubHTTPError) as err:
            api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo)
        assert err.value.response.status_code == 403
        assert err.value.response.headers["x-error-code"] == "Forbidden"


def test_bad_scopes_change_nothing(hubd) -> None:  # type: ignore[no-untyped-def]
    before = hubd.cli("tokens", "list", "--user", "alice").stdout
    for scope in ("model:alice/never-there=repo.write", "org:nobody-org=repo.write", "user:bob=repo.write",
                  "user:alice=repo.fly", "planet:alice=repo.write"):
        r = hubd.cli("tokens", "add", "alice", "--scope", scope, check=False)
        assert r.returncode == 1, scope
        assert r.stderr.startswith("error: ")
    assert hubd.cli("tokens", "list", "--user", "alice").stdout == before


def test_expiry(hubd) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    soon = datetime.fromtimestamp(time.time() + 3, UTC).isoformat()
    r = httpx.post(f"{hubd.url}/api/settings/tokens", json={"displayName": "short", "role": "read", "expiresAt": soon},
                   headers=_h(hubd.tokens["alice"]))
    token = r.json()["token"]
    assert httpx.get(f"{hubd.url}/api/whoami-v2", headers=_h(token)).status_code == 200
    time.sleep(3.5)
    r = httpx.get(f"{hubd.url}/api/whoami-v2", headers=_h(token))
    assert r.status_code == 401 and r.headers["x-error-code"] == "Unauthorized"
    # the CLI sets an expiry too, shown by the API
    hubd.cli("tokens", "add", "alice", "--role", "read", "--name", "a-day", "--expires-in-days", "1")
    listed = httpx.get(f"{hubd.url}/api/settings/tokens", headers=_h(hubd.tokens["alice"])).json()
    assert [t["expiresAt"] is not None for t in listed if t["displayName"] == "a-day"] == [True]


def test_token_api(hubd) -> None:  # type: ignore[no-untyped-def]
    url = f"{hubd.url}/api/settings/tokens"
    write = _h(hubd.tokens["alice"])
    body = {"displayName": "ci", "role": "fineGrained", "expiresAt": "2099-01-01T00:00:00Z",
            "fineGrained": {"canReadGatedRepos": False, "global": ["discussion.write"],
                            "scoped": [{"entity": {"type": "user", "name": "alice"},
                                        "permissions": ["repo.content.read", "collection.write"]}]}}
    r = httpx.post(url, json=body, headers=write)
    assert r.status_code == 200, r.text
    made = r.json()
    secret, token_id = made.pop("token"), made["id"]
    assert made["role"] == "fineGrained" and made["displayName"] == "ci" and made["expiresAt"].startswith("2099")
    assert made["fineGrained"]["scoped"][0]["entity"]["name"] == "alice"
    me = HfApi(token=secret).whoami()
    assert me["auth"]["accessToken"]["fineGrained"]["global"] == ["discussion.write"]
    listed = {t["id"]: t for t in httpx.get(url, headers=write).json()}
    assert listed[token_id]["lastUsedAt"] is not None
    assert all("token" not in t for t in listed.values())  # the secret is shown once, at creation
    # neither a read token nor a fine-grained one may mint tokens (no escalation)
    for weak in (hubd.tokens["alice-read"], secret):
        r = httpx.post(url, json={"displayName": "x", "role": "write"}, headers=_h(weak))
        assert r.status_code == 403 and r.headers["x-error-code"] == "Forbidden"
    # bad input: 400 in the Hub's shape, nothing created
    count = len(listed)
    for bad in ({"role": "admin"}, {"role": "fineGrained"}, {"role": "read", "expiresAt": "2001-01-01T00:00:00Z"},
                {"role": "fineGrained", "fineGrained": {"scoped": [{"entity": {"type": "org", "name": "vault-x"},
                                                                     "permissions": ["repo.write"]}]}},
                {"role": "fineGrained", "fineGrained": {"scoped": "all"}}):
        r = httpx.post(url, json=bad, headers=write)
        assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest", (bad, r.text)
        assert r.json()["error"] == r.headers["x-error-message"]
    assert len(httpx.get(url, headers=write).json()) == count
    # another user cannot revoke it; its owner can, and it is refused on the next request
    assert httpx.delete(f"{url}/{token_id}", headers=_h(hubd.tokens["bob"])).status_code == 404
    assert httpx.delete(f"{url}/{token_id}", headers=write).status_code == 200
    assert httpx.get(f"{hubd.url}/api/whoami-v2", headers=_h(secret)).status_code == 401
    assert httpx.get(url).status_code == 401


def test_cli_scope_file_and_list(hubd, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "scopes.json"
    spec.write_text(json.dumps({"scoped": [{"entity": {"type": "org", "name": "acme"},
                                            "permissions": ["repo.content.read"]}]}))
    token = hubd.cli("tokens", "add", "alice", "--fine-grained-file", str(spec), "--name", "from-file").stdout.strip()
    me = HfApi(token=token).whoami()
    assert me["auth"]["accessToken"]["fineGrained"]["scoped"][0]["entity"] == {
        **me["auth"]["accessToken"]["fineGrained"]["scoped"][0]["entity"], "type": "org", "name": "acme"}
    assert "from-file\tfineGrained" in hubd.cli("tokens", "list", "--user", "alice").stdout


@pytest.fixture
def git_home(tmp_path):  # type: ignore[no-untyped-def]
    home = tmp_path / "git-home"
    home.mkdir()
    for key, value in (("user.name", "Tester"), ("user.email", "tester@example.org"), ("init.defaultBranch", "main")):
        git(home, "config", "--global", key, value)
    return home


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_push_with_fine_grained_token(hubd, alice, git_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    inside, outside = alice.create_repo(f"alice/{_name()}").repo_id, alice.create_repo(f"alice/{_name()}").repo_id
    token = _fine(hubd, f"model:{inside}=repo.content.read,repo.write")
    host = hubd.url.removeprefix("http://")
    for repo, allowed in ((inside, True), (outside, False)):
        alice.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo)
        work = tmp_path / repo.split("/")[1]
        git(git_home, "clone", f"http://alice:{token}@{host}/{repo}", str(work))
        (work / "new.txt").write_text("new")
        git(git_home, "add", "new.txt", cwd=work)
        git(git_home, "commit", "-m", "push", cwd=work)
        proc = git(git_home, "push", "origin", "main", cwd=work, check=False)
        assert (proc.returncode == 0) == allowed, proc.stderr
        assert ("new.txt" in alice.list_repo_files(repo)) == allowed
