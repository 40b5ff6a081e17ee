"""validate-yaml's verdicts on card metadata (errors refuse the card; warnings only inform)."""

from __future__ import annotations

import pytest

from hubd.hub.cardcheck import MISSING, check_metadata

GOOD_INDEX = [{"name": "m", "results": [{"task": {"type": "text-classification"},
                                          "dataset": {"type": "imdb", "name": "IMDb"},
                                          "metrics": [{"type": "accuracy", "value": 0.9}]}]}]


def test_no_metadata_is_a_warning() -> None:
    assert check_metadata(None, "model") == ([], [MISSING])
    assert check_metadata({}, "model") == ([], [MISSING])


def test_good_metadata() -> None:
    meta = {"license": "mit", "tags": ["a", "b"], "base_model": "x/y", "model-index": GOOD_INDEX,
            "pipeline_tag": "text-classification"}
    assert check_metadata(meta, "model") == ([], [])
    assert check_metadata({"sdk": "gradio", "title": "t", "pinned": False}, "space") == ([], [])
    assert check_metadata({"configs": [{"config_name": "default", "data_files": "*.csv"}]}, "dataset") == ([], [])


@pytest.mark.parametrize(("meta", "repo_type", "fragment"), [
    ({"license": 5}, "model", '"license"'),
    ({"tags": [1, 2]}, "model", '"tags"'),
    ({"pipeline_tag": ["a"]}, "model", '"pipeline_tag"'),
    ({"model-index": {"name": "x"}}, "model", '"model-index" must be an array'),
    ({"model-index": [{"results": []}]}, "model", "model-index[0].name"),
    ({"model-index": [{"name": "m", "results": [{"task": {}}]}]}, "model", "task.type"),
    ({"model-index": [{"name": "m", "results": [{"task": {"type": "t"}, "dataset": {"type": "d", "name": "n"},
                                                  "metrics": []}]}]}, "model", "metrics"),
    ({"sdk": "flask"}, "space", '"sdk"'),
    ({"pinned": "yes"}, "space", '"pinned"'),
    ({"configs": [{"data_files": "x"}]}, "dataset", "config_name"),
])
def test_errors(meta: dict, repo_type: str, fragment: str) -> None:
    errors, _ = check_metadata(meta, repo_type)
    assert errors and any(fragment in e for e in errors), errors


def test_errors_are_bounded() -> None:
    meta = {"model-index": [{"name": f"m{i}", "results": [{"metrics": []}]} for i in range(500)]}
    errors, _ = check_metadata(meta, "model")
    assert len(errors) == 101 and errors[-1].startswith("... and ")
