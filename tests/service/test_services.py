from __future__ import annotations

from pathlib import Path

import pytest

from visionflow.config import Settings
from visionflow.errors import ModelLoadError
from visionflow.service.services import Services, pinned_keys


@pytest.mark.parametrize(
    ("pinned", "expected"),
    [
        pytest.param((), [], id="empty"),
        pytest.param(("shapes/1",), ["demo/shapes/1"], id="bare-id-is-the-demo-workspace"),
        pytest.param(("acme/parts/3",), ["acme/parts/3"], id="workspace-given"),
    ],
)
def test_pinned_keys(pinned: tuple[str, ...], expected: list[str]) -> None:
    assert pinned_keys(Settings(pinned_models=pinned)) == expected


def test_a_missing_execution_provider_stops_the_start(tmp_path: Path) -> None:
    # This CPU build has no CUDA: asking for it fails when the services are built, not later.
    settings = Settings(home=tmp_path, onnx_providers=("CUDAExecutionProvider",))

    with pytest.raises(ModelLoadError, match="VISIONFLOW_ONNX_PROVIDER_FALLBACK"):
        Services.build(settings)
