"""``geotag_detection@v1``: box centres projected to GPS positions below a nadir camera (the
expected positions were computed with the reference's projection)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, run, step
from visionflow.workflows.blocks.geotag import pixel_to_gps
from visionflow.workflows.errors import WorkflowError

CAMERA = (47.428681, -105.279125)


@pytest.mark.parametrize(
    ("pixel_xy", "image_wh", "camera", "altitude", "fov", "heading", "expected"),
    [
        pytest.param((320, 240), (640, 480), CAMERA, 69.0, 73.7, 0.0, CAMERA, id="centre"),
        pytest.param(
            (0, 0), (640, 480), CAMERA, 69.0, 73.7, 0.0, (47.4290294, -105.2798117), id="corner"
        ),
        pytest.param(
            (600, 100),
            (640, 480),
            (10.0, 20.0),
            50.0,
            84.0,
            90.0,
            (9.9996461, 20.0001797),
            id="heading-east",
        ),
        pytest.param(
            (100, 400),
            (1000, 500),
            (-33.5, 151.2),
            120.0,
            60.0,
            37.5,
            (-33.499845, 151.19939),
            id="south",
        ),
        pytest.param((5, 5), (10, 10), (1.0, 2.0), 0.0, 73.7, 0.0, (1.0, 2.0), id="on-ground"),
    ],
)
def test_pixel_to_gps(
    pixel_xy: tuple[float, float],
    image_wh: tuple[int, int],
    camera: tuple[float, float],
    altitude: float,
    fov: float,
    heading: float,
    expected: tuple[float, float],
) -> None:
    lat, lon = pixel_to_gps(pixel_xy, image_wh, camera, altitude, fov, heading)
    assert (round(lat, 7), round(lon, 7)) == expected


def _geotag(detections: Any, **fields: Any) -> dict[str, Any]:
    [result] = run(
        [
            step(
                "roboflow_object_detection_model@v2", "det", images="$inputs.image", model_id="m/1"
            ),
            step(
                "geotag_detection@v1",
                "geo",
                image="$inputs.image",
                predictions="$steps.det.predictions",
                **{"latitude": CAMERA[0], "longitude": CAMERA[1], "altitude": 69.0, **fields},
            ),
        ],
        {"records": "$steps.geo.geo_detections", "geojson": "$steps.geo.geojson"},
        {"image": canvas(640, 480)},
        models=_models(detections),
    )
    return result


def _models(detections: Any) -> ScriptedModels:
    return ScriptedModels({"m/1": lambda _: detections})


def test_records_and_geojson() -> None:
    out = _geotag(boxes([[0, 0, 0, 0], [300, 220, 340, 260]], [0.87654, 0.5], [1, 0]))
    assert out["records"] == [
        {
            "class": "b",
            "confidence": 0.8765,
            "lat": 47.4290294,
            "lon": -105.2798117,
            "pixel_x": 0.0,
            "pixel_y": 0.0,
            "width": 0.0,
            "height": 0.0,
        },
        {
            "class": "a",
            "confidence": 0.5,
            "lat": CAMERA[0],
            "lon": CAMERA[1],
            "pixel_x": 320.0,
            "pixel_y": 240.0,
            "width": 40.0,
            "height": 40.0,
        },
    ]
    assert out["geojson"]["type"] == "FeatureCollection"
    assert out["geojson"]["features"][1] == {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [CAMERA[1], CAMERA[0]]},
        "properties": {"class": "a", "confidence": 0.5},
    }


def test_no_detections() -> None:
    out = _geotag(boxes([]))
    assert out == {"records": [], "geojson": {"type": "FeatureCollection", "features": []}}


def test_latitude_is_required() -> None:
    with pytest.raises(WorkflowError, match="latitude"):
        run(
            [
                step(
                    "geotag_detection@v1",
                    "geo",
                    image="$inputs.image",
                    predictions="$inputs.image",
                    longitude=1.0,
                    altitude=1.0,
                )
            ],
            {"x": "$steps.geo.geojson"},
            {"image": canvas()},
        )
