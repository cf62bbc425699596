"""Regex search with bounded cost: ``re.search``'s answers, a timeout on catastrophic
backtracking, and patterns that unroll to too much refused before they compile."""

from __future__ import annotations

import re
import time

import pytest

from visionflow.workflows.query.patterns import (
    MAX_PATTERN_UNITS,
    PatternError,
    pattern_units,
    search,
)

TEXTS = ["", "cat", "a cat sat", "555-1234", "AB 12", "aab", "Straße 7", "x\ny"]


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("", id="empty"),
        pytest.param(r"\bcat\b", id="word-boundary"),
        pytest.param(r"(?i)CAT", id="inline-flag"),
        pytest.param(r"\d{3}-\d{4}", id="counted"),
        pytest.param(r"^[A-Z]{2}\s?\d+$", id="anchored"),
        pytest.param(r"(?P<x>a)(?P=x)", id="backreference"),
        pytest.param(r"(?<=a)b", id="lookbehind"),
        pytest.param(r"a{,3}b", id="open-minimum"),
        pytest.param(r"(?>a+)b", id="atomic"),
        pytest.param(r"\w+ \d", id="unicode-word"),
        pytest.param(r"^y", id="caret-without-multiline"),
        pytest.param(r"(?m)^y", id="multiline"),
    ],
)
def test_answers_as_re_search(pattern: str) -> None:
    for text in TEXTS:
        assert search(pattern, text, 1.0) == (re.search(pattern, text) is not None), text


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param(r"(a|aa)+$", id="overlapping-alternation"),
        pytest.param(r"(a|a)+$", id="identical-alternation"),
    ],
)
def test_catastrophic_backtracking_times_out(pattern: str) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        search(pattern, "a" * 40 + "!", 0.1)
    assert time.monotonic() - started < 2.0


def test_nested_quantifiers_answer_at_once() -> None:
    """The bomb of the issue: ``(a+)+$`` answers (no match) without backtracking."""
    started = time.monotonic()
    assert search(r"(a+)+$", "a" * 40 + "!", 0.25) is False
    assert search(r"(a+)+$", "a" * 40, 0.25) is True
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        pytest.param("(", "invalid regex '(': missing )", id="unbalanced"),
        pytest.param(r"\p{L}", "invalid regex", id="not-re-syntax"),
        pytest.param("a{4294967294}", "too large", id="huge-count"),
        pytest.param("(?:(?:a{1000}){1000}){1000}", "too large", id="nested-counts"),
        pytest.param("x" * (MAX_PATTERN_UNITS + 1), "too large", id="long-literal"),
        pytest.param("(" * 20_000 + ")" * 20_000, "nests groups too deeply", id="deep-groups"),
    ],
)
def test_bad_patterns_are_refused(pattern: str, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(PatternError, match=re.escape(message)):
        search(pattern, "aaa", 0.25)
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    ("pattern", "units"),
    [
        pytest.param("", 0, id="empty"),
        pytest.param("abc", 3, id="literals"),
        pytest.param("a{10}", 10, id="counted"),
        pytest.param("a{0,1000000}", 1, id="no-minimum"),
        pytest.param("a+b*c?", 3, id="open-quantifiers"),
        pytest.param("[a-z]{5}", 5, id="class"),
        pytest.param("[]a]{3}", 3, id="class-with-bracket"),
        pytest.param(r"\{5}", 3, id="escaped-brace"),
        pytest.param("(a|b){3}", 9, id="group"),
        pytest.param("(?:ab){2}", 6, id="non-capturing"),
        pytest.param("(?P<name>a)", 2, id="named"),
        pytest.param("(?i)abc", 4, id="flags"),
        pytest.param("(?:a{100}){100}", MAX_PATTERN_UNITS + 1, id="past-the-limit"),
    ],
)
def test_pattern_units(pattern: str, units: int) -> None:
    assert pattern_units(pattern) == units


def test_a_pattern_at_the_limit_compiles() -> None:
    assert search(f"a{{{MAX_PATTERN_UNITS}}}", "a" * MAX_PATTERN_UNITS, 1.0) is True
