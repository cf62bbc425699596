"""``VersionMap``: family version ids → model ids, and 404s that say how to add the model."""

from __future__ import annotations

from pathlib import Path

import pytest

from visionflow.errors import ModelNotFoundError
from visionflow.service.auth import Principal
from visionflow.service.services import Services
from visionflow.service.versions import VersionMap

ACME = Principal("acme", ("acme",))

VERSIONS = VersionMap(
    family="Widget",
    request_field="widget_version_id",
    setting="VISIONFLOW_WIDGET_MODELS",
    export_script="scripts/export_widget.py",
    example_model_id="widget-custom/1",
    default="big",
    versions={"big": "widget/1", "small": "widget-small/2"},
)


@pytest.mark.parametrize(
    ("version", "model_id"),
    [
        pytest.param(None, "widget/1", id="none-is-default"),
        pytest.param("", "widget/1", id="empty-is-default"),
        pytest.param("  ", "widget/1", id="blank-is-default"),
        pytest.param("small", "widget-small/2", id="mapped"),
        pytest.param(" small ", "widget-small/2", id="stripped"),
        pytest.param("other/4", "other/4", id="model-id"),
    ],
)
def test_model_id(version: str | None, model_id: str) -> None:
    assert VERSIONS.model_id(version) == model_id


def test_an_unmapped_version_names_the_setting_and_the_steps() -> None:
    with pytest.raises(ModelNotFoundError) as caught:
        VERSIONS.model_id("tiny")
    error = caught.value
    assert error.http_status == 404
    assert "Widget version 'tiny' is not mapped" in error.message
    assert "big=widget/1, small=widget-small/2" in error.message
    assert "scripts/export_widget.py" in error.message
    assert "VISIONFLOW_WIDGET_MODELS='tiny=widget-custom/1'" in error.message
    assert error.details == {
        "widget_version_id": "tiny",
        "configured": {"big": "widget/1", "small": "widget-small/2"},
    }


def test_nothing_configured_says_none() -> None:
    empty = VersionMap("Widget", "widget_version_id", "X", "s.py", "w/1", "big", {})
    with pytest.raises(ModelNotFoundError, match=r"\(configured: none\)"):
        empty.model_id(None)


@pytest.fixture
def acme(services: Services, fixture_onnx: Path) -> Services:
    services.registry.create_workspace("acme")
    services.models.add_from_path("acme", "widget/1", fixture_onnx)
    return services


def test_acquire_loads_the_mapped_model(acme: Services) -> None:
    view = VERSIONS.acquire(acme.inference, ACME, None)
    assert view.record.model_id == "widget/1"


def test_acquire_of_an_unregistered_model_says_how_to_add_it(acme: Services) -> None:
    with pytest.raises(ModelNotFoundError) as caught:
        VERSIONS.acquire(acme.inference, ACME, "small")
    error = caught.value
    assert "Widget version 'small' maps to 'widget-small/2'" in error.message
    assert "visionflow models add widget-small/2 <package folder>" in error.message
    assert error.details == {"widget_version_id": "small", "model_id": "widget-small/2"}
