"""Webhooks with the official client against a dedicated hubd: management, delivery of push and discussion
events to a receiver on loopback (payload shape, X-Webhook-Secret), retries of a receiver that answers 500,
a receiver that hangs slowing nothing, the outbound allow-list, and the permission failures."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from tests.conftest import eventually, make_hubd
from tests.resources import HealthProbe


class Receiver:
    """An HTTP server on 127.0.0.1 recording what it is sent; /ok answers 200, /fail 500, /hang never."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], dict]] = []
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.received.append((self.path, dict(self.headers), json.loads(body)))
                if self.path.startswith("/hang"):
                    outer.release.wait(30)
                status = 500 if self.path.startswith("/fail") else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def on(self, path: str) -> list[tuple[str, dict[str, str], dict]]:
        return [r for r in self.received if r[0] == path]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


@pytest.fixture(scope="module")
def hooks_hub() -> Iterator:  # type: ignore[type-arg]
    server = make_hubd("hooks", extra_args=["--webhook-targets", "127.0.0.0/8", "--webhook-timeout", "2"])
    server.add_user("alice")
    server.add_user("bob")
    server.cli("orgs", "add", "hookorg")
    server.cli("orgs", "add-member", "hookorg", "alice", "--role", "admin")
    server.tokens["alice-read"] = server.cli("tokens", "add", "alice", "--role", "read").stdout.strip()
    server.start()
    yield server
    server.stop()
    report = server.cli("fsck", check=False)
    assert report.returncode == 0, report.stdout


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _api(hub, who: str) -> HfApi:  # type: ignore[no-untyped-def]
    return HfApi(endpoint=hub.url, token=hub.tokens[who])


def test_manage_and_deliver_push(hooks_hub, receiver) -> None:  # type: ignore[no-untyped-def]
    from huggingface_hub import WebhookPayload

    alice = _api(hooks_hub, "alice")
    repo = alice.create_repo(f"alice/hooked-{uuid.uuid4().hex[:6]}").repo_id
    hook = alice.create_webhook(url=f"{receiver.url}/ok", watched=[{"type": "model", "name": repo}],
                                domains=["repo", "discussion"], secret="s3cret")
    assert hook.url == f"{receiver.url}/ok" and hook.secret == "s3cret" and not hook.disabled
    assert alice.get_webhook(hook.id).watched[0].name == repo
    assert hook.id in [h.id for h in alice.list_webhooks()]

    info = alice.upload_file(path_or_fileobj=b"hello", path_in_repo="a.txt", repo_id=repo)
    got = eventually(lambda: receiver.on("/ok"), timeout=20)
    assert got, "no delivery"
    _path, headers, body = got[-1]
    assert headers["X-Webhook-Secret"] == "s3cret"
    payload = WebhookPayload(**body)  # the client's own model of the Hub's payload
    assert payload.event.scope == "repo.content" and payload.event.action == "update"
    assert payload.repo.name == repo and payload.repo.type == "model"
    assert payload.webhook.id == hook.id and payload.webhook.version == 3
    assert payload.updatedRefs is not None
    assert (payload.updatedRefs[0].ref, payload.updatedRefs[0].newSha) == ("refs/heads/main", info.oid)
    assert body["repo"]["url"]["web"] == f"{hooks_hub.url}/{repo}"

    # a branch and a tag are ref moves too
    alice.create_branch(repo, branch="dev")
    eventually(lambda: any(r[2].get("updatedRefs", [{}])[0].get("ref") == "refs/heads/dev"
                           for r in receiver.on("/ok")), timeout=20)

    # update, disable (nothing sent), enable, delete
    hook = alice.update_webhook(hook.id, url=f"{receiver.url}/ok", watched=[{"type": "user", "name": "alice"}],
                                domains=["repo"], secret="other")
    assert hook.domains == ["repo"] and hook.watched[0].type == "user"
    assert alice.disable_webhook(hook.id).disabled
    before = len(receiver.on("/ok"))
    alice.upload_file(path_or_fileobj=b"quiet", path_in_repo="b.txt", repo_id=repo)
    time.sleep(2)
    assert len(receiver.on("/ok")) == before
    assert not alice.enable_webhook(hook.id).disabled
    alice.upload_file(path_or_fileobj=b"loud", path_in_repo="c.txt", repo_id=repo)
    got = eventually(lambda: len(receiver.on("/ok")) > before, timeout=20)
    assert got and receiver.on("/ok")[-1][1]["X-Webhook-Secret"] == "other"
    log = httpx.get(f"{hooks_hub.url}/api/settings/webhooks/{hook.id}/deliveries",
                    headers={"authorization": f"Bearer {hooks_hub.tokens['alice']}"}).json()
    assert log[0]["state"] == "ok" and log[0]["status"] == 200 and log[0]["event"] == "repo.content.update"
    alice.delete_webhook(hook.id)
    with pytest.raises(HfHubHTTPError) as err:
        alice.get_webhook(hook.id)
    assert err.value.response.status_code == 404


