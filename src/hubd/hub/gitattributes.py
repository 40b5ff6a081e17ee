"""The .gitattributes every new repo starts with, as on the Hub, and which paths it sends to LFS."""

import fnmatch

_PATTERNS = (
    "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib", "*.lfs.*",
    "*.mlmodel", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot", "*.parquet", "*.pb",
    "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar", "*.safetensors", "saved_model/**/*", "*.tar.*",
    "*.tar", "*.tflite", "*.tgz", "*.wasm", "*.xz", "*.zip", "*.zst", "*tfevents*",
)
_DATASET_EXTRA = (
    "*.lz4", "*.mds", "*.wav", "*.mp3", "*.ogg", "*.flac", "*.jpg", "*.jpeg", "*.png", "*.webp",
    "*.gif", "*.mp4", "*.webm",
)


def default_gitattributes(repo_type: str) -> bytes:
    patterns = _PATTERNS + (_DATASET_EXTRA if repo_type == "dataset" else ())
    return "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in patterns).encode()


def lfs_patterns(text: str) -> list[tuple[str, bool]]:
    """(pattern, is_lfs) for each .gitattributes line that sets or unsets the lfs filter, in file order."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        attrs = parts[1:]
        if "filter=lfs" in attrs:
            out.append((parts[0], True))
        elif "-filter" in attrs or "!filter" in attrs or any(a.startswith("filter=") for a in attrs):
            out.append((parts[0], False))
    return out


def is_lfs_path(patterns: list[tuple[str, bool]], path: str) -> bool:
    """git's rule, simplified: a pattern without '/' matches the file name at any depth; the last match wins."""
    name = path.rsplit("/", 1)[-1]
    result = False
    for pattern, lfs in patterns:
        if "/" in pattern.strip("/"):
            matched = fnmatch.fnmatchcase(path, pattern.lstrip("/").replace("**/", "*"))
        else:
            matched = fnmatch.fnmatchcase(name, pattern.strip("/"))
        if matched:
            result = lfs
    return result
