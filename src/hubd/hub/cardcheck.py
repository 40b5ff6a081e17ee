"""What `/api/validate-yaml` says about a card's metadata, as the Hub does: errors (the card is refused, 400)
for known keys of the wrong type or a malformed `model-index`, warnings for what is merely missing."""

from __future__ import annotations

from collections.abc import Iterator

MISSING = ("Empty or missing yaml metadata in repo card "
           "(https://huggingface.co/docs/hub/model-cards#model-card-metadata)")
_STR_OR_LIST = ("license", "tags", "datasets", "metrics", "language", "base_model", "license_name",
                "task_categories", "task_ids", "size_categories", "language_creators", "annotations_creators",
                "source_datasets", "multilinguality", "models")
_STR = ("pipeline_tag", "library_name", "license_link", "pretty_name", "title", "emoji", "colorFrom", "colorTo",
        "sdk_version", "app_file", "thumbnail")
SDKS = ("gradio", "streamlit", "docker", "static")
MAX_ERRORS = 100


def check_metadata(meta: dict | None, repo_type: str) -> tuple[list[str], list[str]]:
    """(errors, warnings) of a card's metadata; `meta` is None when the card has none."""
    if not meta:
        return [], [MISSING]
    errors = list(_type_errors(meta))
    if "model-index" in meta:
        errors += _model_index_errors(meta["model-index"])
    if repo_type == "space" and "sdk" in meta and meta["sdk"] not in SDKS:
        errors.append(f'"sdk" must be one of {", ".join(SDKS)}')
    if repo_type == "dataset" and "configs" in meta:
        errors += _configs_errors(meta["configs"])
    if len(errors) > MAX_ERRORS:  # a card of 6,000 bad results gets a readable answer, not 12,000 lines
        errors = errors[:MAX_ERRORS] + [f"... and {len(errors) - MAX_ERRORS} more errors"]
    return errors, []


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _type_errors(meta: dict) -> Iterator[str]:
    for key in _STR_OR_LIST:
        if key in meta and meta[key] is not None and not (isinstance(meta[key], str) or _is_str_list(meta[key])):
            yield f'"{key}" must be a string or a list of strings'
    for key in _STR:
        if key in meta and meta[key] is not None and not isinstance(meta[key], str):
            yield f'"{key}" must be a string'
    if "pinned" in meta and not isinstance(meta["pinned"], bool):
        yield '"pinned" must be a boolean'


def _model_index_errors(index: object) -> list[str]:
    if not isinstance(index, list):
        return ['"model-index" must be an array']
    errors = []
    for i, model in enumerate(index):
        where = f"model-index[{i}]"
        if not isinstance(model, dict):
            errors.append(f'"{where}" must be an object')
            continue
        if not isinstance(model.get("name"), str):
            errors.append(f'"{where}.name" is required and must be a string')
        results = model.get("results")
        if not isinstance(results, list):
            errors.append(f'"{where}.results" is required and must be an array')
            continue
        for j, result in enumerate(results):
            errors += _result_errors(result, f"{where}.results[{j}]")
    return errors


def _result_errors(result: object, where: str) -> list[str]:
    if not isinstance(result, dict):
        return [f'"{where}" must be an object']
    errors = []
    task = result.get("task")
    if not isinstance(task, dict) or not isinstance(task.get("type"), str):
        errors.append(f'"{where}.task.type" is required and must be a string')
    dataset = result.get("dataset")
    if not isinstance(dataset, dict) or not isinstance(dataset.get("type"), str) \
            or not isinstance(dataset.get("name"), str):
        errors.append(f'"{where}.dataset.type" and "{where}.dataset.name" are required strings')
    metrics = result.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        errors.append(f'"{where}.metrics" is required and must be a non-empty array')
    else:
        for k, metric in enumerate(metrics):
            if not isinstance(metric, dict) or not isinstance(metric.get("type"), str) or "value" not in metric:
                errors.append(f'"{where}.metrics[{k}]" needs a string "type" and a "value"')
    return errors


def _configs_errors(configs: object) -> list[str]:
    if not isinstance(configs, list):
        return ['"configs" must be an array']
    return [f'"configs[{i}].config_name" is required and must be a string' for i, c in enumerate(configs)
            if not isinstance(c, dict) or not isinstance(c.get("config_name"), str)]
