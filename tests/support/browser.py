"""Headless Chromium for the playground's browser tests: Debian's ``chromium`` (installed by
``scripts/ensure-chromium.sh``) driven by Playwright, pages that fail the test on any JavaScript
error, and screenshots under ``test-artifacts/`` (git-ignored)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

__all__ = ["ARTIFACTS", "CHROMIUM", "chromium", "open_playground", "opened_page", "screenshot"]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TIMEOUT_MS = 30_000


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched browser; fails (not skips) when Debian's chromium is missing."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (make test does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def opened_page(browser: Any) -> Iterator[Any]:
    """A page in a fresh context; a JavaScript error on it fails the test at the end."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield opened
    finally:
        context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def open_playground(page: Any, url: str, key: str) -> None:
    """Load the playground at ``url`` and enter ``key`` as a user would."""
    page.goto(url + "/")
    page.get_by_test_id("api-key").fill(key)
    page.get_by_test_id("api-key").dispatch_event("change")


def screenshot(page: Any, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)
