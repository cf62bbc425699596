"""The JSON inside a language model's answer, read as leniently as the reference's ``vlm_json``
(what ``vlm_as_classifier`` and ``vlm_as_detector`` parse).

Models wrap JSON in Markdown fences (```` ```json ````, any other tag, or stray fence lines),
emit JSON Lines or ``{...}, {...}`` without brackets, or chat around the document. The
candidates are tried in the reference's order; the first that parses to an object or array
wins.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = [
    "JsonPayload",
    "coerce_classification_payload",
    "extract_flat_object_entries",
    "extract_json_payload",
]

JsonPayload = dict[str, Any] | list[Any]

_JSON_FENCE = re.compile(r"```json([\s\S]*?)```", flags=re.IGNORECASE)
_ANY_FENCE = re.compile(r"```[a-zA-Z0-9_+-]*[ \t]*\r?\n?([\s\S]*?)```")
_FENCE_LINE = re.compile(r"^[ \t]*```[a-zA-Z0-9_+-]*[ \t]*$", flags=re.MULTILINE)
_SEPARATOR = re.compile(r"^[\s,]*$")
# After a sequence of values: separators and at most one stray closing bracket.
_SEQUENCE_TAIL = re.compile(r"^[\s,]*\]?[\s,]*$")
_CLASS_LABEL_KEYS = ("class", "class_name", "label")
_NAMED_BOX_FIELDS = ("x_min", "y_min", "x_max", "y_max")


def _as_document(text: str) -> JsonPayload | None:
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict | list) else None


def _candidates(raw: str) -> list[str]:
    found: list[str] = []
    json_blocks = _JSON_FENCE.findall(raw)
    if json_blocks:
        found.append(json_blocks[0])
    any_blocks = _ANY_FENCE.findall(raw)
    if any_blocks:
        found.append(any_blocks[0])
    found += [raw, _FENCE_LINE.sub("", raw)]
    return list(dict.fromkeys(found))


def _value_start(text: str, index: int) -> int:
    starts = [p for p in (text.find("{", index), text.find("[", index)) if p != -1]
    return min(starts) if starts else -1


def _value_sequence(text: str) -> list[Any] | None:
    """Objects and arrays separated only by whitespace or commas, flattened into one list;
    ``None`` when anything else sits between them (so garbage never parses as empty)."""
    decoder = json.JSONDecoder()
    entries: list[Any] = []
    found = 0
    index = 0
    while index < len(text):
        start = _value_start(text, index)
        if start == -1:
            break
        if not _SEPARATOR.match(text[index:start]):
            return None
        try:
            value, index = decoder.raw_decode(text, start)
        except ValueError:
            return None
        if isinstance(value, dict):
            entries.append(value)
        elif isinstance(value, list):
            entries.extend(value)
        else:
            return None
        found += 1
    if not found or not _SEQUENCE_TAIL.match(text[index:]):
        return None
    return entries


def _outermost(text: str, opening: str, closing: str) -> JsonPayload | None:
    start, stop = text.find(opening), text.rfind(closing)
    if start == -1 or stop <= start:
        return None
    return _as_document(text[start : stop + 1])


def extract_json_payload(raw: object) -> tuple[bool, JsonPayload]:
    """``(error_status, payload)``: the JSON object or array in a model's answer ``raw``; tried
    in order: the first ```json block, the first fenced block of any tag, the whole text, the
    text without fence lines, a sequence of values, the outermost ``[...]`` then ``{...}``."""
    if not isinstance(raw, str):
        return True, {}
    for candidate in _candidates(raw):
        payload = _as_document(candidate)
        if payload is not None:
            return False, payload
    unfenced = _FENCE_LINE.sub("", raw)
    sequence = _value_sequence(unfenced)
    if sequence is not None:
        return False, sequence
    for opening, closing in (("[", "]"), ("{", "}")):
        payload = _outermost(unfenced, opening, closing)
        if payload is not None:
            return False, payload
    return True, {}


def _class_label(entry: object) -> str | None:
    if not isinstance(entry, dict):
        return None
    for key in _CLASS_LABEL_KEYS:
        if entry.get(key) is not None:
            return str(entry[key])
    return None


def coerce_classification_payload(payload: JsonPayload) -> dict[str, Any] | None:
    """A classifier's object, or ``None`` when the shape is unusable: an object as it is; a
    bare list of ``{"class"|"class_name"|"label", "confidence"}`` entries becomes the
    multi-label ``{"predicted_classes": [...]}`` (confidence 1.0 where missing)."""
    if isinstance(payload, dict):
        return payload
    if not payload:
        return None
    entries = []
    for entry in payload:
        label = _class_label(entry)
        if label is None:
            return None
        entries.append({"class": label, "confidence": entry.get("confidence", 1.0)})
    return {"predicted_classes": entries}


def extract_flat_object_entries(raw: str) -> list[dict[str, Any]]:
    """Every top-level ``{...}`` of ``raw`` that decodes on its own and has the four named box
    fields (``x_min``, ``y_min``, ``x_max``, ``y_max``): Muse's bracket-less object lists."""
    decoder = json.JSONDecoder()
    entries: list[dict[str, Any]] = []
    index = 0
    while (start := raw.find("{", index)) != -1:
        try:
            entry, index = decoder.raw_decode(raw, start)
        except ValueError:
            index = start + 1
            continue
        if isinstance(entry, dict) and all(f in entry for f in _NAMED_BOX_FIELDS):
            entries.append(entry)
    return entries
