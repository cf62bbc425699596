"""``visionflow serve`` shows the demo key once, on the start that creates it; later starts
name only its file. Keys sent in query strings are redacted in the access log."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.support.server import serve


def test_demo_key_printed_once_then_only_its_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    # Wide lines: rich wraps at 80 columns when not writing to a terminal.
    with serve(home, {"COLUMNS": "400"}) as first:
        key = (home / "demo-api-key").read_text().strip()
        httpx.get(f"{first.url}/model/registry", params={"api_key": key}, timeout=10)
        # The access line is written after the response is sent: wait for it (bounded).
        deadline = time.monotonic() + 10
        while "GET /model/registry" not in (first_log := first.log()):
            assert time.monotonic() < deadline, first_log
            time.sleep(0.05)
    with serve(home, {"COLUMNS": "400"}) as second:
        second_log = second.log()
    assert key.startswith("vf_")
    assert f"API key (shown once): {key}" in first_log
    assert "GET /model/registry?api_key=***" in first_log
    assert first_log.count(key) == 1
    assert key not in second_log
    assert f"API key: in {home / 'demo-api-key'}" in second_log
