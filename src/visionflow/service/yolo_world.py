"""The open-vocabulary detection use case: version id → YOLO-World package → detections named
by the request's classes.

``yolo_world_version_id`` values (``l``, ``v2-s``, …) map to registered YOLO-World packages
through ``Settings.yolo_world_models`` (``VISIONFLOW_YOLO_WORLD_MODELS``; by default every
reference id maps to ``yolo-world/1``); a ``<project>/<version>`` model id is accepted directly.
Models resolve in the caller's workspaces and load through the ModelManager like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
import supervision as sv

from visionflow.errors import InvalidInputError
from visionflow.models.yolo_world import OpenVocabularyParams, YoloWorldModel, check_class_names
from visionflow.service.auth import Principal
from visionflow.service.images import ImageLoader, ImageRef
from visionflow.service.inference import InferenceService, LoadedModelView
from visionflow.service.versions import VersionMap

__all__ = ["DEFAULT_VERSION", "YoloWorldService"]

# The reference server's default ``yolo_world_version_id``.
DEFAULT_VERSION = "l"


class YoloWorldService:
    """Detections of per-request classes from the package a ``yolo_world_version_id`` names."""

    def __init__(self, inference: InferenceService, images: ImageLoader | None = None) -> None:
        self._inference = inference
        self._images = images
        self._versions = VersionMap(
            family="YOLO-World",
            request_field="yolo_world_version_id",
            setting="VISIONFLOW_YOLO_WORLD_MODELS",
            export_script="scripts/export_yolo_world.py",
            example_model_id="yolo-world-custom/1",
            default=DEFAULT_VERSION,
            versions=dict(inference.settings.yolo_world_models),
        )

    def model_id(self, version: str | None) -> str:
        """The registered model id that ``version`` (or the default version) maps to."""
        return self._versions.model_id(version)

    def acquire(self, principal: Principal, version: str | None) -> LoadedModelView:
        view = self._versions.acquire(self._inference, principal, version)
        if not isinstance(view.model, YoloWorldModel):
            name = self._versions.name(version)
            raise InvalidInputError(
                f"model {self.model_id(version)!r} (yolo_world_version_id {name!r}) is a "
                f"{view.record.task} model, not a YOLO-World (open-vocabulary-detection) model",
                details={"model_task": view.record.task},
            )
        return view

    def _prepared(
        self,
        principal: Principal,
        version: str | None,
        class_names: Sequence[Any],
        params: OpenVocabularyParams | None,
    ) -> tuple[LoadedModelView, YoloWorldModel, OpenVocabularyParams]:
        """The model ``version`` names and the call's parameters, ``class_names`` checked
        against the model's K."""
        view = self.acquire(principal, version)
        assert isinstance(view.model, YoloWorldModel)
        names = check_class_names(class_names, view.model.max_classes)
        return view, view.model, replace(params or OpenVocabularyParams(), class_names=names)

    def detect(
        self,
        principal: Principal,
        version: str | None,
        images_bgr: Sequence[npt.NDArray[np.uint8]],
        class_names: Sequence[Any],
        params: OpenVocabularyParams | None = None,
    ) -> tuple[LoadedModelView, list[sv.Detections]]:
        """One ``sv.Detections`` per image, classes named (and numbered) as in ``class_names``;
        detection settings (confidence, NMS) from ``params``."""
        view, model, call = self._prepared(principal, version, class_names, params)
        return view, model.infer(images_bgr, call)

    def predict(
        self,
        principal: Principal,
        version: str | None,
        refs: Sequence[ImageRef],
        class_names: Sequence[Any],
        params: OpenVocabularyParams | None = None,
    ) -> tuple[LoadedModelView, list[tuple[tuple[int, int], sv.Detections]]]:
        """``detect`` on image declarations: each image's ``(width, height)`` and detections.
        The model and the class list are checked before any image is fetched."""
        if not refs:
            raise InvalidInputError("no image given: send at least one image")
        if self._images is None:
            raise InvalidInputError("this YOLO-World service was built without an image loader")
        budget = self._images.budget(len(refs))  # counted before the model loads
        view, model, call = self._prepared(principal, version, class_names, params)
        images = self._images.load_all(refs, budget)
        results = model.infer(images, call)
        sizes = [(int(image.shape[1]), int(image.shape[0])) for image in images]
        return view, list(zip(sizes, results, strict=True))
