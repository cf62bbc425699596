"""The font families text visualizations may name (the reference's approved list) and the font
file each renders with here.

The reference ships or downloads one TTF per family. visionflow ships none: a family renders
with DejaVu Sans Mono (monospaced families) or DejaVu Sans (the others) from the Debian package
``fonts-dejavu-core`` (which the container image installs), and with Pillow's built-in scalable
font where that package is missing. Requests never carry font paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal, get_args

__all__ = [
    "DEFAULT_FONT_FAMILY",
    "FONT_FAMILIES",
    "FontFamily",
    "font_family_name",
    "font_path",
]

FontFamily = Literal[
    "Anonymous Pro",
    "Courier Prime",
    "Fira Code",
    "Geist",
    "Geist Mono",
    "IBM Plex Mono",
    "Inconsolata",
    "Inter",
    "JetBrains Mono",
    "Lato",
    "Montserrat",
    "Noto Sans",
    "Nunito Sans",
    "Open Sans",
    "PT Mono",
    "Roboto",
    "Roboto Mono",
    "Source Code Pro",
    "Space Mono",
    "Work Sans",
]
DEFAULT_FONT_FAMILY: FontFamily = "Geist Mono"

_PROPORTIONAL = {
    "Geist",
    "Inter",
    "Lato",
    "Montserrat",
    "Noto Sans",
    "Nunito Sans",
    "Open Sans",
    "Roboto",
    "Work Sans",
}
_DEJAVU_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))


@dataclass(frozen=True)
class FontFamilyInfo:
    name: str
    identifier: str  # the reference's snake_case id, which older definitions use
    monospaced: bool


FONT_FAMILIES: dict[str, FontFamilyInfo] = {
    name: FontFamilyInfo(name, name.lower().replace(" ", "_"), name not in _PROPORTIONAL)
    for name in get_args(FontFamily)
}
_BY_IDENTIFIER = {info.identifier: name for name, info in FONT_FAMILIES.items()}


def font_family_name(value: str) -> str:
    """A family's display name from its name or snake_case identifier (``"geist_mono"``);
    other values are returned as they are (for the caller to reject)."""
    return _BY_IDENTIFIER.get(value, value)


@cache
def font_path(family: str) -> str | None:
    """The TTF ``family`` renders with (``None``: Pillow's built-in font); ``ValueError`` for
    a family not in ``FONT_FAMILIES``."""
    info = FONT_FAMILIES.get(font_family_name(family))
    if info is None:
        raise ValueError(f"unknown font family {family!r}: use one of {', '.join(FONT_FAMILIES)}")
    file_name = "DejaVuSansMono.ttf" if info.monospaced else "DejaVuSans.ttf"
    for folder in _DEJAVU_DIRS:
        if (folder / file_name).is_file():
            return str(folder / file_name)
    return None
