"""Repo cards: the YAML block at the top of README.md, parsed safely."""

from __future__ import annotations

import yaml


class CardError(ValueError):
    """The README's metadata block is not a valid YAML mapping."""


def front_matter(text: str) -> dict | None:
    """The YAML block between the leading '---' lines, or None when there is none."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        return None
    try:
        data = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        raise CardError(f"Invalid YAML in README.md metadata: {exc}") from None
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


def card_tags(data: dict | None) -> list[str]:
    """The tags the Hub shows for a card's plain fields (full derivation comes with discovery)."""
    if not data:
        return []
    tags: list[str] = []

    def add(value: object, prefix: str = "") -> None:
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, str | int | float) and not isinstance(v, bool) and str(v):
                tag = f"{prefix}{v}"
                if tag not in tags:
                    tags.append(tag)

    add(data.get("library_name"))
    add(data.get("tags"))
    add(data.get("pipeline_tag"))
    add(data.get("language"))
    add(data.get("license"), "license:")
    return tags
