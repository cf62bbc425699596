"""The playground's test hooks (``data-testid``) and their list in ``docs/playground.md`` agree:
every documented hook is in the page's files, and every hook the page sets is documented."""

from __future__ import annotations

import re
from pathlib import Path

from visionflow.http.routes.playground import STATIC_DIR

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "playground.md"
# A hook set in HTML, assigned in JavaScript, or a quoted literal (lists of hooks in JS).
SET_IN_HTML = re.compile(r'data-testid="([a-z-]+)"')
SET_IN_JS = re.compile(r'dataset\.testid = "([a-z-]+)"')
LITERAL = re.compile(r'"([a-z]+(?:-[a-z]+)*)"')


def _documented() -> list[str]:
    return re.findall(r"^\| `([a-z-]+)` \|", DOC.read_text(), flags=re.MULTILINE)


def _sources() -> str:
    return "\n".join(
        path.read_text() for path in sorted(STATIC_DIR.iterdir()) if path.suffix in {".html", ".js"}
    )


def test_every_documented_hook_is_in_the_page() -> None:
    documented = _documented()
    assert len(documented) == len(set(documented)), "a hook is listed twice"
    present = set(LITERAL.findall(_sources()))
    missing = [hook for hook in documented if hook not in present]
    assert missing == []


def test_every_hook_the_page_sets_is_documented() -> None:
    sources = _sources()
    set_by_page = set(SET_IN_HTML.findall(sources)) | set(SET_IN_JS.findall(sources))
    assert {"api-key", "prediction-count", "error", "stream-error"} <= set_by_page
    assert sorted(set_by_page - set(_documented())) == []


def test_issue_hooks_are_kept() -> None:
    """The hooks the issue names for tests and automation (their meaning is in the doc)."""
    required = {
        "api-key",
        "model-select",
        "image-input",
        "run-button",
        "prediction-count",
        "result-json",
        "error",
    }
    assert required <= set(_documented())
