"""Colours and palettes as visualization blocks spell them (``#RRGGBB``, ``rgb(r, g, b)``,
``bgr(b, g, r)``, supervision colour names such as ``WHITE``; palettes ``DEFAULT``, ``ROBOFLOW``,
``CUSTOM`` and ``Matplotlib <name>``)."""

from __future__ import annotations

from collections.abc import Sequence

import supervision as sv

__all__ = ["UnknownGreyPalette", "parse_color", "parse_palette"]

# Matplotlib colour maps whose names keep their capital (the rest are lower case).
_CAPITALIZED = {"Pastel1", "Pastel2", "Paired", "Accent", "Dark2", "Set1", "Set2", "Set3", "Wistia"}


def parse_color(value: str | Sequence[int]) -> sv.Color:
    """A colour from its text form, or an ``(r, g, b)`` triple; ``ValueError`` if unknown."""
    if not isinstance(value, str):
        r, g, b = (int(v) for v in value)
        return sv.Color(r=r, g=g, b=b)
    text = value.strip()
    if text.startswith("#"):
        return sv.Color.from_hex(text)
    lowered = text.lower()
    if lowered.startswith(("rgb(", "bgr(")) and text.endswith(")"):
        parts = [int(part) for part in text[4:-1].split(",")]
        if len(parts) != 3:
            raise ValueError(f"{value!r}: expected three components")
        r, g, b = parts if lowered.startswith("rgb") else parts[::-1]
        return sv.Color(r=r, g=g, b=b)
    named = getattr(sv.Color, text.upper(), None)
    if isinstance(named, sv.Color):
        return named
    raise ValueError(
        f"unknown colour {value!r}: use #RRGGBB, rgb(R, G, B), bgr(B, G, R) or a name like WHITE"
    )


class UnknownGreyPalette(sv.ColorPalette):
    """A palette that paints negative ids grey, as the reference's: an unmatched VLM label keeps
    ``class_id == -1`` (and a pending track a negative tracker id); supervision would wrap it
    around to the palette's last colour."""

    def by_idx(self, idx: int) -> sv.Color:
        if idx < 0:
            return sv.Color.GREY
        return super().by_idx(idx)


def parse_palette(name: str, size: int, custom: Sequence[str]) -> sv.ColorPalette:
    return UnknownGreyPalette(colors=list(_palette(name, size, custom).colors))


def _palette(name: str, size: int, custom: Sequence[str]) -> sv.ColorPalette:
    if name == "CUSTOM":
        if not custom:
            raise ValueError("color_palette CUSTOM needs custom_colors")
        return sv.ColorPalette(colors=[parse_color(color) for color in custom])
    builtin = getattr(sv.ColorPalette, name, None)
    if isinstance(builtin, sv.ColorPalette):
        return builtin
    if name.startswith("Matplotlib "):
        colormap = name.removeprefix("Matplotlib ")
        colormap = colormap if colormap in _CAPITALIZED else colormap.lower()
        return sv.ColorPalette.from_matplotlib(colormap, size)
    raise ValueError(f"unknown color_palette {name!r}")
