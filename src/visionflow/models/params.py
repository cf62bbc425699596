"""Every task's inference parameters, their defaults, and the one place request values become them.

The defaults are the reference server's (wire reference §8.2), each defined once here: the params
dataclasses' fields default to them and the request schemas (HTTP bodies, workflow block
manifests) name them. Callers — ``/infer/*``, the legacy ``/{project}/{version}`` route, the
workflow model blocks and ``visionflow infer`` — only collect what their request said into a
``ParamValues`` (``None``: not given) and call ``build_params(task, values)``, which picks the
task's params type, fills in the defaults and checks every range.

A model's ``infer`` takes its own task's params type; anything else is a programming error
(``require_params`` raises ``TypeError``; where the call is typed, mypy refuses it first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from visionflow.errors import InvalidInputError

if TYPE_CHECKING:
    from visionflow.core.masks import MaskDecodeMode

__all__ = [
    "DEFAULT_CLASS_AGNOSTIC_NMS",
    "DEFAULT_CONFIDENCE",
    "DEFAULT_IOU_THRESHOLD",
    "DEFAULT_KEYPOINT_CONFIDENCE",
    "DEFAULT_MASK_DECODE_MODE",
    "DEFAULT_MAX_CANDIDATES",
    "DEFAULT_MAX_DETECTIONS",
    "DEFAULT_TRADEOFF_FACTOR",
    "MASK_DECODE_MODES",
    "PARAMS_TYPES",
    "ClassificationParams",
    "DetectionParams",
    "InvalidParamError",
    "KeypointParams",
    "OpenVocabularyParams",
    "ParamValues",
    "ParamsTask",
    "SegmentationParams",
    "SemanticParams",
    "TaskParams",
    "build_params",
    "require_params",
]

# -- defaults (wire reference §8.2) ---------------------------------------------------------------

DEFAULT_CONFIDENCE = 0.4
DEFAULT_IOU_THRESHOLD = 0.3
DEFAULT_CLASS_AGNOSTIC_NMS = False
DEFAULT_MAX_DETECTIONS = 300
DEFAULT_MAX_CANDIDATES = 3000
DEFAULT_KEYPOINT_CONFIDENCE = 0.0
DEFAULT_MASK_DECODE_MODE: MaskDecodeMode = "accurate"
DEFAULT_TRADEOFF_FACTOR = 0.0
MASK_DECODE_MODES: tuple[MaskDecodeMode, ...] = ("accurate", "fast", "tradeoff")


class InvalidParamError(InvalidInputError):
    """A parameter outside its range (a 400); ``param`` names it, so that a workflow step can
    report the error on its field."""

    def __init__(self, message: str, *, param: str = "") -> None:
        super().__init__(message)
        self.param = param


def _fraction(name: str, value: float) -> None:
    # Written so that NaN is outside too.
    if not 0.0 <= value <= 1.0:
        raise InvalidParamError(f"{name} must be within [0, 1], got {value}", param=name)


def _count(name: str, value: int) -> None:
    if value < 0:
        raise InvalidParamError(f"{name} must be >= 0, got {value}", param=name)


# -- one params type per task ---------------------------------------------------------------------


@dataclass(frozen=True)
class DetectionParams:
    """Object detection: keep scores above ``confidence``, NMS at ``iou_threshold`` (per class
    unless ``class_agnostic_nms``) over at most ``max_candidates`` boxes, then the first
    ``max_detections``; ``class_filter`` keeps only the named classes."""

    confidence: float = DEFAULT_CONFIDENCE
    iou_threshold: float = DEFAULT_IOU_THRESHOLD
    class_agnostic_nms: bool = DEFAULT_CLASS_AGNOSTIC_NMS
    max_detections: int = DEFAULT_MAX_DETECTIONS
    max_candidates: int = DEFAULT_MAX_CANDIDATES
    class_filter: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        _fraction("confidence", self.confidence)
        _fraction("iou_threshold", self.iou_threshold)
        _count("max_detections", self.max_detections)
        _count("max_candidates", self.max_candidates)


@dataclass(frozen=True)
class SegmentationParams(DetectionParams):
    """Instance segmentation: detection's parameters plus how masks are decoded.
    ``mask_decode_mode``/``tradeoff_factor`` apply only with ``allow_reduced_mask_resolution``,
    as on the reference: otherwise masks are decoded at the image's resolution."""

    mask_decode_mode: MaskDecodeMode = DEFAULT_MASK_DECODE_MODE
    tradeoff_factor: float = DEFAULT_TRADEOFF_FACTOR
    allow_reduced_mask_resolution: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mask_decode_mode not in MASK_DECODE_MODES:
            raise InvalidParamError(
                f"mask_decode_mode={self.mask_decode_mode!r} is not supported; use "
                f"{', '.join(MASK_DECODE_MODES[:-1])} or {MASK_DECODE_MODES[-1]}",
                param="mask_decode_mode",
            )
        _fraction("tradeoff_factor", self.tradeoff_factor)

    @property
    def resolution_factor(self) -> float:
        """Where between the prototype grid (0) and the image (1) masks are decoded."""
        if not self.allow_reduced_mask_resolution:
            return 1.0
        # Imported here: this module stays free of numpy and OpenCV (the CLI reads its
        # defaults for --help); the models that decode masks have loaded core.masks already.
        from visionflow.core.masks import mask_resolution_factor

        return mask_resolution_factor(self.mask_decode_mode, self.tradeoff_factor)


