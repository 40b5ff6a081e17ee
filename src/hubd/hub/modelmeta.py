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


class SafetensorsError(ValueError):
    """A safetensors header that the format does not allow: the file's parameters are not counted."""


# The official client refuses longer headers (huggingface_hub SAFETENSORS_MAX_HEADER_LENGTH); real headers are
# ~100 bytes per tensor, so this still fits ~200,000 tensors in one file.
MAX_SAFETENSORS_HEADER = 25_000_000
# Real tensors have rank <= 6; numpy allows 32 (64 since 2.0). The rank also bounds the loop per tensor.
MAX_TENSOR_RANK = 32
# A 2**40-element dimension is 2 TB of BF16: no real dimension comes near it.
MAX_TENSOR_DIM = 2**40
# 9e15 parameters, thousands of times the largest models, and every client (JavaScript too) can hold it exactly.
MAX_PARAMETERS = 2**53
# Width of each dtype in bits (the safetensors crate's Dtype enum, sub-byte float formats included).
DTYPE_BITS = {
    "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
    "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32,
    "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64,
}
_TENSOR_KEYS = {"dtype", "shape", "data_offsets"}


def safetensors_header_size(first8: bytes, file_size: int | None = None) -> int:
    if len(first8) != 8:
        raise SafetensorsError("safetensors file too short")
    (n,) = struct.unpack("<Q", first8)
    if n > MAX_SAFETENSORS_HEADER:
        raise SafetensorsError(f"safetensors header of {n} bytes is larger than {MAX_SAFETENSORS_HEADER}")
    if file_size is not None and 8 + n > file_size:
        raise SafetensorsError("safetensors header is longer than the file")
    return n


def _json_int(text: str) -> int:
    # Parsed before Python builds the number: no big-integer work for a 4,000-digit "dimension". 20 characters
    # hold every unsigned 64-bit value, which is all the format has.
    if len(text) > 20:
        raise SafetensorsError("safetensors header has an integer out of range")
    return int(text)


def _no_float(text: str) -> float:
    # No field of a safetensors header is a float (NaN, Infinity, 1e308 included): refusing them at parse
    # time means a hostile float never reaches int() or a multiplication.
    raise SafetensorsError(f"safetensors header has a non-integer number: {text[:20]}")


def _is_int(value: object) -> bool:
    return type(value) is int  # JSON true/false are Python bools, a subclass of int: refused


def count_parameters(header: bytes, data_size: int | None = None) -> dict[str, int]:
    """Parameters per dtype in a safetensors header, after validating it as the safetensors crate does: a
    JSON object of name → {dtype, shape, data_offsets} (plus `__metadata__`, str → str), each tensor's byte
    range matching its shape and dtype, and (given the size of the data section) the ranges covering it
    exactly. Anything else raises SafetensorsError; the work is linear in the header's length."""
    try:
        data = json.loads(header.decode("utf-8"), parse_int=_json_int, parse_float=_no_float,
                          parse_constant=_no_float)
    except SafetensorsError:
        raise
    except RecursionError:
        raise SafetensorsError("safetensors header is nested too deeply") from None
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise SafetensorsError(f"safetensors header is not JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise SafetensorsError("safetensors header is not a JSON object")
    counts: dict[str, int] = {}
    ranges: list[tuple[int, int]] = []
    total = 0
    for name, tensor in data.items():
        if name == "__metadata__":
            if not isinstance(tensor, dict) or not all(isinstance(v, str) for v in tensor.values()):
                raise SafetensorsError("safetensors __metadata__ must map strings to strings")
            continue
        where = f"safetensors tensor {name[:100]!r}"
        if not isinstance(tensor, dict) or tensor.keys() != _TENSOR_KEYS:
            raise SafetensorsError(f"{where} must have exactly dtype, shape and data_offsets")
        dtype, shape, offsets = tensor["dtype"], tensor["shape"], tensor["data_offsets"]
        if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
            raise SafetensorsError(f"{where} has an unknown dtype")
        if not isinstance(shape, list) or len(shape) > MAX_TENSOR_RANK:
            raise SafetensorsError(f"{where}: shape must be a list of at most {MAX_TENSOR_RANK} dimensions")
        n = 1
        for dim in shape:
            if not _is_int(dim) or not 0 <= dim <= MAX_TENSOR_DIM:
                raise SafetensorsError(f"{where}: dimensions must be integers from 0 to {MAX_TENSOR_DIM}")
            n *= dim  # both factors are bounded, and n is checked at every step: never a big integer
            if n > MAX_PARAMETERS:
                raise SafetensorsError(f"{where} has more than {MAX_PARAMETERS} elements")
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_int(o) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1]):
            raise SafetensorsError(f"{where}: data_offsets must be two ordered non-negative integers")
        bits = n * DTYPE_BITS[dtype]
        if bits % 8 or offsets[1] - offsets[0] != bits // 8:
            raise SafetensorsError(f"{where}: data_offsets do not match its shape and dtype")
        total += n
        if total > MAX_PARAMETERS:
            raise SafetensorsError(f"safetensors header has more than {MAX_PARAMETERS} parameters")
        counts[dtype] = counts.get(dtype, 0) + n
        ranges.append((offsets[0], offsets[1]))
    if data_size is not None:
        # As the safetensors crate checks: tensors tile the data section, without gap, overlap or excess.
        end = 0
        for start, stop in sorted(ranges):
            if start != end:
                raise SafetensorsError("safetensors tensors overlap or leave a gap in the data")
            end = stop
        if end != data_size:
            raise SafetensorsError("safetensors tensors do not cover the file's data exactly")
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
