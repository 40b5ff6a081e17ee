"""list_models / list_datasets / list_spaces with the real client: search, author, filter, sort, pages, privacy."""

from __future__ import annotations

from huggingface_hub import CommitOperationAdd, HfApi

from tests.conftest import eventually


def test_listing(hubd, alice: HfApi, bob: HfApi, anon: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    stem = f"lst{repo_name}"
    for i in range(35):
        alice.create_repo(f"alice/{stem}-m{i:02d}")
    alice.create_repo(f"alice/{stem}-secret", private=True)
    bob.create_repo(f"bob/{stem}-bobs")
    alice.create_commit(f"alice/{stem}-m07", [CommitOperationAdd(
        "README.md", b"---\nlicense: apache-2.0\npipeline_tag: text-classification\nlibrary_name: transformers\n"
                     b"tags: [special]\n---\n")], commit_message="card")
    # tags are derived by a background job after the commit
    assert eventually(lambda: list(alice.list_models(search=stem, filter="special")))

    # search walks every page through the Link header (30 per page by default)
    found = [m.id for m in alice.list_models(search=stem)]
    assert len(found) == 37
    assert f"alice/{stem}-secret" in found
    assert f"alice/{stem}-secret" not in [m.id for m in bob.list_models(search=stem)]
    assert f"alice/{stem}-secret" not in [m.id for m in anon.list_models(search=stem)]
    assert len(list(alice.list_models(search=stem.upper(), limit=5))) == 5

    assert [m.id for m in alice.list_models(search=stem, author="bob")] == [f"bob/{stem}-bobs"]
    tagged = list(alice.list_models(search=stem, filter="special"))
    assert [m.id for m in tagged] == [f"alice/{stem}-m07"]
    assert [m.id for m in alice.list_models(search=stem, filter=["license:apache-2.0", "special"])] == [
        f"alice/{stem}-m07"]
    assert [m.id for m in alice.list_models(search=stem, pipeline_tag="text-classification")] == [
        f"alice/{stem}-m07"]
    assert tagged[0].pipeline_tag == "text-classification" and tagged[0].library_name == "transformers"

    newest = next(iter(alice.list_models(search=stem, sort="created_at")))
    assert newest.id == f"bob/{stem}-bobs"
    modified = next(iter(alice.list_models(search=stem, sort="last_modified")))
    assert modified.id == f"alice/{stem}-m07"

    full = next(iter(alice.list_models(search=f"{stem}-m07", full=True, cardData=True)))
    assert full.card_data["license"] == "apache-2.0"
    assert {s.rfilename for s in full.siblings} == {".gitattributes", "README.md"}
    expanded = next(iter(alice.list_models(search=f"{stem}-m07", expand=["tags", "createdAt"])))
    assert "special" in expanded.tags and expanded.created_at is not None and expanded.likes is None


def test_listing_datasets_and_spaces(alice: HfApi, repo_name: str) -> None:
    alice.create_repo(f"alice/{repo_name}-ds", repo_type="dataset")
    alice.create_repo(f"alice/{repo_name}-sp", repo_type="space", space_sdk="static")
    assert [d.id for d in alice.list_datasets(search=repo_name)] == [f"alice/{repo_name}-ds"]
    spaces = list(alice.list_spaces(search=repo_name))
    assert [s.id for s in spaces] == [f"alice/{repo_name}-sp"] and spaces[0].sdk == "static"
    assert list(alice.list_models(search=repo_name)) == []
