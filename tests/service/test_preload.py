"""VISIONFLOW_PRELOAD_MODELS: models loaded in the background when a serving process starts."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import pytest

from visionflow.config import Settings
from visionflow.service.demo import ensure_demo
from visionflow.service.preload import Preloader, PreloadOutcome, qualified_keys
from visionflow.service.services import Services


def test_qualified_keys_put_bare_ids_in_the_demo_workspace() -> None:
    assert qualified_keys(("shapes/1", "acme/parts/3"), "demo") == [
        "demo/shapes/1",
        "acme/parts/3",
    ]


def test_a_serving_process_preloads_the_named_models_and_skips_unknown_ones(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        home=tmp_path, preload_models=("shapes/1", "nothere/9", "demo/shapes-seg/1")
    )
    services = Services.build(settings)
    try:
        ensure_demo(settings, services.registry, services.models)
        assert services.manager.loaded() == []
        with caplog.at_level(logging.INFO, logger="visionflow.preload"):
            services.start()
            assert services.preloader is not None
            services.preloader.join(timeout_s=60)

        outcomes = services.preloader.outcomes
        assert [(o.key, o.loaded) for o in outcomes] == [
            ("demo/shapes/1", True),
            ("demo/nothere/9", False),
            ("demo/shapes-seg/1", True),
        ]
        assert outcomes[1] == PreloadOutcome(
            "demo/nothere/9", False, 0.0, "not registered (VISIONFLOW_PRELOAD_MODELS names it)"
        )
        assert {entry.key for entry in services.manager.loaded()} == {
            "demo/shapes/1",
            "demo/shapes-seg/1",
        }
        assert "preloaded demo/shapes/1" in caplog.text
        assert "cannot preload demo/nothere/9" in caplog.text
    finally:
        services.close()


def test_by_default_only_the_workflow_blocks_load_in_the_background(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    services = Services.build(Settings(home=tmp_path))
    try:
        with caplog.at_level(logging.INFO, logger="visionflow.preload"):
            services.start()
            assert services.preloader is not None
            services.preloader.join(timeout_s=120)
        assert services.preloader.outcomes == []
        assert services.manager.loaded() == []
        assert re.search(r"loaded \d+ workflow blocks in", caplog.text)
        assert "roboflow_core/heatmap_visualization@v1" in services.workflows.blocks.types()
    finally:
        services.close()


class _Blocks:
    def __init__(self) -> None:
        self.loads = 0

    def load(self) -> int:
        self.loads += 1
        return 0


def test_the_block_catalog_waits_for_its_delay_and_a_stop_skips_it(tmp_path: Path) -> None:
    services = Services.build(Settings(home=tmp_path))
    try:
        blocks = _Blocks()
        preloader = Preloader(
            services.registry,
            services.inference,
            [],
            blocks,
            blocks_delay_s=60.0,  # type: ignore[arg-type]
        )
        preloader.start()
        time.sleep(0.2)
        assert blocks.loads == 0  # still waiting: the first requests go first
        preloader.stop()
        preloader.join(timeout_s=5)
        assert blocks.loads == 0

        soon = Preloader(services.registry, services.inference, [], blocks, blocks_delay_s=0.0)  # type: ignore[arg-type]
        soon.start()
        soon.join(timeout_s=5)
        assert blocks.loads == 1
    finally:
        services.close()