def test_discussion_events(hooks_hub, receiver) -> None:  # type: ignore[no-untyped-def]
    alice = _api(hooks_hub, "alice")
    repo = alice.create_repo(f"hookorg/disc-{uuid.uuid4().hex[:6]}").repo_id
    hook = alice.create_webhook(url=f"{receiver.url}/disc", watched=[{"type": "org", "name": "hookorg"}],
                                domains=["discussion"], secret="d1")
    alice.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo)  # a repo event: not watched
    d = alice.create_discussion(repo, title="Hello")
    alice.comment_discussion(repo, d.num, "a comment")
    got = eventually(lambda: len(receiver.on("/disc")) >= 2, timeout=20)
    assert got, receiver.on("/disc")
    scopes = [(r[2]["event"]["scope"], r[2]["event"]["action"]) for r in receiver.on("/disc")]
    assert ("discussion", "create") in scopes and ("discussion.comment", "create") in scopes
    assert all(r[1]["X-Webhook-Secret"] == "d1" for r in receiver.on("/disc"))
    created = next(r[2] for r in receiver.on("/disc") if r[2]["event"]["scope"] == "discussion")
    assert created["discussion"]["num"] == d.num and created["discussion"]["title"] == "Hello"
    comment = next(r[2] for r in receiver.on("/disc") if r[2]["event"]["scope"] == "discussion.comment")
    assert comment["comment"]["content"] == "a comment"
    alice.delete_webhook(hook.id)


def test_failing_receiver_is_retried_and_hanging_one_slows_nothing(hooks_hub, receiver) -> None:  # type: ignore[no-untyped-def]
    alice = _api(hooks_hub, "alice")
    repo = alice.create_repo(f"alice/retry-{uuid.uuid4().hex[:6]}").repo_id
    failing = alice.create_webhook(url=f"{receiver.url}/fail", watched=[{"type": "model", "name": repo}])
    hanging = alice.create_webhook(url=f"{receiver.url}/hang", watched=[{"type": "model", "name": repo}])
    healthy = alice.create_webhook(url=f"{receiver.url}/ok2", watched=[{"type": "model", "name": repo}])
    probe = HealthProbe(hooks_hub.url)
    with probe:
        times = []
        for i in range(5):
            t0 = time.perf_counter()
            alice.upload_file(path_or_fileobj=f"{i}".encode(), path_in_repo=f"{i}.txt", repo_id=repo)
            times.append(time.perf_counter() - t0)
        assert eventually(lambda: len(receiver.on("/fail")) >= 7, timeout=30), len(receiver.on("/fail"))
        # the hanging receiver holds at most one delivery thread: the healthy one gets every event
        assert eventually(lambda: len(receiver.on("/ok2")) >= 5, timeout=20), len(receiver.on("/ok2"))
    assert probe.slowest < 1.0
    assert max(times) < 3.0, times
    log = httpx.get(f"{hooks_hub.url}/api/settings/webhooks/{failing.id}/deliveries",
                    headers={"authorization": f"Bearer {hooks_hub.tokens['alice']}"}).json()
    assert any(d["attempts"] >= 2 and d["status"] == 500 for d in log), log
    for h in (failing, hanging, healthy):
        alice.delete_webhook(h.id)


