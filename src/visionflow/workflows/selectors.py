"""Selectors: ``$inputs.<name>``, ``$steps.<step>.<output>``, ``$steps.<step>.*`` and the step
selector ``$steps.<step>`` used by flow control (wire reference §6.3)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "DATA_SELECTOR_PATTERN",
    "STEP_SELECTOR_PATTERN",
    "Selector",
    "SelectorKind",
    "looks_like_selector",
    "parse_selector",
]

# The reference's JSON-schema patterns, so manifests accept exactly what it accepts.
DATA_SELECTOR_PATTERN = (
    r"(^\$steps\.[A-Za-z_\-0-9]+\.[A-Za-z_*0-9\-]+$)|(^\$inputs.[A-Za-z_0-9\-]+$)"
)
STEP_SELECTOR_PATTERN = r"^\$steps\.[A-Za-z_0-9\-]+"

_INPUT = re.compile(r"^\$inputs\.([A-Za-z_0-9\-]+)$")
_STEP_OUTPUT = re.compile(r"^\$steps\.([A-Za-z_\-0-9]+)\.([A-Za-z_*0-9\-]+)$")
_STEP = re.compile(r"^\$steps\.([A-Za-z_\-0-9]+)$")


class SelectorKind(Enum):
    INPUT = "input"
    STEP_OUTPUT = "step_output"
    STEP = "step"


@dataclass(frozen=True)
class Selector:
    """A parsed selector. ``name`` is the input or step name; ``output`` the step output name
    (``"*"`` for all outputs) or ``None``."""

    raw: str
    kind: SelectorKind
    name: str
    output: str | None = None

    @property
    def is_wildcard(self) -> bool:
        return self.output == "*"


def looks_like_selector(value: object) -> bool:
    """Strings that are meant as selectors (and must parse as one)."""
    return isinstance(value, str) and value.startswith(("$inputs", "$steps"))


def parse_selector(raw: str) -> Selector | None:
    """The selector ``raw`` spells, or ``None`` if it is not a well-formed selector."""
    if match := _INPUT.match(raw):
        return Selector(raw, SelectorKind.INPUT, match.group(1))
    if match := _STEP_OUTPUT.match(raw):
        return Selector(raw, SelectorKind.STEP_OUTPUT, match.group(1), match.group(2))
    if match := _STEP.match(raw):
        return Selector(raw, SelectorKind.STEP, match.group(1))
    return None