@dataclass(frozen=True)
class KeypointParams(DetectionParams):
    """Keypoint detection: detection's parameters plus ``keypoint_confidence``, the threshold
    under which keypoints are not reported. The model returns every keypoint: the threshold is
    applied where results are written (the wire body, a workflow step's output), as the
    reference's HTTP path never passes it to the model."""

    keypoint_confidence: float = DEFAULT_KEYPOINT_CONFIDENCE

    def __post_init__(self) -> None:
        super().__post_init__()
        _fraction("keypoint_confidence", self.keypoint_confidence)


@dataclass(frozen=True, kw_only=True)
class OpenVocabularyParams(DetectionParams):
    """Open-vocabulary (YOLO-World) detection: detection's parameters plus the class names of
    this call (hashable, so workflow blocks can group calls by parameters)."""

    class_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClassificationParams:
    """Classification: the model returns every class's score; ``confidence`` selects the
    predicted classes where results are written."""

    confidence: float = DEFAULT_CONFIDENCE

    def __post_init__(self) -> None:
        _fraction("confidence", self.confidence)


@dataclass(frozen=True)
class SemanticParams:
    """Semantic segmentation: pixels whose confidence is under ``confidence`` become the
    background class with confidence 0 (0 keeps every pixel's class)."""

    confidence: float = DEFAULT_CONFIDENCE

    def __post_init__(self) -> None:
        _fraction("confidence", self.confidence)


TaskParams = (
    DetectionParams
    | SegmentationParams
    | KeypointParams
    | OpenVocabularyParams
    | ClassificationParams
    | SemanticParams
)
ParamsTask = Literal[
    "object-detection",
    "instance-segmentation",
    "keypoint-detection",
    "open-vocabulary-detection",
    "classification",
    "semantic-segmentation",
]
PARAMS_TYPES: dict[str, type[TaskParams]] = {
    "object-detection": DetectionParams,
    "instance-segmentation": SegmentationParams,
    "keypoint-detection": KeypointParams,
    "open-vocabulary-detection": OpenVocabularyParams,
    "classification": ClassificationParams,
    "semantic-segmentation": SemanticParams,
}


# -- the one builder ------------------------------------------------------------------------------


_SEQUENCES = ("class_filter", "class_names")


@dataclass(frozen=True)
class ParamValues:
    """What a request said, field by field, in 0..1 units (the legacy route converts its
    percent form first); ``None`` means not given, so the default applies. Values the task has
    no use for are ignored, as the reference ignores them."""

    confidence: float | None = None
    iou_threshold: float | None = None
    class_agnostic_nms: bool | None = None
    max_detections: int | None = None
    max_candidates: int | None = None
    class_filter: Sequence[str] | None = None
    mask_decode_mode: str | None = None
    tradeoff_factor: float | None = None
    allow_reduced_mask_resolution: bool | None = None
    keypoint_confidence: float | None = None
    class_names: Sequence[str] | None = None

    def given(self) -> dict[str, Any]:
        """The fields that were given, sequences as tuples (params are hashable)."""
        values: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is not None:
                values[item.name] = tuple(value) if item.name in _SEQUENCES else value
        return values


@overload
def build_params(
    task: Literal["object-detection"], values: ParamValues = ...
) -> DetectionParams: ...
@overload
def build_params(
    task: Literal["instance-segmentation"], values: ParamValues = ...
) -> SegmentationParams: ...
@overload
def build_params(
    task: Literal["keypoint-detection"], values: ParamValues = ...
) -> KeypointParams: ...
@overload
def build_params(
    task: Literal["open-vocabulary-detection"], values: ParamValues = ...
) -> OpenVocabularyParams: ...
@overload
def build_params(
    task: Literal["classification"], values: ParamValues = ...
) -> ClassificationParams: ...
@overload
def build_params(
    task: Literal["semantic-segmentation"], values: ParamValues = ...
) -> SemanticParams: ...
@overload
def build_params(task: str, values: ParamValues = ...) -> TaskParams: ...
def build_params(task: str, values: ParamValues = ParamValues()) -> TaskParams:
    """The params of a ``task`` model from what the request gave; out-of-range values are a
    400 (``InvalidParamError``) naming the parameter, and a task without params here (CLIP
    embeddings, OCR) is a 400 too."""
    cls = PARAMS_TYPES.get(task)
    if cls is None:
        raise InvalidInputError(
            f"{task} models take no inference parameters here: call the route of their own "
            f"(these tasks have parameters: {', '.join(PARAMS_TYPES)})",
            details={"model_task": task},
        )
    wanted = {item.name for item in fields(cls)}
    return cls(**{name: value for name, value in values.given().items() if name in wanted})


P = TypeVar("P")


def require_params(params: object, expected: type[P], model: str) -> P:
    """``params`` when it is an ``expected``; any other type is a programming error (the caller
    built the params of another task, or none): ``TypeError``, never a silent default."""
    if not isinstance(params, expected):
        raise TypeError(
            f"{model}.infer takes {expected.__name__}, got {type(params).__name__}: build "
            "params with visionflow.models.params.build_params(task, values)"
        )
    return params
