"""``geotag_detection@v1``: each detection's box centre as a GPS position on flat ground below
a camera looking straight down (a drone), as the reference projects it.

The ground footprint is ``2 * altitude * tan(horizontal_fov / 2)`` metres wide (and as tall
as the image's aspect says); a pixel's offset from the image centre, scaled to metres in the
image's right/up axes, is turned by ``heading`` (degrees clockwise from north that image-up
points to) onto east/north and converted to degrees (111 320 m a degree of latitude, times
``cos(latitude)`` for longitude). At ``altitude <= 0`` every detection gets the camera's
position. Outputs: ``geo_detections`` (records of class, confidence, lat, lon and the box in
pixels, rounded as the reference rounds them) and ``geojson`` (a FeatureCollection of Points).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
import supervision as sv
from pydantic import Field

from visionflow.core.detections import CLASS_NAME
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.manifest import (
    FloatSelector,
    ImageSelector,
    Reference,
    StepManifest,
)
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN

__all__ = ["GEOTAG_BLOCKS", "GeoTagDetectionV1", "pixel_to_gps"]

METERS_PER_DEGREE_LAT = 111320.0


def pixel_to_gps(
    pixel_xy: tuple[float, float],
    image_wh: tuple[int, int],
    camera_lat_lon: tuple[float, float],
    altitude_m: float,
    horizontal_fov_deg: float = 73.7,
    heading_deg: float = 0.0,
) -> tuple[float, float]:
    """``(lat, lon)`` in degrees of the ground point seen at ``pixel_xy`` by a nadir pinhole
    camera at ``camera_lat_lon``, ``altitude_m`` above flat ground."""
    lat, lon = camera_lat_lon
    if altitude_m <= 0:
        return lat, lon
    width, height = image_wh
    ground_w = 2 * altitude_m * math.tan(math.radians(horizontal_fov_deg) / 2)
    ground_h = ground_w * (height / width)
    right = (pixel_xy[0] - width / 2) / width * ground_w
    up = -(pixel_xy[1] - height / 2) / height * ground_h
    psi = math.radians(heading_deg)
    east = right * math.cos(psi) + up * math.sin(psi)
    north = -right * math.sin(psi) + up * math.cos(psi)
    meters_per_degree_lon = METERS_PER_DEGREE_LAT * math.cos(math.radians(lat))
    return lat + north / METERS_PER_DEGREE_LAT, lon + east / meters_per_degree_lon


BoxesSelector = Annotated[
    str,
    Field(pattern=DATA_SELECTOR_PATTERN),
    Reference((k.OBJECT_DETECTION_PREDICTION, k.INSTANCE_SEGMENTATION_PREDICTION)),
]


class GeoTagDetectionManifest(StepManifest):
    image: ImageSelector
    predictions: BoxesSelector
    latitude: FloatSelector | float
    longitude: FloatSelector | float
    altitude: FloatSelector | float
    horizontal_fov: FloatSelector | float = 73.7
    heading: FloatSelector | float = 0.0


def _records(
    detections: sv.Detections,
    image_wh: tuple[int, int],
    camera_lat_lon: tuple[float, float],
    altitude_m: float,
    fov_deg: float,
    heading_deg: float,
) -> list[dict[str, Any]]:
    names = detections.data.get(CLASS_NAME, np.array([]))
    confidences = (
        detections.confidence if detections.confidence is not None else np.zeros(len(detections))
    )
    records = []
    for index in range(len(detections)):
        x1, y1, x2, y2 = (float(v) for v in detections.xyxy[index])
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        lat, lon = pixel_to_gps(
            (cx, cy), image_wh, camera_lat_lon, altitude_m, fov_deg, heading_deg
        )
        records.append(
            {
                "class": str(names[index]) if index < len(names) else "unknown",
                "confidence": round(float(confidences[index]), 4),
                "lat": round(lat, 7),
                "lon": round(lon, 7),
                "pixel_x": round(cx, 1),
                "pixel_y": round(cy, 1),
                "width": round(x2 - x1, 1),
                "height": round(y2 - y1, 1),
            }
        )
    return records


class GeoTagDetectionV1(Block):
    """Detections projected to GPS positions from the camera's position, altitude, field of
    view and heading."""

    type = "roboflow_core/geotag_detection@v1"
    manifest = GeoTagDetectionManifest
    outputs = (
        OutputDefinition("geo_detections", (k.LIST_OF_VALUES,)),
        OutputDefinition("geojson", (k.DICTIONARY,)),
    )

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        image = inputs.image("image")
        records = _records(
            inputs.detections("predictions"),
            image.lineage.size_wh,
            (inputs.as_float("latitude"), inputs.as_float("longitude")),
            inputs.as_float("altitude"),
            inputs.as_float("horizontal_fov"),
            inputs.as_float("heading"),
        )
        features = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
                "properties": {"class": r["class"], "confidence": r["confidence"]},
            }
            for r in records
        ]
        return {
            "geo_detections": records,
            "geojson": {"type": "FeatureCollection", "features": features},
        }


GEOTAG_BLOCKS: tuple[type[Block], ...] = (GeoTagDetectionV1,)
