"""Repo cards: the YAML block at the top of README.md, parsed safely.

YAML is parsed by libyaml (PyYAML's C loader, ~30× faster than the pure-Python one), after one pass over its
event stream that bounds what the document may cost: its nesting depth (PyYAML composes recursively, in C
for the C loader) and the size of the data once aliases are expanded (a 348-byte "billion laughs" card
otherwise becomes tens of MB of JSON in every repo_info). A card over a bound is a broken card."""

from __future__ import annotations

import base64
import datetime
import json
import math

import yaml

# Real cards' metadata is a few KB; the largest (model-index with hundreds of results) a few hundred KB.
# libyaml parses 1 MiB in well under a second, so this bound keeps every card cheap to parse.
MAX_CARD_YAML = 1024 * 1024
# Nesting of real cards: model-index → results → metrics → value is 6 levels.
MAX_CARD_DEPTH = 64
# Parsing costs ~10–15 µs per node (libyaml's events, then PyYAML's constructor in Python, which is most of
# it): this bounds any card to about a second and a half of CPU. Real cards have a node per ~15 bytes, so a
# 1 MiB card fits; only unusually dense ones (short keys, tiny values: a 1 MiB model-index of 13,000
# results has ~210,000 nodes) are refused.
MAX_CARD_NODES = 100_000
# Without aliases the parsed data is at most about the size of its text (MAX_EXPANSION covers node
# overhead); anchors reused a few times fit, an alias bomb does not.
MAX_EXPANSION = 2
EXPANSION_SLACK = 4096

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the pure-Python loader only without libyaml


class CardError(ValueError):
    """The README's metadata block is not a valid YAML mapping."""


class CardTooLarge(CardError):
    """The README's metadata block is over MAX_CARD_YAML."""


def _check_events(text: str) -> None:
    """One pass over the YAML events: refuse deep nesting (aliases expanded), recursive or undefined aliases,
    and aliases that expand the document beyond MAX_EXPANSION × its length. The event stream is produced
    lazily, so a bomb is stopped at the first event over a bound, before anything is built."""
    limit = MAX_EXPANSION * len(text) + EXPANSION_SLACK
    anchors: dict[str, tuple[int, int]] = {}  # anchor → (size, height) of its node, once complete
    stack: list[list] = []  # open collections: [anchor, size so far, height of the highest child]
    expanded = 0  # size of the whole document with every alias replaced by a copy of its node
    nodes = 0

    def node(size: int, height: int, anchor: str | None) -> None:
        nonlocal expanded
        if len(stack) + height > MAX_CARD_DEPTH:
            raise CardError(f"README.md metadata is nested deeper than {MAX_CARD_DEPTH} levels")
        if anchor is not None:
            anchors[anchor] = (size, height)
        if stack:
            stack[-1][1] += size
            stack[-1][2] = max(stack[-1][2], height)

    loader = _Loader(text)
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.NodeEvent):  # scalars, aliases, collection starts
                nodes += 1
                if nodes > MAX_CARD_NODES:
                    raise CardError(f"README.md metadata has more than {MAX_CARD_NODES} values")
            if isinstance(event, yaml.AliasEvent):
                if event.anchor not in anchors:
                    raise CardError(f"README.md metadata has an undefined or recursive alias *{event.anchor}")
                size, height = anchors[event.anchor]
                expanded += size
                node(size, height, None)
            elif isinstance(event, yaml.ScalarEvent):
                expanded += len(event.value) + 1
                node(len(event.value) + 1, 0, event.anchor)
            elif isinstance(event, yaml.CollectionStartEvent):
                expanded += 1
                if len(stack) + 1 > MAX_CARD_DEPTH:
                    raise CardError(f"README.md metadata is nested deeper than {MAX_CARD_DEPTH} levels")
                if event.anchor is not None:
                    anchors.pop(event.anchor, None)  # an alias to a node still open would be recursive
                stack.append([event.anchor, 1, 0])
            elif isinstance(event, yaml.CollectionEndEvent):
                anchor, size, child_height = stack.pop()
                node(size, child_height + 1, anchor)
            if expanded > limit:
                raise CardError("README.md metadata expands too much (YAML aliases)")
    finally:
        loader.dispose()


def _plain(value: object) -> object:
    """The parsed YAML as JSON values: the job stores it and every repo_info serves it. Dates become ISO
    strings, NaN/Infinity null (as JSON.stringify does on the Hub), binary base64; aliases become copies,
    already bounded by _check_events."""
    if isinstance(value, dict):
        return {_key(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return sorted((_plain(v) for v in value), key=str)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int):
        return value
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def _key(key: object) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, datetime.date):
        return key.isoformat()
    if isinstance(key, bool | int | float) or key is None:
        return json.dumps(key)  # what JSON would make of it anyway: true, 1, 1.5, null
    return str(key)


def load_yaml(text: str) -> object:
    """A YAML document as JSON values, within the bounds above; CardError otherwise."""
    if len(text) > MAX_CARD_YAML:
        raise CardTooLarge(f"README.md metadata is larger than {MAX_CARD_YAML // 1024} KiB")
    try:
        _check_events(text)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader (C or Python), checked above
    except CardError:
        raise
    except yaml.YAMLError as exc:
        raise CardError(f"Invalid YAML in README.md metadata: {exc}") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # e.g. an integer of more than 4300 digits, a date like 2024-13-45, a surrogate character
        raise CardError(f"Invalid value in README.md metadata: {str(exc)[:200]}") from None
    return _plain(data)


def front_matter(text: str) -> dict | None:
    """The YAML block between the leading '---' lines, or None when there is none."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        return None
    data = load_yaml("\n".join(lines[1:end]))
    if data is None:
        return None
    if not isinstance(data, dict):
        raise CardError("README.md metadata must be a YAML mapping")
    return data


def card_data(readme: bytes) -> dict | None:
    """The card's metadata; a broken block counts as none, so it never breaks the repo."""
    try:
        return front_matter(readme.decode("utf-8", errors="replace"))
    except CardError:
        return None
