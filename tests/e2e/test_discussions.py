"""Discussions and pull requests end to end with the official client and the `hf discussions` CLI: a PR from a
non-member (preupload, Xet, LFS batch, commit) that never moves a branch until the owner merges it, comments,
edits, renames, status changes, conflicts, filters and paging, and who may do what."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.community import DiscussionComment, DiscussionCommit, DiscussionStatusChange
from huggingface_hub.errors import HfHubHTTPError

from tests.conftest import run_client, run_hf


@pytest.fixture(scope="module")
def carol(hubd):  # type: ignore[no-untyped-def]
    """A third user, outside every namespace, with a write token and a read token."""
    hubd.add_user("carol")
    hubd.tokens["carol-read"] = hubd.cli("tokens", "add", "carol", "--role", "read").stdout.strip()
    return HfApi(token=hubd.tokens["carol"])


def _repo(alice, name: str, files: dict[str, bytes] | None = None) -> str:  # type: ignore[no-untyped-def]
    repo_id = f"alice/{name}"
    alice.create_repo(repo_id)
    for path, content in (files or {"a.txt": b"one\ntwo\nthree\n"}).items():
        alice.upload_file(path_or_fileobj=content, path_in_repo=path, repo_id=repo_id)
    return repo_id


def _main(api, repo_id: str) -> str:  # type: ignore[no-untyped-def]
    return api.repo_info(repo_id).sha


def _status(exc: pytest.ExceptionInfo) -> tuple[int, str | None]:
    r = exc.value.response
    return r.status_code, r.headers.get("x-error-code")


def test_pr_from_a_non_member_is_opened_commented_updated_and_merged(hubd, alice, bob, repo_name) -> None:  # type: ignore[no-untyped-def]
    repo_id = _repo(alice, repo_name)
    before = _main(alice, repo_id)
    big = os.urandom(300_000) + b"\0"  # binary: preupload says "lfs", the default client goes through Xet
    info = bob.create_commit(repo_id, operations=[
        CommitOperationAdd("a.txt", b"one\nTWO\nthree\n"),
        CommitOperationAdd("weights.bin", big),
    ], commit_message="Fix two", create_pr=True)
    num = info.pr_num
    assert num is not None and info.pr_url.endswith(f"/discussions/{num}")
    assert _main(alice, repo_id) == before  # nothing moved on main
    with pytest.raises(HfHubHTTPError):
        alice.hf_hub_download(repo_id, "weights.bin")
    # the PR's content is readable at refs/pr/N
    assert Path(bob.hf_hub_download(repo_id, "weights.bin", revision=f"refs/pr/{num}")).read_bytes() == big

    bob.comment_discussion(repo_id, num, "Please have a look")
    # a second commit, through the LFS batch API this time (a client without Xet)
    run_client(
        "from huggingface_hub import HfApi\n"
        f"HfApi().upload_file(path_or_fileobj=b'\\x00lfs' * 1000, path_in_repo='lfs.bin', repo_id={repo_id!r}, "
        f"revision='refs/pr/{num}', commit_message='Add lfs.bin')\n",
        hubd.tokens["bob"], env={"HF_HUB_DISABLE_XET": "1"})
    assert _main(alice, repo_id) == before

    d = alice.get_discussion_details(repo_id, num)
    assert d.is_pull_request and d.status == "open" and d.author == "bob"
    assert d.target_branch == "refs/heads/main" and d.conflicting_files == [] and d.merge_commit_oid is None
    commits = [e for e in d.events if isinstance(e, DiscussionCommit)]
    assert [c.summary for c in commits] == ["Fix two", "Add lfs.bin"]
    assert [e.content for e in d.events if isinstance(e, DiscussionComment)] == ["Please have a look"]
    assert "diff --git a/a.txt b/a.txt" in d.diff and "-two\n+TWO\n" in d.diff
    assert "Binary files /dev/null and b/lfs.bin differ" in d.diff or "b/lfs.bin" in d.diff

    alice.merge_pull_request(repo_id, num, comment="Thanks!")
    merged = alice.get_discussion_details(repo_id, num)
    assert merged.status == "merged"
    head = _main(alice, repo_id)
    assert merged.merge_commit_oid == head != before
    assert isinstance(merged.events[-1], DiscussionStatusChange) and merged.events[-1].new_status == "merged"
    assert Path(alice.hf_hub_download(repo_id, "a.txt", revision=head)).read_bytes() == b"one\nTWO\nthree\n"
    assert Path(alice.hf_hub_download(repo_id, "weights.bin", revision=head)).read_bytes() == big
    assert Path(alice.hf_hub_download(repo_id, "lfs.bin", revision=head)).read_bytes() == b"\x00lfs" * 1000
    # merged: no more commits, no status changes, no second merge
    with pytest.raises(HfHubHTTPError) as exc:
        bob.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id, revision=f"refs/pr/{num}")
    assert _status(exc)[0] == 400
    with pytest.raises(HfHubHTTPError) as exc:
        alice.merge_pull_request(repo_id, num)
    assert _status(exc)[0] == 400


def test_conflicting_pr_is_refused_and_a_moved_base_gets_a_merge_commit(alice, bob, repo_name) -> None:  # type: ignore[no-untyped-def]
    repo_id = _repo(alice, repo_name, {"a.txt": b"a\n", "b.txt": b"b\n"})
    conflicting = bob.upload_file(path_or_fileobj=b"bob's a\n", path_in_repo="a.txt", repo_id=repo_id,
                                  create_pr=True).pr_num
    clean = bob.upload_file(path_or_fileobj=b"new\n", path_in_repo="c.txt", repo_id=repo_id, create_pr=True).pr_num
    alice.upload_file(path_or_fileobj=b"alice's a\n", path_in_repo="a.txt", repo_id=repo_id)
    head = _main(alice, repo_id)

    d = alice.get_discussion_details(repo_id, conflicting)
    assert d.conflicting_files == ["a.txt"]
    with pytest.raises(HfHubHTTPError) as exc:
        alice.merge_pull_request(repo_id, conflicting)
    assert _status(exc) == (409, "Conflict") and "a.txt" in exc.value.response.headers["x-error-message"]
    assert _main(alice, repo_id) == head  # refused: nothing changed
    assert alice.get_discussion_details(repo_id, conflicting).status == "open"

    alice.merge_pull_request(repo_id, clean)
    merged = _main(alice, repo_id)
    commits = alice.list_repo_commits(repo_id)
    assert commits[0].commit_id == merged and commits[0].title.startswith(f"Merge refs/pr/{clean}")
    files = set(alice.list_repo_files(repo_id))
    assert {"a.txt", "b.txt", "c.txt"} <= files
    assert Path(alice.hf_hub_download(repo_id, "a.txt", revision=merged)).read_bytes() == b"alice's a\n"


def test_who_may_do_what(hubd, alice, bob, carol, anon, repo_name) -> None:  # type: ignore[no-untyped-def]
    repo_id = _repo(alice, repo_name)
    head = _main(alice, repo_id)
    pr = bob.create_pull_request(repo_id, "Bob's draft", description="Draft text")
    assert pr.status == "draft" and pr.is_pull_request
    bob.upload_file(path_or_fileobj=b"bob\n", path_in_repo="bob.txt", repo_id=repo_id, revision=pr.git_reference)
    assert bob.get_discussion_details(repo_id, pr.num).status == "open"  # a commit opens a draft

    # nobody but writers commits to a branch; a PR is the way in
    with pytest.raises(HfHubHTTPError) as exc:
        bob.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
    assert _status(exc)[0] == 403
    # another user's PR is not yours to push to, nor to merge, rename or close
    with pytest.raises(HfHubHTTPError) as exc:
        carol.upload_file(path_or_fileobj=b"c", path_in_repo="c.txt", repo_id=repo_id, revision=pr.git_reference)
    assert _status(exc)[0] == 403
    with pytest.raises(HfHubHTTPError) as exc:
        bob.merge_pull_request(repo_id, pr.num)
    assert _status(exc)[0] == 403
    for call in (lambda: carol.rename_discussion(repo_id, pr.num, "Mine now"),
                 lambda: carol.change_discussion_status(repo_id, pr.num, "closed")):
        with pytest.raises(HfHubHTTPError) as exc:
            call()
        assert _status(exc)[0] == 403
    # read tokens and anonymous callers take no part
    read = HfApi(token=hubd.tokens["carol-read"])
    with pytest.raises(HfHubHTTPError) as exc:
        read.comment_discussion(repo_id, pr.num, "hi")
    assert _status(exc)[0] == 403
    with pytest.raises(HfHubHTTPError) as exc:
        read.create_discussion(repo_id, "hi")
    assert _status(exc)[0] == 403
    r = httpx.post(f"{hubd.url}/api/models/{repo_id}/discussions", json={"title": "anonymous"})
    assert r.status_code == 401
    # comments: only their author edits; the author or a writer hides
    c = carol.comment_discussion(repo_id, pr.num, "carol's comment")
    with pytest.raises(HfHubHTTPError) as exc:
        bob.edit_discussion_comment(repo_id, pr.num, c.id, "rewritten")
    assert _status(exc)[0] == 403
    with pytest.raises(HfHubHTTPError) as exc:
        bob.hide_discussion_comment(repo_id, pr.num, c.id)
    assert _status(exc)[0] == 403
    edited = carol.edit_discussion_comment(repo_id, pr.num, c.id, "carol's comment, edited")
    assert edited.edited and edited.content == "carol's comment, edited" and edited.number_of_edits == 1
    hidden = alice.hide_discussion_comment(repo_id, pr.num, c.id)
    assert hidden.hidden and "carol's comment" not in hidden.content and hidden.edit_history == []
    # the author renames and closes their own; a closed PR takes no commits; a writer reopens it
    bob.rename_discussion(repo_id, pr.num, "Bob's PR")
    bob.change_discussion_status(repo_id, pr.num, "closed", comment="Not needed")
    with pytest.raises(HfHubHTTPError) as exc:
        bob.upload_file(path_or_fileobj=b"y", path_in_repo="y.txt", repo_id=repo_id, revision=pr.git_reference)
    assert _status(exc)[0] == 400
    alice.change_discussion_status(repo_id, pr.num, "open")
    # unknown discussions and comments, bad bodies: the Hub's error shape, nothing changed
    with pytest.raises(HfHubHTTPError) as exc:
        alice.get_discussion_details(repo_id, 999)
    assert _status(exc) == (404, "NotFound")
    with pytest.raises(HfHubHTTPError) as exc:
        alice.edit_discussion_comment(repo_id, pr.num, "0" * 24, "x")
    assert _status(exc)[0] == 404
    r = httpx.post(f"{hubd.url}/api/models/{repo_id}/discussions/{pr.num}/status",
                   headers={"authorization": f"Bearer {hubd.tokens['alice']}"}, json={"status": "merged"})
    assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest" and "error" in r.json()
    assert _main(alice, repo_id) == head  # through all of it, main never moved


def test_events_of_a_discussion(alice, bob, repo_name) -> None:  # type: ignore[no-untyped-def]
    repo_id = _repo(alice, repo_name)
    d = bob.create_discussion(repo_id, "A question", description="How does it work?")
    assert not d.is_pull_request and d.status == "open" and d.author == "bob"
    c = alice.comment_discussion(repo_id, d.num, "Like this.")
    assert isinstance(c, DiscussionComment) and c.content == "Like this." and c.author == "alice"
    t = bob.rename_discussion(repo_id, d.num, "A better question")
    assert (t.old_title, t.new_title) == ("A question", "A better question")
    s = alice.change_discussion_status(repo_id, d.num, "closed", comment="Answered")
    assert s.new_status == "closed"
    details = bob.get_discussion_details(repo_id, d.num)
    assert details.title == "A better question" and details.status == "closed"
    assert [e.type for e in details.events] == ["comment", "comment", "title-change", "comment", "status-change"]
    assert details.events[0].content == "How does it work?"
    assert details.conflicting_files is None and details.diff is None
    with pytest.raises(HfHubHTTPError):
        alice.merge_pull_request(repo_id, d.num)  # not a pull request


def test_listing_filters_and_paging(hubd, alice, bob, repo_name) -> None:  # type: ignore[no-untyped-def]
    repo_id = _repo(alice, repo_name)
    for i in range(45):
        alice.create_discussion(repo_id, f"alice {i}")
    for i in range(8):
        bob.create_pull_request(repo_id, f"bob pr {i}")
    for i in range(4):
        num = bob.create_discussion(repo_id, f"bob closed {i}").num
        bob.change_discussion_status(repo_id, num, "closed")
    everything = list(alice.get_repo_discussions(repo_id))
    assert len(everything) == 57 and [d.num for d in everything] == list(range(57, 0, -1))
    r = httpx.get(f"{hubd.url}/api/models/{repo_id}/discussions", params={"p": 1})
    body = r.json()
    assert (body["count"], body["start"], len(body["discussions"]), body["numClosedDiscussions"]) == (57, 50, 7, 4)
    prs = list(alice.get_repo_discussions(repo_id, discussion_type="pull_request"))
    assert len(prs) == 8 and all(d.is_pull_request for d in prs)
    assert len(list(alice.get_repo_discussions(repo_id, discussion_type="discussion"))) == 49
    assert len(list(alice.get_repo_discussions(repo_id, author="bob"))) == 12
    assert len(list(alice.get_repo_discussions(repo_id, author="nobody-at-all"))) == 0
    closed = list(alice.get_repo_discussions(repo_id, discussion_status="closed"))
    assert sorted(d.title for d in closed) == [f"bob closed {i}" for i in range(4)]
    open_prs = list(alice.get_repo_discussions(repo_id, author="bob", discussion_type="pull_request",
                                               discussion_status="open"))
    assert len(open_prs) == 8  # drafts count as open
    for params in ({"type": "issues"}, {"status": "merged"}, {"p": "-1"}, {"p": "9" * 30}):
        r = httpx.get(f"{hubd.url}/api/models/{repo_id}/discussions", params=params)
        assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest", params


def test_hf_discussions_cli(hubd, alice, bob, repo_name) -> None:  # type: ignore[no-untyped-def]
    repo_id = _repo(alice, repo_name)
    bob_token, alice_token = hubd.tokens["bob"], hubd.tokens["alice"]

    def hf(args: list[str], token: str) -> str:
        proc = run_hf(["discussions", *args], token)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    hf(["create", repo_id, "--title", "CLI question", "--body", "From the CLI"], bob_token)
    hf(["create", repo_id, "--title", "CLI PR", "--pr"], bob_token)
    bob.upload_file(path_or_fileobj=b"cli\n", path_in_repo="cli.txt", repo_id=repo_id, revision="refs/pr/2")
    hf(["comment", repo_id, "1", "--body", "A CLI comment"], alice_token)
    hf(["rename", repo_id, "1", "CLI question, renamed"], bob_token)
    hf(["close", repo_id, "1", "--yes", "--comment", "Closing"], alice_token)
    listed = hf(["list", repo_id, "--status", "all", "--format", "json"], alice_token)
    assert {d["num"] for d in json.loads(listed)} == {1, 2}
    assert [d["num"] for d in json.loads(hf(["list", repo_id, "--format", "json"], alice_token))] == [2]
    hf(["reopen", repo_id, "1", "--yes"], alice_token)
    info = json.loads(hf(["info", repo_id, "1", "--format", "json"], alice_token))
    assert info["title"] == "CLI question, renamed" and info["status"] == "open"
    assert "+cli" in hf(["diff", repo_id, "2"], alice_token)
    hf(["merge", repo_id, "2", "--yes"], alice_token)
    assert "cli.txt" in alice.list_repo_files(repo_id)
    assert json.loads(hf(["info", repo_id, "2", "--format", "json"], alice_token))["status"] == "merged"
