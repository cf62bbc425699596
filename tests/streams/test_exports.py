"""``visionflow.streams.__all__`` is the complete, sorted public surface."""

from __future__ import annotations

import types

import visionflow.streams as streams


def _isort_key(name: str) -> tuple[int, str]:
    """Ruff's ``__all__`` order (RUF022): CONSTANTS, then Classes, then functions."""
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def test_all_is_sorted() -> None:
    assert streams.__all__ == sorted(streams.__all__, key=_isort_key)


def test_all_is_complete() -> None:
    public = {
        name
        for name, value in vars(streams).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(streams.__all__)
