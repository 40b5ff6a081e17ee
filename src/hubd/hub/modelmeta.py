"""What the Hub derives from a repo's content: tags, pipeline and library, transformersInfo, parameter
counts. Pure functions over parsed inputs; reading the files is derive.py's job."""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterable

# architecture suffix → (auto class, pipeline tag); the first suffix that matches wins
_ARCHITECTURES = (
    ("ForSequenceClassification", "AutoModelForSequenceClassification", "text-classification"),
    ("ForTokenClassification", "AutoModelForTokenClassification", "token-classification"),
    ("ForQuestionAnswering", "AutoModelForQuestionAnswering", "question-answering"),
    ("ForMaskedLM", "AutoModelForMaskedLM", "fill-mask"),
    ("ForCausalLM", "AutoModelForCausalLM", "text-generation"),
    ("LMHeadModel", "AutoModelForCausalLM", "text-generation"),
    ("ForSpeechSeq2Seq", "AutoModelForSpeechSeq2Seq", "automatic-speech-recognition"),
    ("ForCTC", "AutoModelForCTC", "automatic-speech-recognition"),
    ("ForConditionalGeneration", "AutoModelForSeq2SeqLM", "text2text-generation"),
    ("ForImageClassification", "AutoModelForImageClassification", "image-classification"),
    ("ForObjectDetection", "AutoModelForObjectDetection", "object-detection"),
    ("ForSemanticSegmentation", "AutoModelForSemanticSegmentation", "image-segmentation"),
    ("ForAudioClassification", "AutoModelForAudioClassification", "audio-classification"),
    ("Model", "AutoModel", "feature-extraction"),
)
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "spiece.model",
                    "tokenizer.model", "sentencepiece.bpe.model")
_ARXIV = re.compile(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5})", re.IGNORECASE)
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024
DATA_FORMATS = {".parquet": "parquet", ".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json",
                ".txt": "text", ".arrow": "arrow", ".png": "imagefolder", ".jpg": "imagefolder",
                ".jpeg": "imagefolder", ".wav": "audiofolder", ".mp3": "audiofolder", ".flac": "audiofolder"}
MODALITIES = {"parquet": "tabular", "csv": "tabular", "json": "text", "text": "text", "arrow": "tabular",
              "imagefolder": "image", "audiofolder": "audio"}


def as_list(value: object) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [str(v) for v in values if isinstance(v, str | int | float) and not isinstance(v, bool) and str(v)]


def transformers_info(config: dict | None, files: Iterable[str]) -> dict | None:
    if not config or not isinstance(config.get("architectures"), list) or not config["architectures"]:
        return None
    arch = str(config["architectures"][0])
    names = {f.rsplit("/", 1)[-1] for f in files}
    processor = None
    if names & set(_TOKENIZER_FILES):
        processor = "AutoTokenizer"
    if "preprocessor_config.json" in names:
        processor = "AutoProcessor" if processor else "AutoImageProcessor"
    for suffix, auto_model, pipeline in _ARCHITECTURES:
        if arch.endswith(suffix):
            info = {"auto_model": auto_model, "pipeline_tag": pipeline}
            if processor:
                info["processor"] = processor
            return info
    return None


def config_subset(config: dict | None, tokenizer_config: dict | None) -> dict | None:
    if not config:
        return None
    out: dict = {k: config[k] for k in ("architectures", "model_type") if k in config}
    if tokenizer_config:
        special = {k: v for k, v in tokenizer_config.items()
                   if k in ("bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token",
                            "mask_token", "chat_template") and isinstance(v, str | dict)}
        if special:
            out["tokenizer_config"] = special
    return out or None


def library_name(card: dict, config: dict | None, files: list[str]) -> str | None:
    if isinstance(card.get("library_name"), str):
        return card["library_name"]
    names = set(files)
    if "model_index.json" in names:
        return "diffusers"
    if "modules.json" in names or "config_sentence_transformers.json" in names:
        return "sentence-transformers"
    if config is not None and ("architectures" in config or "model_type" in config):
        return "transformers"
    if any(f.endswith(".gguf") for f in files):
        return "gguf"
    if any(f.endswith(".onnx") for f in files):
        return "onnx"
    return None


