from __future__ import annotations

from pathlib import Path

import pytest

from hubd.config import SETTINGS, load_settings

README = (Path(__file__).parents[2] / "README.md").read_text()


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented(setting) -> None:  # type: ignore[no-untyped-def]
    assert f"`--{setting.name.replace('_', '-')}`" in README


def test_precedence() -> None:
    env = {"HUBD_PORT": "9000", "HUBD_DATA_DIR": "/env"}
    s = load_settings({"port": 9100}, env=env)
    assert s.port == 9100 and s.data_dir == "/env" and s.host == "127.0.0.1"
    assert s.base_url == "http://127.0.0.1:9100"
    assert load_settings({}, env={"HUBD_PUBLIC_URL": "https://hub.example/"}).base_url == "https://hub.example"


def test_bad_values_fail_loudly() -> None:
    with pytest.raises(ValueError, match="port"):
        load_settings({}, env={"HUBD_PORT": "eighty"})


def test_settings_has_one_typed_field_per_setting() -> None:
    """Defaults live in SETTINGS only; the Settings dataclass declares each field's type, which must agree."""
    import dataclasses

    from hubd.config import Settings

    fields = {f.name: f for f in dataclasses.fields(Settings)}
    assert set(fields) == {s.name for s in SETTINGS}
    for s in SETTINGS:
        assert fields[s.name].type == s.type.__name__, s.name
        assert fields[s.name].default is dataclasses.MISSING, f"{s.name}: a second default"
        assert isinstance(s.default, s.type), s.name
    defaults = load_settings({}, env={})
    assert all(getattr(defaults, s.name) == s.default for s in SETTINGS)
