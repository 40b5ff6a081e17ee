from __future__ import annotations

import hashlib

import pytest

from hubd.hub.cards import CardError, card_data, front_matter
from hubd.storage.lfspointer import parse_pointer, pointer_bytes


def test_pointer_round_trip() -> None:
    oid = hashlib.sha256(b"x").hexdigest()
    data = pointer_bytes(oid, 12345)
    assert data == f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize 12345\n".encode()
    p = parse_pointer(data)
    assert p is not None and (p.oid, p.size, p.pointer_size) == (oid, 12345, len(data))


@pytest.mark.parametrize(
    "data", [b"", b"hello", b"version https://git-lfs.github.com/spec/v1\noid sha256:zz\nsize 1\n"]
)
def test_not_pointers(data: bytes) -> None:
    assert parse_pointer(data) is None


def test_card_data() -> None:
    readme = b"---\nlicense: mit\ntags:\n- a\n- b\nlanguage: en\nlibrary_name: transformers\n---\n# Title\n"
    data = card_data(readme)
    assert data == {"license": "mit", "tags": ["a", "b"], "language": "en", "library_name": "transformers"}


@pytest.mark.parametrize("text", ["---\nlicense: [mit\n---\n", "---\n- a list\n---\n"])
def test_broken_cards(text: str) -> None:
    assert card_data(text.encode()) is None
    with pytest.raises(CardError):
        front_matter(text)


def test_no_card() -> None:
    assert card_data(b"# just markdown\n") is None
    assert card_data(b"---\nunterminated: true\n") is None
    assert card_data(b"") is None
