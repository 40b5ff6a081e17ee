"""A dataset's configs and splits, resolved from the repo's files as `datasets` would: README YAML
`configs` first, else the Hub's file-name conventions."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

FORMATS = {".csv": "csv", ".tsv": "tsv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
_IGNORED = {"README.md", "config.json", "dataset_info.json", "dataset_infos.json", "dataset_dict.json"}
_SPLIT_WORDS = {
    "train": ("train", "training"),
    "validation": ("validation", "valid", "dev", "val"),
    "test": ("test", "testing", "eval", "evaluation"),
}
_SHARDED = re.compile(r"^data/(\w+?)-\d{5}-of-\d{5}[^/]*$")
_SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")


@dataclass
class Split:
    name: str
    files: list[str] = field(default_factory=list)


@dataclass
class Config:
    name: str
    splits: list[Split]


class ConfigError(ValueError):
    """The README's `configs` cannot be used: reported as the export's failure."""


def data_format(path: str) -> str | None:
    for ext, fmt in FORMATS.items():
        if path.lower().endswith(ext):
            return fmt
    return None


def _is_data_file(path: str) -> bool:
    parts = path.split("/")
    if path in _IGNORED or any(p.startswith((".", "__")) for p in parts):
        return False
    return data_format(path) is not None


def _match(patterns: list[str], files: list[str], base: str = "") -> list[str]:
    out = []
    for pattern in patterns:
        full = f"{base.strip('/')}/{pattern}" if base else pattern
        glob = full.replace("**/", "*").replace("**", "*")
        out += [f for f in files if fnmatch.fnmatchcase(f, glob) and f not in out]
    return sorted(out)


def _split_of(path: str) -> str | None:
    """The split a file belongs to by its directory or file name, or None."""
    *dirs, name = path.lower().split("/")
    for canonical, words in _SPLIT_WORDS.items():
        if any(d in words for d in dirs):
            return canonical
    for canonical, words in _SPLIT_WORDS.items():
        for w in words:
            if re.match(rf"^{w}[-._ 0-9]", name) or re.search(rf"[-._ 0-9]{w}[-._ 0-9]", name):
                return canonical
    return None


def from_conventions(files: list[str]) -> list[Config]:
    data = [f for f in files if _is_data_file(f)]
    if not data:
        return []
    sharded = {f: m.group(1) for f in data if (m := _SHARDED.match(f))}
    splits: dict[str, list[str]] = {}
    if sharded:
        for f, split in sharded.items():
            splits.setdefault(split, []).append(f)
    else:
        named = {f: _split_of(f) for f in data}
        if any(named.values()):
            for f, split in named.items():
                if split:
                    splits.setdefault(split, []).append(f)
        else:
            splits["train"] = data
    order = ["train", "validation", "test"]
    names = sorted(splits, key=lambda s: (order.index(s) if s in order else 3, s))
    return [Config("default", [Split(s, sorted(splits[s])) for s in names])]


def from_card(card: dict, files: list[str]) -> list[Config] | None:
    """Configs declared in README YAML, or None when there are none."""
    declared = card.get("configs")
    if not isinstance(declared, list) or not declared:
        return None
    data = [f for f in files if _is_data_file(f)]
    out = []
    for item in declared:
        if not isinstance(item, dict) or not isinstance(item.get("config_name"), str):
            raise ConfigError("each item of `configs` needs a config_name")
        base = item.get("data_dir") or ""
        spec = item.get("data_files")
        if spec is None:
            splits = [Split("train", _match(["**"], data, base))]
        elif isinstance(spec, str) or (isinstance(spec, list) and all(isinstance(s, str) for s in spec)):
            splits = [Split("train", _match([spec] if isinstance(spec, str) else spec, data, base))]
        elif isinstance(spec, list):
            splits = []
            for entry in spec:
                if not isinstance(entry, dict) or not isinstance(entry.get("split"), str):
                    raise ConfigError("each data_files entry needs a split and a path")
                if not _SPLIT_NAME.match(entry["split"]):
                    raise ConfigError(f"invalid split name {entry['split']!r}")
                paths = entry.get("path")
                patterns = [paths] if isinstance(paths, str) else paths if isinstance(paths, list) else []
                splits.append(Split(entry["split"], _match([str(p) for p in patterns], data, base)))
        else:
            raise ConfigError("data_files must be a string, a list, or a list of {split, path}")
        out.append(Config(item["config_name"], splits))
    return out


def resolve(card: dict | None, files: list[str]) -> list[Config]:
    return from_card(card or {}, files) or from_conventions(files)
