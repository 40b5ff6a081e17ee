"""The safetensors header validator and the bounded YAML loader, on hostile inputs."""

from __future__ import annotations

import json
import struct
import time

import numpy as np
import pytest
from safetensors.numpy import save

from hubd.hub import cards
from hubd.hub.cards import CardError, card_data, front_matter, load_yaml
from hubd.hub.modelmeta import (
    MAX_PARAMETERS,
    MAX_SAFETENSORS_HEADER,
    MAX_TENSOR_RANK,
    SafetensorsError,
    count_parameters,
    safetensors_header_size,
)


def split(blob: bytes) -> tuple[bytes, int]:
    """A safetensors file's header and the size of its data section."""
    n = safetensors_header_size(blob[:8], len(blob))
    return blob[8:8 + n], len(blob) - 8 - n


def tensor(shape: object, dtype: object = "F32", offsets: object = (0, 4)) -> bytes:
    return json.dumps({"t": {"dtype": dtype, "shape": shape, "data_offsets": list(offsets)
                             if isinstance(offsets, tuple) else offsets}}).encode()


# --- safetensors ------------------------------------------------------------------------------------------

def test_real_files_are_counted() -> None:
    blob = save({"a": np.zeros((2, 3), np.float32), "b": np.zeros(5, np.int64), "s": np.zeros((), np.float16),
                 "empty": np.zeros((0, 7), np.uint8)}, metadata={"format": "np"})
    assert count_parameters(*split(blob)) == {"F32": 6, "I64": 5, "F16": 1, "U8": 0}


def test_sub_byte_dtypes_and_trillion_parameter_shapes() -> None:
    header = json.dumps({"w": {"dtype": "F4", "shape": [4], "data_offsets": [0, 2]}}).encode()
    assert count_parameters(header, 2) == {"F4": 4}
    # a trillion-parameter tensor is allowed (only the header is checked when the data size is unknown)
    n = 10**12
    assert count_parameters(tensor([1_000_000, 1_000_000], "BF16", (0, 2 * n))) == {"BF16": n}


@pytest.mark.parametrize("header", [
    b"[1, 2, 3]",  # a list, not an object
    b'"text"',
    b"null",
    tensor([2, float("inf")]),  # json.dumps writes Infinity
    tensor([float("nan")]),
    b'{"t": {"dtype": "F32", "shape": [-Infinity], "data_offsets": [0, 4]}}',
    tensor([1e308, 1e308]),  # the quadratic big-integer attack
    tensor([1.0]),
    tensor([-1], offsets=(0, 0)),  # negative
    tensor([True], offsets=(0, 4)),  # bools are not ints
    tensor([2**64]),  # beyond 64 bits
    tensor([int("9" * 4000)]),  # huge
    tensor([2**41]),  # over the per-dimension bound
    tensor([2**40, 2**40]),  # over the element bound
    tensor([1] * (MAX_TENSOR_RANK + 1)),  # rank
    tensor(["2"]),
    tensor({"0": 1}),
    tensor([2], dtype="F33"),
    tensor([2], dtype=["F32"]),
    tensor([1], offsets=[0, 4, 8]),
    tensor([1], offsets=[4, 0]),
    tensor([1], offsets=[0, True]),
    tensor([2], offsets=(0, 4)),  # 2 × F32 is 8 bytes
    b'{"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "extra": 1}}',
    b'{"t": {"dtype": "F32", "shape": [1]}}',
    b'{"t": [1]}',
    b'{"__metadata__": {"a": 1}}',
    b'{"__metadata__": ["a"]}',
    b'{"t": ' * 100_000 + b"1" + b"}" * 100_000,  # deeply nested
    b"[" * 100_000,
    b"\xff\xfe{}",  # not UTF-8
    b"{not json",
])
def test_hostile_headers_are_refused(header: bytes) -> None:
    with pytest.raises(SafetensorsError):
        count_parameters(header)


