"""The .gitattributes every new repo starts with, as on the Hub."""

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