def test_permissions_and_bad_input(hooks_hub, receiver) -> None:  # type: ignore[no-untyped-def]
    alice, bob = _api(hooks_hub, "alice"), _api(hooks_hub, "bob")
    private = alice.create_repo(f"alice/secret-{uuid.uuid4().hex[:6]}", private=True).repo_id
    hook = alice.create_webhook(url=f"{receiver.url}/ok", watched=[{"type": "model", "name": private}])
    # another user: someone else's webhook is not found, and a private repo cannot be watched
    for call in (lambda: bob.get_webhook(hook.id), lambda: bob.delete_webhook(hook.id),
                 lambda: bob.disable_webhook(hook.id)):
        with pytest.raises(HfHubHTTPError) as err:
            call()
        assert err.value.response.status_code == 404
    with pytest.raises(HfHubHTTPError) as err:
        bob.create_webhook(url=f"{receiver.url}/ok", watched=[{"type": "model", "name": private}])
    assert err.value.response.status_code == 404 and err.value.response.headers["x-error-code"] == "RepoNotFound"
    # a read token reads but does not change webhooks
    reader = _api(hooks_hub, "alice-read")
    assert hook.id in [h.id for h in reader.list_webhooks()]
    with pytest.raises(HfHubHTTPError) as err:
        reader.create_webhook(url=f"{receiver.url}/ok", watched=[{"type": "user", "name": "alice"}])
    assert err.value.response.status_code == 403
    # a fine-grained token without user.webhooks.write
    fine = hooks_hub.cli("tokens", "add", "alice", "--scope", "user:alice=repo.content.read").stdout.strip()
    with pytest.raises(HfHubHTTPError) as err:
        HfApi(endpoint=hooks_hub.url, token=fine).create_webhook(url=f"{receiver.url}/ok",
                                                                 watched=[{"type": "user", "name": "alice"}])
    assert err.value.response.status_code == 403
    assert "user.webhooks.write" in err.value.response.headers["x-error-message"]
    # bad input: 400, nothing created
    count = len(alice.list_webhooks())
    h = {"authorization": f"Bearer {hooks_hub.tokens['alice']}"}
    for bad in ({"url": "ftp://127.0.0.1/x", "watched": [{"type": "user", "name": "alice"}]},
                {"url": f"{receiver.url}/ok", "watched": []},
                {"url": f"{receiver.url}/ok", "watched": [{"type": "planet", "name": "x"}]},
                {"url": f"{receiver.url}/ok", "watched": [{"type": "user", "name": "alice"}], "domains": ["git"]},
                {"url": f"{receiver.url}/ok", "watched": [{"type": "user", "name": "alice"}], "secret": "a\nb"},
                {"url": "http://169.254.169.254/latest", "watched": [{"type": "user", "name": "alice"}]},
                {"jobSourceId": "abc", "watched": [{"type": "user", "name": "alice"}]}):
        r = httpx.post(f"{hooks_hub.url}/api/settings/webhooks", json=bad, headers=h)
        assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest", (bad, r.text)
    assert len(alice.list_webhooks()) == count
    alice.delete_webhook(hook.id)


def test_default_targets_refuse_loopback(hubd) -> None:  # type: ignore[no-untyped-def]
    """Without an explicit --webhook-targets, loopback and internal addresses are refused."""
    h = {"authorization": f"Bearer {hubd.tokens['alice']}"}
    for url in ("http://127.0.0.1:9/x", "http://localhost:9/x", "http://[::1]:9/", "http://10.0.0.1/",
                "http://[::ffff:127.0.0.1]/"):
        r = httpx.post(f"{hubd.url}/api/settings/webhooks", headers=h,
                       json={"url": url, "watched": [{"type": "user", "name": "alice"}]})
        assert r.status_code == 400, (url, r.text)


def test_repo_lifecycle_events(hooks_hub, receiver) -> None:  # type: ignore[no-untyped-def]
    alice = _api(hooks_hub, "alice")
    hook = alice.create_webhook(url=f"{receiver.url}/life", watched=[{"type": "org", "name": "hookorg"}],
                                domains=["repo"])
    repo = f"hookorg/life-{uuid.uuid4().hex[:6]}"
    alice.create_repo(repo)
    alice.update_repo_settings(repo, private=True)
    alice.move_repo(repo, repo + "-moved")
    alice.delete_repo(repo + "-moved")

    def seen() -> list[tuple[str, str]]:
        return [(r[2]["event"]["scope"], r[2]["event"]["action"]) for r in receiver.on("/life")]

    expected = [("repo", "create"), ("repo.config", "update"), ("repo", "move"), ("repo", "delete")]
    assert eventually(lambda: all(e in seen() for e in expected), timeout=20), seen()
    moved = next(r[2] for r in receiver.on("/life") if r[2]["event"]["action"] == "move")
    assert moved["movedTo"]["name"] == repo + "-moved" and moved["repo"]["name"] == repo
    alice.delete_webhook(hook.id)
