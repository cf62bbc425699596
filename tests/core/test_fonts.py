"""The font families text visualizations name, and the file each renders with."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from visionflow.core import fonts
from visionflow.core.fonts import FONT_FAMILIES, font_family_name, font_path


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    font_path.cache_clear()
    yield
    font_path.cache_clear()


def test_the_reference_families_and_identifiers() -> None:
    assert len(FONT_FAMILIES) == 20
    assert FONT_FAMILIES["JetBrains Mono"].identifier == "jetbrains_mono"
    assert FONT_FAMILIES["PT Mono"].identifier == "pt_mono"
    assert FONT_FAMILIES["Geist Mono"].monospaced
    assert not FONT_FAMILIES["Open Sans"].monospaced


@pytest.mark.parametrize(
    ("value", "name"),
    [
        pytest.param("geist_mono", "Geist Mono", id="identifier"),
        pytest.param("Noto Sans", "Noto Sans", id="name"),
        pytest.param("Comic Sans", "Comic Sans", id="unknown-kept"),
        pytest.param("", "", id="empty"),
    ],
)
def test_font_family_name(value: str, name: str) -> None:
    assert font_family_name(value) == name


@pytest.mark.parametrize(
    ("family", "file_name"),
    [
        pytest.param("Fira Code", "DejaVuSansMono.ttf", id="monospaced"),
        pytest.param("inter", "DejaVuSans.ttf", id="proportional-by-identifier"),
    ],
)
def test_families_render_with_dejavu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_cache: None, family: str, file_name: str
) -> None:
    for name in ("DejaVuSans.ttf", "DejaVuSansMono.ttf"):
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setattr(fonts, "_DEJAVU_DIRS", (tmp_path / "missing", tmp_path))
    assert font_path(family) == str(tmp_path / file_name)


def test_without_dejavu_the_builtin_font(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_cache: None
) -> None:
    monkeypatch.setattr(fonts, "_DEJAVU_DIRS", (tmp_path,))
    assert font_path("Roboto") is None


def test_unknown_family_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown font family 'Comic Sans'"):
        font_path("Comic Sans")