def test_offsets_must_tile_the_data() -> None:
    two = {"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
           "b": {"dtype": "U8", "shape": [4], "data_offsets": [4, 8]}}
    assert count_parameters(json.dumps(two).encode(), 8) == {"U8": 8}
    for data_size in (7, 9):
        with pytest.raises(SafetensorsError):
            count_parameters(json.dumps(two).encode(), data_size)
    overlap = {**two, "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}}
    with pytest.raises(SafetensorsError):
        count_parameters(json.dumps(overlap).encode(), 6)


def test_total_is_bounded() -> None:
    big = 2**40
    header = {f"t{i}": {"dtype": "U8", "shape": [big], "data_offsets": [i * big, (i + 1) * big]}
              for i in range(MAX_PARAMETERS // big + 1)}
    with pytest.raises(SafetensorsError, match="more than"):
        count_parameters(json.dumps(header).encode())


def test_header_size_prefix() -> None:
    assert safetensors_header_size(struct.pack("<Q", 10), 18) == 10
    for first8, size in ((b"\x01", None), (struct.pack("<Q", MAX_SAFETENSORS_HEADER + 1), None),
                         (struct.pack("<Q", 2**63), None), (struct.pack("<Q", 11), 18)):
        with pytest.raises(SafetensorsError):
            safetensors_header_size(first8, size)


@pytest.mark.parametrize("kib", [40, 160])
def test_quadratic_headers_cost_linear_time(kib: int) -> None:
    """40 KB of `1e308` dimensions took 27 s (160 KB: 219 s) before; now refused at the first one."""
    dims = ",".join(["1e308"] * (kib * 1024 // 6))
    header = ('{"t":{"dtype":"F32","shape":[' + dims + '],"data_offsets":[0,4]}}').encode()
    started = time.perf_counter()
    with pytest.raises(SafetensorsError):
        count_parameters(header)
    assert time.perf_counter() - started < 2  # linear: one float refused at parse time


# --- YAML -------------------------------------------------------------------------------------------------

BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
)


def test_alias_bomb_is_refused_quickly() -> None:
    assert len(BOMB) < 700  # expands to 9**9 × "lol"
    started = time.perf_counter()
    with pytest.raises(CardError, match="expands"):
        load_yaml(BOMB)
    assert time.perf_counter() - started < 2
    assert card_data(f"---\n{BOMB}\n---\n# hi\n".encode()) is None


def test_modest_aliases_are_fine() -> None:
    assert load_yaml("base: &b {lr: 0.1, epochs: 3}\nrun1: *b\nrun2:\n  <<: *b\n  lr: 0.2\n") == {
        "base": {"lr": 0.1, "epochs": 3}, "run1": {"lr": 0.1, "epochs": 3}, "run2": {"lr": 0.2, "epochs": 3}}


@pytest.mark.parametrize("text", [
    "a: &a [1, *a]",  # recursive: not JSON at all
    "a: &a {b: *a}",
    "a: *undefined",
    "[" * 70 + "]" * 70,  # deep
    "\n".join("  " * i + f"k{i}:" for i in range(80)) + " 1",  # deep, block style
    "a0: &a0 " + "[" * 40 + "1" + "]" * 40 + "\nb: " + "[" * 40 + "*a0" + "]" * 40,  # deep once expanded
    "[" * 500_000,
    "x: " + "9" * 5000,  # an integer Python refuses to convert
    "d: 2024-13-45",
    "x: [" + ",".join(["1"] * (cards.MAX_CARD_NODES + 1)) + "]",
    "a: 1\na: 2\nb: &x 1\nc: &x 2\nd: *x\ne: !!python/object:os.system ls",
])
def test_hostile_yaml_is_refused(text: str) -> None:
    with pytest.raises(CardError):
        load_yaml(text)


def test_size_bound() -> None:
    with pytest.raises(cards.CardTooLarge):
        load_yaml("a: " + "x" * cards.MAX_CARD_YAML)


def test_values_become_json() -> None:
    data = load_yaml("when: 2024-01-02\nstamp: 2024-01-02 03:04:05\nnan: .nan\ninf: -.inf\nbin: !!binary aGk=\n"
                     "2020-01-01: d\ntrue: t\n2: two\nnull: n\nset: !!set {b, a}\npairs: !!pairs [a: 1]\n")
    assert data == {"when": "2024-01-02", "stamp": "2024-01-02T03:04:05", "nan": None, "inf": None, "bin": "aGk=",
                    "2020-01-01": "d", "true": "t", "2": "two", "null": "n", "set": ["a", "b"],
                    "pairs": [["a", 1]]}
    json.dumps(data, allow_nan=False)


def test_front_matter_still_parses_cards() -> None:
    assert front_matter("---\nlicense: mit\ntags: [a, b]\n---\n# x") == {"license": "mit", "tags": ["a", "b"]}
    assert front_matter("---\n---\n") is None
    with pytest.raises(CardError):
        front_matter("---\n- a\n---\n")


def megabyte_card(rows: int = 6000) -> str:
    """~1 MiB of model-index with 16 nodes a row: 96,000 nodes, just under the bound."""
    pad = "x" * 78
    return "model-index:\n" + "".join(f"- name: m{n}-{pad}\n  results:\n  - metrics:\n    - type: acc\n"
                                      f"      value: 0.{n}\n      name: {n}\n" for n in range(rows))


def test_a_megabyte_card_is_accepted_and_a_denser_one_refused() -> None:
    text = megabyte_card()
    assert 0.9 * cards.MAX_CARD_YAML < len(text) < cards.MAX_CARD_YAML
    assert len(load_yaml(text)["model-index"]) == 6000
    dense = "model-index:\n" + "".join(f"- name: m{n}\n  results:\n  - metrics:\n    - type: acc\n"
                                        f"      value: 0.{n}\n" for n in range(13_000))
    assert len(dense) < cards.MAX_CARD_YAML
    with pytest.raises(CardError, match="values"):
        load_yaml(dense)
