"""Reference blocks visionflow does not run, and why: the compiler names them (and their
aliases) instead of answering "unknown block type".

Two reasons: the block runs a model whose weights nobody ships in a form visionflow's ONNX
runtime loads (SAM 2/3, Florence-2, Moondream, local Qwen-VL, depth, gaze...), or it talks to
the Roboflow platform (datasets, metadata, monitoring, vision events, visual search). One more
drives hardware (an ONVIF PTZ camera). Every other ``roboflow_core`` block of inference 1.8.3 is
registered (a test checks the two sets cover the reference's ids).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from visionflow.workflows.registry import BlockRegistry

__all__ = [
    "UNSUPPORTED_BLOCKS",
    "Unsupported",
    "unknown_block_details",
    "unsupported_block",
    "unsupported_details",
]


@dataclass(frozen=True)
class Unsupported:
    """A reference block visionflow does not run: its display ``name``, ``aliases`` and why."""

    name: str
    reason: str
    aliases: tuple[str, ...] = ()


def _model(name: str, model: str, aliases: tuple[str, ...] = ()) -> Unsupported:
    reason = (
        f"needs a model visionflow does not have ({model}: its weights are not shipped in a "
        "form visionflow runs)"
    )
    return Unsupported(name, reason, aliases)


def _platform(name: str, what: str, aliases: tuple[str, ...] = ()) -> Unsupported:
    return Unsupported(name, f"needs the Roboflow platform ({what})", aliases)


_SAM2 = "Segment Anything 2"
_SAM3 = "SAM 3"
_QWEN = "a local Qwen-VL; the hosted Qwen blocks through OpenRouter run here"
_DATASET = "it uploads images and annotations to a Roboflow dataset"

UNSUPPORTED_BLOCKS = MappingProxyType(
    {
        "roboflow_core/anomaly_detection_model@v1": _model(
            "Anomaly Detection Model", "anomaly detection models"
        ),
        "roboflow_core/anomaly_heatmap_visualization@v1": Unsupported(
            "Anomaly Heatmap Visualization",
            "draws the anomaly map of roboflow_core/anomaly_detection_model@v1, which needs a "
            "model visionflow does not have",
        ),
        "roboflow_core/cog_vlm@v1": _model("CogVLM", "CogVLM", ("CogVLM",)),
        "roboflow_core/cosmos3_edge@v1": _model("Cosmos 3", "NVIDIA Cosmos 3"),
        "roboflow_core/depth_estimation@v1": _model("Depth Estimation", "Depth Anything"),
        "roboflow_core/florence_2@v1": _model("Florence-2 Model", "Florence-2"),
        "roboflow_core/florence_2@v2": _model("Florence-2 Model", "Florence-2"),
        "roboflow_core/gaze@v1": _model("Gaze Detection", "L2CS-Net gaze"),
        "roboflow_core/glm_ocr@v1": _model("GLM-OCR", "GLM-OCR"),
        "roboflow_core/moondream2@v1": _model("Moondream2", "Moondream 2"),
        "roboflow_core/perception_encoder@v1": _model(
            "Perception Encoder Embedding Model", "Meta Perception Encoder"
        ),
        "roboflow_core/qwen25vl@v1": _model("Qwen2.5-VL", _QWEN),
        "roboflow_core/qwen3vl@v1": _model("Qwen3-VL", _QWEN),
        "roboflow_core/qwen3_5vl@v1": _model("Qwen3.5-VL", _QWEN),
        "roboflow_core/qwen3_5vl@v2": _model("Qwen3.5", _QWEN),
        "roboflow_core/roboflow_action_recognition_model@v1": _model(
            "Action Recognition Model", "action recognition models"
        ),
        "roboflow_core/sam3@v1": _model(_SAM3, _SAM3),
        "roboflow_core/sam3@v2": _model(_SAM3, _SAM3),
        "roboflow_core/sam3@v3": _model(_SAM3, _SAM3),
        "roboflow_core/sam3_interactive@v1": _model("SAM 3 Interactive", _SAM3),
        "roboflow_core/sam3_video@v1": _model("SAM3 Video Tracker", _SAM3),
        "roboflow_core/segment_anything@v1": _model("Segment Anything 2 Model", _SAM2),
        "roboflow_core/segment_anything_2_video@v1": _model("SAM2 Video Tracker", _SAM2),
        "roboflow_core/smolvlm2@v1": _model("SmolVLM2", "SmolVLM2"),
        "roboflow_core/seg-preview@v1": _platform(
            "Seg Preview", "it calls Roboflow's hosted seg-preview model"
        ),
        "roboflow_core/asset_library_attributes@v1": _platform(
            "Roboflow Asset Library Attributes", "it writes attributes to a Roboflow asset library"
        ),
        "roboflow_core/model_monitoring_inference_aggregator@v1": _platform(
            "Model Monitoring Inference Aggregator", "it reports to Roboflow model monitoring"
        ),
        "roboflow_core/roboflow_custom_metadata@v1": _platform(
            "Roboflow Custom Metadata",
            "it attaches metadata to inferences stored by Roboflow model monitoring",
            ("RoboflowCustomMetadata",),
        ),
        "roboflow_core/roboflow_dataset_upload@v1": _platform(
            "Roboflow Dataset Upload", _DATASET, ("RoboflowDatasetUpload",)
        ),
        "roboflow_core/roboflow_dataset_upload@v2": _platform("Roboflow Dataset Upload", _DATASET),
        "roboflow_core/roboflow_vision_events@v1": _platform(
            "Roboflow Vision Events", "it sends events to the Roboflow Vision Events API"
        ),
        "roboflow_core/vision_event_bundle@v1": _platform(
            "Write Vision Event Bundle",
            "it writes bundles for Roboflow's Vision Events ingest, in that API's contract",
        ),
        "roboflow_core/visual_search@v1": _platform(
            "Roboflow Visual Search", "it searches the images of a Roboflow project"
        ),
        "roboflow_core/visual_search_classifier@v1": _platform(
            "Roboflow Visual Search Classifier", "it searches the images of a Roboflow project"
        ),
        "roboflow_core/onvif_sink@v1": Unsupported(
            "PTZ Tracking (ONVIF)",
            "drives an ONVIF PTZ camera, and visionflow ships no ONVIF client",
        ),
    }
)
_BY_ALIAS = {alias: type_id for type_id, b in UNSUPPORTED_BLOCKS.items() for alias in b.aliases}


def unsupported_block(block_type: str) -> tuple[str, Unsupported] | None:
    """``(type id, why)`` when ``block_type`` (a type id or an alias) is a reference block
    visionflow does not run; ``None`` otherwise."""
    type_id = _BY_ALIAS.get(block_type, block_type)
    found = UNSUPPORTED_BLOCKS.get(type_id)
    return None if found is None else (type_id, found)


def unsupported_details(block_type: str) -> str | None:
    """The compile error's details for such a block, naming it, its aliases and the reason."""
    hit = unsupported_block(block_type)
    if hit is None:
        return None
    type_id, found = hit
    if block_type == type_id:
        aliases = "".join(f"; alias {a!r}" for a in found.aliases)
        named = f"{type_id!r} ({found.name}{aliases})"
    else:
        named = f"{block_type!r} ({found.name}; {type_id})"
    return f"block type {named} is a reference block visionflow does not run: it {found.reason}"


def unknown_block_details(block_type: object, registry: BlockRegistry) -> str:
    """Why a step's ``type`` names no registered block: a reference block visionflow does not
    run (and why), or an unknown name with the registered names close to it."""
    if isinstance(block_type, str):
        known = unsupported_details(block_type)
        if known is not None:
            return known
    close = registry.suggestions(block_type) if isinstance(block_type, str) else []
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown block type {block_type!r}.{hint}"