def model_tags(card: dict, readme: str, library: str | None, pipeline: str | None, config: dict | None,
               files: list[str]) -> list[str]:
    tags: list[str] = []

    def add(*values: str) -> None:
        for v in values:
            if v and v not in tags:
                tags.append(v)

    add(*(as_list(library)))
    if any(f.endswith(".safetensors") for f in files):
        add("safetensors")
    if config and isinstance(config.get("model_type"), str):
        add(config["model_type"])
    add(*as_list(card.get("tags")))
    add(*as_list(pipeline))
    add(*as_list(card.get("language")))
    add(*(f"dataset:{d}" for d in as_list(card.get("datasets"))))
    add(*(f"base_model:{b}" for b in as_list(card.get("base_model"))))
    add(*(f"arxiv:{a}" for a in dict.fromkeys(_ARXIV.findall(readme))))
    add(*(f"license:{lic}" for lic in as_list(card.get("license"))))
    add("region:us")
    return tags


def dataset_tags(card: dict, readme: str, files: list[str]) -> list[str]:
    tags: list[str] = []

    def add(*values: str) -> None:
        for v in values:
            if v and v not in tags:
                tags.append(v)

    for key in ("task_categories", "task_ids", "language", "multilinguality", "size_categories",
                "source_datasets", "annotations_creators", "language_creators"):
        add(*(f"{key}:{v}" for v in as_list(card.get(key))))
    formats = sorted({DATA_FORMATS[ext] for f in files for ext in DATA_FORMATS if f.lower().endswith(ext)
                      and not f.startswith(".")} - ({"json"} if _only_metadata_json(files) else set()))
    add(*(f"format:{f}" for f in formats))
    add(*(f"modality:{m}" for m in sorted({MODALITIES[f] for f in formats})))
    if formats:
        add("library:datasets")
    add(*as_list(card.get("tags")))
    add(*(f"arxiv:{a}" for a in dict.fromkeys(_ARXIV.findall(readme))))
    add(*(f"license:{lic}" for lic in as_list(card.get("license"))))
    add("region:us")
    return tags


def _only_metadata_json(files: list[str]) -> bool:
    data_json = [f for f in files if f.endswith((".json", ".jsonl")) and f.rsplit("/", 1)[-1] not in
                 ("dataset_info.json", "dataset_infos.json", "config.json", "state.json")]
    return not data_json


def space_tags(card: dict, sdk: str | None) -> list[str]:
    tags = as_list(sdk) + as_list(card.get("tags"))
    tags += [f"license:{lic}" for lic in as_list(card.get("license"))]
    tags.append("region:us")
    return list(dict.fromkeys(tags))


def safetensors_header_size(first8: bytes) -> int:
    if len(first8) != 8:
        raise ValueError("safetensors file too short")
    (n,) = struct.unpack("<Q", first8)
    if n > MAX_SAFETENSORS_HEADER:
        raise ValueError("safetensors header too large")
    return n


def count_parameters(header: bytes) -> dict[str, int]:
    data = json.loads(header)
    counts: dict[str, int] = {}
    for name, tensor in data.items():
        if name == "__metadata__" or not isinstance(tensor, dict):
            continue
        n = 1
        for dim in tensor.get("shape", []):
            n *= int(dim)
        dtype = str(tensor.get("dtype"))
        counts[dtype] = counts.get(dtype, 0) + n
    return counts


def card_metrics(card: dict) -> list[str]:
    """Metric types named in a card's model-index results."""
    out: list[str] = []
    index = card.get("model-index")
    for model in index if isinstance(index, list) else []:
        for result in model.get("results", []) if isinstance(model, dict) else []:
            for metric in result.get("metrics", []) if isinstance(result, dict) else []:
                if isinstance(metric, dict) and isinstance(metric.get("type"), str) and metric["type"] not in out:
                    out.append(metric["type"][:128])
    return out
