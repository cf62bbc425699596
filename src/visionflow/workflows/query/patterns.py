"""Regular expressions of the query language (``StringMatches``) with bounded cost.

Python's ``re`` backtracks without bound (``(a|aa)+$`` on a few dozen characters runs for
minutes) and cannot be interrupted; a pattern here is therefore checked with ``re`` (so the
syntax, and what a pattern means, stay the reference's ``re.search``) and then searched on the
``regex`` engine, which takes a timeout and releases the GIL while it matches. ``regex`` unrolls
counted repetitions when it compiles (``a{100000}`` costs tens of MB, ``a{4294967294}``
gigabytes), so a pattern may unroll to at most ``MAX_PATTERN_UNITS`` elements: each literal,
class, group and anchor counts one, a counted repetition multiplies what it repeats by its
minimum count.
"""

from __future__ import annotations

import functools
import re

import regex

__all__ = ["MAX_PATTERN_UNITS", "PatternError", "pattern_units", "search"]

# ~300 bytes of compiled pattern each: what one pattern may cost is about 2 MB.
MAX_PATTERN_UNITS = 5000
_COUNTED = re.compile(r"\{(\d*)(?:,(\d*))?\}")
# What follows ``(`` before a group's content: ``?:``, ``?=``, ``?<!``, ``?P<name>``, ``?i``...
_GROUP_PREFIX = re.compile(r"\?(?:<[=!]|P?<\w+>|P=\w+|[aiLmsux-]*:?|[=!>#])")


class PatternError(ValueError):
    """The pattern is not a valid regular expression, or unrolls to too many elements."""


def _preview(pattern: str) -> str:
    return repr(pattern) if len(pattern) <= 60 else repr(pattern[:57]) + "..."


def _class_end(pattern: str, start: int) -> int:
    """The index after the ``]`` closing the character class opened at ``start``."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":  # a leading ``]`` is a literal
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


def pattern_units(pattern: str, limit: int = MAX_PATTERN_UNITS) -> int:
    """How many elements ``pattern`` (valid for ``re``) unrolls to, counted up to past
    ``limit`` (anything over it reports ``limit + 1``). An over-estimate: every character that
    is not syntax counts one, the characters of an escape included."""
    outer: list[int] = []  # the totals of the enclosing groups
    enclosing = 0  # their sum
    total = 0  # of the current group
    last = 0  # the size of the element a quantifier would repeat
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "{" and (counted := _COUNTED.match(pattern, i)) is not None and last:
            low = counted.group(1)
            try:
                factor = max(int(low) if low else 0, 1)
            except ValueError:  # more digits than ``int`` reads: far past any limit
                return limit + 1
            total += last * (factor - 1)
            last *= factor
            i = counted.end()
        elif char in "*+?":
            i += 1  # repeats at least once (or is a lazy/possessive mark): no more units
        elif char == "(":
            outer.append(total)
            enclosing += total
            total, last = 1, 0
            prefix = _GROUP_PREFIX.match(pattern, i + 1)
            i = i + 1 if prefix is None else prefix.end()
        elif char == ")" and outer:
            last = total
            enclosing -= outer[-1]
            total = outer.pop() + last
            i += 1
        elif char == "|":
            last = 0
            i += 1
        else:
            end = _class_end(pattern, i) if char == "[" else i + (2 if char == "\\" else 1)
            total += 1
            last = 1
            i = end
        if enclosing + total > limit:
            return limit + 1
    return enclosing + total


@functools.lru_cache(maxsize=64)
def _compiled(pattern: str) -> regex.Pattern[str]:
    try:
        re.compile(pattern)
    except (re.error, OverflowError) as exc:
        raise PatternError(f"invalid regex {_preview(pattern)}: {exc}") from None
    except RecursionError:
        raise PatternError(f"the regex {_preview(pattern)} nests groups too deeply") from None
    if pattern_units(pattern) > MAX_PATTERN_UNITS:
        raise PatternError(
            f"the regex {_preview(pattern)} is too large: it unrolls to more than "
            f"{MAX_PATTERN_UNITS} elements (a counted repetition such as x{{n}} counts its "
            "element n times)"
        )
    try:
        # Not in ``regex``'s own cache (500 patterns): this one holds at most 64.
        return regex.compile(pattern, cache_pattern=False)
    except (regex.error, OverflowError, ValueError) as exc:
        raise PatternError(f"invalid regex {_preview(pattern)}: {exc}") from None


def search(pattern: str, text: str, timeout_s: float) -> bool:
    """Whether ``pattern`` matches somewhere in ``text`` (``re.search``); ``PatternError`` if
    the pattern is invalid or too large, ``TimeoutError`` if matching takes over ``timeout_s``."""
    return _compiled(pattern).search(text, timeout=timeout_s, concurrent=True) is not None
