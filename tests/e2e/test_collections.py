"""Collections and likes with the official client against the shared hubd, permission failures included."""

from __future__ import annotations

import uuid

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError


def _u() -> str:
    return uuid.uuid4().hex[:8]


def test_collection_lifecycle(hubd, alice, bob, anon) -> None:  # type: ignore[no-untyped-def]
    model = alice.create_repo(f"alice/cm-{_u()}").repo_id
    dataset = alice.create_repo(f"alice/cd-{_u()}", repo_type="dataset").repo_id
    space = alice.create_repo(f"alice/cs-{_u()}", repo_type="space", space_sdk="static").repo_id
    hidden = alice.create_repo(f"alice/ch-{_u()}", private=True).repo_id

    title = f"Picks {_u()}"
    c = alice.create_collection(title, description="my picks")
    assert c.slug.startswith("alice/picks-") and c.owner["name"] == "alice" and c.items == []
    assert alice.create_collection(title, exists_ok=True).slug == c.slug  # 409 carries the slug
    c = alice.add_collection_item(c.slug, model, "model", note="the model")
    alice.add_collection_item(c.slug, dataset, "dataset")
    alice.add_collection_item(c.slug, space, "space")
    alice.add_collection_item(c.slug, "2307.09288", "paper", note="Llama 2")
    alice.add_collection_item(c.slug, hidden, "model")
    with pytest.raises(HfHubHTTPError) as err:
        alice.add_collection_item(c.slug, model, "model")
    assert err.value.response.status_code == 409
    assert alice.add_collection_item(c.slug, model, "model", exists_ok=True).slug == c.slug

    got = alice.get_collection(c.slug)
    assert [(i.item_type, i.item_id) for i in got.items] == [
        ("model", model), ("dataset", dataset), ("space", space), ("paper", "2307.09288"), ("model", hidden)]
    assert got.items[0].note == "the model"
    # a private repo in a public collection is not shown to those who cannot see it
    assert hidden not in [i.item_id for i in anon.get_collection(c.slug).items]
    assert hidden not in [i.item_id for i in bob.get_collection(c.slug).items]

    # reorder and annotate, then delete an item
    paper = got.items[3]
    alice.update_collection_item(c.slug, paper.item_object_id, position=0, note="first")
    got = alice.get_collection(c.slug)
    assert got.items[0].item_id == "2307.09288" and got.items[0].note == "first"
    alice.delete_collection_item(c.slug, got.items[1].item_object_id)
    assert model not in [i.item_id for i in alice.get_collection(c.slug).items]
    with pytest.raises(HfHubHTTPError) as err:
        alice.delete_collection_item(c.slug, got.items[1].item_object_id)
    assert err.value.response.status_code == 404
    alice.delete_collection_item(c.slug, got.items[1].item_object_id, missing_ok=True)

    # metadata, private collections
    c2 = alice.update_collection_metadata(c.slug, title="Renamed picks", description="new", theme="green",
                                          private=True)
    assert c2.title == "Renamed picks" and c2.private and c2.theme == "green"
    for other in (anon, bob):
        with pytest.raises(HfHubHTTPError) as err:
            other.get_collection(c2.slug)
        assert err.value.response.status_code in (401, 404)
    assert c2.slug not in [x.slug for x in anon.list_collections(owner="alice")]
    assert c2.slug in [x.slug for x in alice.list_collections(owner="alice")]
    assert c2.slug in [x.slug for x in alice.list_collections(item=f"datasets/{dataset}")]

    alice.delete_collection(c2.slug)
    with pytest.raises(HfHubHTTPError) as err:
        alice.get_collection(c2.slug)
    assert err.value.response.status_code == 404
    alice.delete_collection(c2.slug, missing_ok=True)


def test_collection_permissions(hubd, alice, bob) -> None:  # type: ignore[no-untyped-def]
    c = alice.create_collection(f"Guarded {_u()}")
    model = alice.create_repo(f"alice/cg-{_u()}").repo_id
    private = alice.create_repo(f"alice/cp-{_u()}", private=True).repo_id
    reader = HfApi(token=hubd.tokens["alice-read"])
    fine = HfApi(token=hubd.cli("tokens", "add", "alice", "--scope", "user:alice=collection.read").stdout.strip())
    for api in (bob, reader, fine):
        for call in (lambda a=api: a.add_collection_item(c.slug, model, "model"),
                     lambda a=api: a.update_collection_metadata(c.slug, title="x"),
                     lambda a=api: a.delete_collection(c.slug)):
            with pytest.raises(HfHubHTTPError) as err:
                call()
            assert err.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as err:
        fine.create_collection("nope")
    assert "collection.write" in err.value.response.headers["x-error-message"]
    with pytest.raises(HfHubHTTPError) as err:
        bob.create_collection("in acme", namespace="acme")
    assert err.value.response.status_code == 403
    # bob's own collection cannot take alice's private repo
    mine = bob.create_collection(f"Bob {_u()}")
    with pytest.raises(RepositoryNotFoundError):
        bob.add_collection_item(mine.slug, private, "model")
    # bad input changes nothing
    h = {"authorization": f"Bearer {hubd.tokens['alice']}"}
    for bad in ({"item": {"id": "x", "type": "planet"}}, {"item": {"id": "not-a-paper", "type": "paper"}},
                {"item": {"id": model, "type": "model"}, "note": "n" * 501}, {"item": "model"}):
        r = httpx.post(f"{hubd.url}/api/collections/{c.slug}/items", json=bad, headers=h)
        assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest", (bad, r.text)
    for bad in ({"title": ""}, {"title": "t" * 61}, {"private": "yes"}, {"position": -1}):
        r = httpx.patch(f"{hubd.url}/api/collections/{c.slug}", json=bad, headers=h)
        assert r.status_code == 400, (bad, r.text)
    assert alice.get_collection(c.slug).items == []
    assert httpx.get(f"{hubd.url}/api/collections/alice/x-{'0' * 24}").status_code == 404
    alice.delete_collection(c.slug)
    bob.delete_collection(mine.slug)


def test_likes(hubd, alice, bob, anon) -> None:  # type: ignore[no-untyped-def]
    public = alice.create_repo(f"alice/lk-{_u()}").repo_id
    private = alice.create_repo(f"alice/lkp-{_u()}", private=True).repo_id
    h = {"authorization": f"Bearer {hubd.tokens['bob']}"}
    assert httpx.post(f"{hubd.url}/api/models/{public}/like", headers=h).status_code == 200
    assert httpx.post(f"{hubd.url}/api/models/{private}/like",
                      headers={"authorization": f"Bearer {hubd.tokens['alice']}"}).status_code == 200
    assert public in bob.list_liked_repos().models
    assert public in anon.list_liked_repos("bob").models
    assert private in alice.list_liked_repos().models
    assert private not in anon.list_liked_repos("alice").models and private not in bob.list_liked_repos("alice").models
    assert "bob" in [u.username for u in anon.list_repo_likers(public)]
    assert "alice" in [u.username for u in alice.list_repo_likers(private)]
    with pytest.raises(RepositoryNotFoundError):
        list(bob.list_repo_likers(private))
    bob.unlike(public)
    assert public not in bob.list_liked_repos().models
    with pytest.raises(RepositoryNotFoundError):
        bob.unlike(f"alice/never-{_u()}")
    with pytest.raises(RepositoryNotFoundError):
        bob.unlike(private)  # a private repo unlikes exactly like a missing one
    with pytest.raises(HfHubHTTPError) as err:
        anon.unlike(public)
    assert err.value.response.status_code == 401
