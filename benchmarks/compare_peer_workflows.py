"""Dev-only: do visionflow and the real Roboflow ``inference`` server run the same WORKFLOW
definitions the same way?

Not a test and never run in CI: it needs the reference server from ``../shared/peer`` (a ~9 GB
virtualenv) running next to a visionflow server, both prepared with ``compare_peer.py prepare``
(the shapes demo detector under ``shapes-det/1`` and ``shapes-det-stretch/1`` on both sides).
See ``benchmarks/PEER.md`` ("Workflows") for the recipe.

Every case is an inline definition posted to ``POST /workflows/run`` of both servers with the same
``inputs`` (the same encoded image bytes). The two ``outputs`` are diffed recursively:

* missing / extra keys, type differences (``int`` vs ``float`` included), list lengths;
* numbers: box fields (``x``, ``y``, ``width``, ``height``, offsets) within ``--tol-px`` (0),
  ``confidence`` within ``--tol-conf`` (1e-4), any other float within ``--tol-float`` (1e-6,
  relative or absolute), ints and strings exactly;
* values that are random per request on both sides (``inference_id``, ``detection_id``,
  ``parent_id``/``root_parent_id`` of crops, ``time``): only "both are UUIDs" / "both are
  numbers" is checked;
* images (``{"type": "base64", "value": ...}``): decoded, same size, and at most
  ``--pixel-frac`` of the pixels may differ by more than ``--pixel-tol`` (JPEG encoders of two
  OpenCV builds); a case may compare images by size only, with its reason printed.

Error cases post the same invalid definition to both and compare the HTTP status and the
body's ``error_type``.

    .venv/bin/python benchmarks/compare_peer_workflows.py list
    .venv/bin/python benchmarks/compare_peer_workflows.py run \\
        --peer http://127.0.0.1:9001 --ours http://127.0.0.1:9011 --save /tmp/cmp-wf -v
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_peer import Server, TestImage, encode, shapes

DETECTOR_ID = "shapes-det/1"
DETECTOR2_ID = "shapes-det-stretch/1"

BOX_KEYS = frozenset(
    {"x", "y", "width", "height", "offset_x", "offset_y", "x_min", "y_min", "x_max", "y_max"}
)
CONF_KEYS = frozenset({"confidence", "presence_confidence", "top_class_confidence"})
RANDOM_ID_KEYS = frozenset(
    {"inference_id", "detection_id", "parent_id", "root_parent_id", "video_identifier"}
)
TIMING_KEYS = frozenset({"time"})
# A random id, optionally prefixed by the step that minted it ("image_slicer.<uuid4>").
UUID_RE = re.compile(
    r"^(?P<prefix>[\w\-]+\.)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
# Wall-clock timestamps inside strings (csv_formatter's ``timestamp`` column).
ISO_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)?")


# --------------------------------------------------------------------------- images


def _png(image: np.ndarray) -> bytes:
    return encode(image, "png", 0)


def _ean13_image(digits: str) -> np.ndarray:
    """A plain EAN-13 barcode (12 digits + computed check digit), 3 px per module, grey-free."""
    left_l = ["0001101", "0011001", "0010011", "0111101", "0100011"]
    left_l += ["0110001", "0101111", "0111011", "0110111", "0001011"]
    right = ["".join("1" if b == "0" else "0" for b in code) for code in left_l]
    left_g = [code[::-1] for code in right]
    parity = ["LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG"]
    parity += ["LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL"]
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits[:12]))
    code = digits[:12] + str((10 - total % 10) % 10)
    first, left, rest = int(code[0]), code[1:7], code[7:]
    bits = "101"
    for d, p in zip(left, parity[first], strict=True):
        bits += (left_l if p == "L" else left_g)[int(d)]
    bits += "01010"
    bits += "".join(right[int(d)] for d in rest)
    bits += "101"
    module = 3
    quiet = 12 * module
    width = len(bits) * module + 2 * quiet
    image = np.full((160, width), 255, np.uint8)
    for i, b in enumerate(bits):
        if b == "1":
            image[20:140, quiet + i * module : quiet + (i + 1) * module] = 0
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)


def _qr_image(text: str) -> np.ndarray:
    code = cv2.QRCodeEncoder.create().encode(text)
    big = cv2.resize(code, None, fx=6, fy=6, interpolation=cv2.INTER_NEAREST)
    image = np.full((320, 400), 255, np.uint8)
    image[30 : 30 + big.shape[0], 60 : 60 + big.shape[1]] = big
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)


def build_images(seed: int) -> dict[str, TestImage]:
    """The named images the cases use; the same bytes go to both servers."""
    out: dict[str, TestImage] = {}
    for name, size in (("shapes", (640, 480)), ("shapes2", (517, 333)), ("big", (1279, 719))):
        sample = shapes.generate(seed, 1, size)[0]
        out[name] = TestImage(name, size[0], size[1], encode(sample.image_bgr, "jpeg", 90))
    # Template matching: the image and a patch cut from its decoded pixels, both lossless.
    sample = shapes.generate(seed + 1, 1, (640, 480))[0]
    out["tm_image"] = TestImage("tm_image", 640, 480, _png(sample.image_bgr))
    patch = sample.image_bgr[150:230, 200:300]
    out["tm_template"] = TestImage("tm_template", 100, 80, _png(patch))
    blank = np.full((480, 640, 3), 128, np.uint8)
    out["blank"] = TestImage("blank", 640, 480, encode(blank, "jpeg", 90))
    qr = _qr_image("visionflow-peer")
    out["qr"] = TestImage("qr", qr.shape[1], qr.shape[0], _png(qr))
    bar = _ean13_image("400638133393")
    out["barcode"] = TestImage("barcode", bar.shape[1], bar.shape[0], _png(bar))
    return out


def image_value(im: TestImage) -> dict[str, str]:
    return {"type": "base64", "value": im.b64}


# --------------------------------------------------------------------------- definitions


def step(block: str, name: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": block if "/" in block or "@" not in block else f"roboflow_core/{block}",
        "name": name,
        **fields,
    }


def det(
    name: str = "det",
    images: str = "$inputs.image",
    model: str = DETECTOR_ID,
    block: str = "roboflow_object_detection_model@v2",
    **extra: Any,
) -> dict[str, Any]:
    return step(block, name, images=images, model_id=model, confidence=0.25, **extra)


def outputs(**selectors: str | tuple[str, str]) -> list[dict[str, Any]]:
    """``name=selector`` or ``name=(selector, coordinates_system)``."""
    out = []
    for name, sel in selectors.items():
        if isinstance(sel, tuple):
            out.append(
                {
                    "type": "JsonField",
                    "name": name,
                    "selector": sel[0],
                    "coordinates_system": sel[1],
                }
            )
        else:
            out.append({"type": "JsonField", "name": name, "selector": sel})
    return out


IMAGE_INPUT = {"type": "WorkflowImage", "name": "image"}


def wf(
    steps: list[dict[str, Any]],
    outs: list[dict[str, Any]],
    inputs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {"version": "1.0", "inputs": inputs or [IMAGE_INPUT], "steps": steps, "outputs": outs}


def stmt(left: dict[str, Any], comparator: str, right: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "BinaryStatement",
        "left_operand": left,
        "comparator": {"type": comparator},
        "right_operand": right,
    }


def dyn(name: str, *ops: dict[str, Any]) -> dict[str, Any]:
    return {"type": "DynamicOperand", "operand_name": name, "operations": list(ops)}


def static(value: Any) -> dict[str, Any]:
    return {"type": "StaticOperand", "value": value}


def group(*statements: dict[str, Any], operator: str = "and") -> dict[str, Any]:
    return {"type": "StatementGroup", "operator": operator, "statements": list(statements)}


def prop(name: str) -> dict[str, Any]:
    return {"type": "DetectionsPropertyExtract", "property_name": name}


def det_filter(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"type": "DetectionsFilter", "filter_operation": group(*statements)}


COUNT = {"type": "SequenceLength"}
CONF_OVER_HALF = stmt(
    dyn("_", {"type": "ExtractDetectionProperty", "property_name": "confidence"}),
    "(Number) >",
    static(0.5),
)
CLASS_IN = stmt(
    dyn("_", {"type": "ExtractDetectionProperty", "property_name": "class_name"}),
    "in (Sequence)",
    static(["circle", "square"]),
)


@dataclass
class Case:
    name: str
    definition: dict[str, Any]
    images: dict[str, str | list[str]] = field(default_factory=lambda: {"image": "shapes"})
    parameters: dict[str, Any] = field(default_factory=dict)
    excluded_fields: list[str] | None = None
    size_only: str = ""  # non-empty: compare images by size only, for this reason
    expect_error: bool = False
    note: str = ""


def _gate(threshold: int) -> list[dict[str, Any]]:
    return [
        det(),
        step(
            "continue_if@v1",
            "gate",
            condition_statement=group(stmt(dyn("found", COUNT), "(Number) >=", static(threshold))),
            evaluation_parameters={"found": "$steps.det.predictions"},
            next_steps=["$steps.viz", "$steps.names"],
        ),
        step(
            "bounding_box_visualization@v1",
            "viz",
            image="$inputs.image",
            predictions="$steps.det.predictions",
        ),
        step(
            "property_definition@v1",
            "names",
            data="$steps.det.predictions",
            operations=[prop("class_name")],
        ),
        step(
            "first_non_empty_or_default@v1",
            "first",
            data=["$steps.names.output"],
            default="gate closed",
        ),
    ]


def _gate_outputs() -> list[dict[str, Any]]:
    return outputs(viz="$steps.viz.image", names="$steps.names.output", first="$steps.first.output")


def _viz(block: str, **extra: Any) -> dict[str, Any]:
    return wf(
        [
            det(),
            step(
                block, "viz", image="$inputs.image", predictions="$steps.det.predictions", **extra
            ),
        ],
        outputs(image="$steps.viz.image"),
    )


def _cv(block: str, outs: dict[str, str], **extra: Any) -> dict[str, Any]:
    return wf(
        [step(block, "cv", image="$inputs.image", **extra)],
        outputs(**{k: f"$steps.cv.{v}" for k, v in outs.items()}),
    )


def cases() -> list[Case]:
    c: list[Case] = []
    add = c.append
    # ---- detection and detections transformations
    add(
        Case(
            "detect_v2",
            wf(
                [det()],
                outputs(predictions="$steps.det.predictions", model_id="$steps.det.model_id"),
            ),
        )
    )
    add(
        Case(
            "detect_nothing_found",
            wf([det()], outputs(predictions="$steps.det.predictions")),
            images={"image": "blank"},
        )
    )
    add(Case("input_image_passthrough", wf([], outputs(image="$inputs.image"))))
    add(
        Case(
            "detect_v1_alias_wildcard",
            wf([det(block="ObjectDetectionModel")], outputs(all="$steps.det.*")),
        )
    )
    add(
        Case(
            "detect_v3_params",
            wf(
                [
                    det(
                        block="roboflow_object_detection_model@v3",
                        class_filter=["circle", "triangle"],
                        iou_threshold=0.5,
                        max_detections=2,
                    )
                ],
                outputs(predictions="$steps.det.predictions"),
            ),
        )
    )
    add(
        Case(
            "detections_filter",
            wf(
                [
                    det(),
                    step(
                        "detections_filter@v1",
                        "f",
                        predictions="$steps.det.predictions",
                        operations=[det_filter(CONF_OVER_HALF, CLASS_IN)],
                    ),
                ],
                outputs(predictions="$steps.f.predictions"),
            ),
        )
    )
    add(
        Case(
            "detections_filter_param",
            wf(
                [
                    det(),
                    step(
                        "detections_filter@v1",
                        "f",
                        predictions="$steps.det.predictions",
                        operations=[
                            det_filter(
                                stmt(
                                    dyn(
                                        "_",
                                        {
                                            "type": "ExtractDetectionProperty",
                                            "property_name": "class_name",
                                        },
                                    ),
                                    "==",
                                    dyn("wanted"),
                                )
                            )
                        ],
                        operations_parameters={"wanted": "$inputs.wanted"},
                    ),
                ],
                outputs(predictions="$steps.f.predictions"),
                inputs=[
                    IMAGE_INPUT,
                    {"type": "WorkflowParameter", "name": "wanted", "default_value": "square"},
                ],
            ),
            parameters={"wanted": "circle"},
        )
    )
    add(
        Case(
            "detections_transformation",
            wf(
                [
                    det(),
                    step(
                        "detections_transformation@v1",
                        "t",
                        predictions="$steps.det.predictions",
                        operations=[
                            det_filter(CONF_OVER_HALF),
                            {"type": "SortDetections", "mode": "x_min", "ascending": True},
                            {"type": "DetectionsOffset", "offset_x": 10, "offset_y": 6},
                            {"type": "DetectionsShift", "shift_x": 5, "shift_y": -3},
                            {
                                "type": "DetectionsRename",
                                "class_map": {"circle": "disc"},
                                "strict": False,
                            },
                        ],
                    ),
                ],
                outputs(predictions="$steps.t.predictions"),
            ),
        )
    )
    add(
        Case(
            "detection_offset_px_and_percent",
            wf(
                [
                    det(),
                    step(
                        "detection_offset@v1",
                        "px",
                        predictions="$steps.det.predictions",
                        offset_width=20,
                        offset_height=11,
                    ),
                    step(
                        "detection_offset@v1",
                        "pct",
                        predictions="$steps.det.predictions",
                        offset_width=10,
                        offset_height=25,
                        units="Percent (%)",
                    ),
                ],
                outputs(px="$steps.px.predictions", pct="$steps.pct.predictions"),
            ),
        )
    )
    add(
        Case(
            "dynamic_crop_nested",
            wf(
                [
                    det(),
                    step(
                        "dynamic_crop@v1",
                        "crop",
                        images="$inputs.image",
                        predictions="$steps.det.predictions",
                    ),
                    det("det2", images="$steps.crop.crops"),
                ],
                outputs(
                    crops="$steps.crop.crops",
                    crop_predictions="$steps.crop.predictions",
                    own=("$steps.det2.predictions", "own"),
                    parent=("$steps.det2.predictions", "parent"),
                ),
            ),
        )
    )
    add(
        Case(
            "dynamic_crop_mask_bg",
            wf(
                [
                    det(),
                    step(
                        "dynamic_crop@v1",
                        "crop",
                        images="$inputs.image",
                        predictions="$steps.det.predictions",
                        mask_opacity=0.5,
                        background_color="#00FF00",
                    ),
                ],
                outputs(crops="$steps.crop.crops"),
            ),
        )
    )
    add(
        Case(
            "property_definition",
            wf(
                [
                    det(),
                    step(
                        "property_definition@v1",
                        "count",
                        data="$steps.det.predictions",
                        operations=[COUNT],
                    ),
                    step(
                        "property_definition@v1",
                        "names",
                        data="$steps.det.predictions",
                        operations=[prop("class_name")],
                    ),
                    step(
                        "property_definition@v1",
                        "common",
                        data="$steps.det.predictions",
                        operations=[
                            prop("class_name"),
                            {"type": "SequenceAggregate", "mode": "most_common"},
                        ],
                    ),
                    step(
                        "property_definition@v1",
                        "maxconf",
                        data="$steps.det.predictions",
                        operations=[
                            prop("confidence"),
                            {"type": "NumericSequenceAggregate", "function": "max"},
                        ],
                    ),
                    step(
                        "property_definition@v1",
                        "centers",
                        data="$steps.det.predictions",
                        operations=[prop("center")],
                    ),
                    step(
                        "property_definition@v1",
                        "width",
                        data="$inputs.image",
                        operations=[{"type": "ExtractImageProperty", "property_name": "width"}],
                    ),
                    step(
                        "property_definition@v1",
                        "joined",
                        data="$steps.det.predictions",
                        operations=[
                            prop("class_name"),
                            {"type": "SequenceJoin", "separator": ","},
                            {"type": "StringToUpperCase"},
                        ],
                    ),
                ],
                outputs(
                    count="$steps.count.output",
                    names="$steps.names.output",
                    common="$steps.common.output",
                    maxconf="$steps.maxconf.output",
                    centers="$steps.centers.output",
                    width="$steps.width.output",
                    joined="$steps.joined.output",
                ),
            ),
        )
    )
    add(
        Case(
            "expression_switch",
            wf(
                [
                    det(),
                    step(
                        "expression@v1",
                        "expr",
                        data={"preds": "$steps.det.predictions"},
                        data_operations={"preds": [COUNT]},
                        switch={
                            "type": "CasesDefinition",
                            "cases": [
                                {
                                    "type": "CaseDefinition",
                                    "condition": group(
                                        stmt(dyn("preds"), "(Number) >=", static(3))
                                    ),
                                    "result": {"type": "StaticCaseResult", "value": "many"},
                                }
                            ],
                            "default": {"type": "DynamicCaseResult", "parameter_name": "preds"},
                        },
                    ),
                ],
                outputs(result="$steps.expr.output"),
            ),
        )
    )
    add(Case("continue_if_taken", wf(_gate(1), _gate_outputs())))
    add(Case("continue_if_not_taken", wf(_gate(100), _gate_outputs())))
    add(
        Case(
            "dimension_collapse",
            wf(
                [
                    det(),
                    step(
                        "dynamic_crop@v1",
                        "crop",
                        images="$inputs.image",
                        predictions="$steps.det.predictions",
                    ),
                    det("det2", images="$steps.crop.crops"),
                    step(
                        "property_definition@v1",
                        "n",
                        data="$steps.det2.predictions",
                        operations=[COUNT],
                    ),
                    step("dimension_collapse@v1", "collapse", data="$steps.n.output"),
                ],
                outputs(per_crop="$steps.n.output", collapsed="$steps.collapse.output"),
            ),
        )
    )
    add(
        Case(
            "detections_consensus_two_detectors",
            wf(
                [
                    det("a"),
                    det("b", model=DETECTOR2_ID),
                    step(
                        "detections_consensus@v1",
                        "vote",
                        predictions_batches=["$steps.a.predictions", "$steps.b.predictions"],
                        required_votes=2,
                    ),
                ],
                outputs(
                    predictions="$steps.vote.predictions",
                    present="$steps.vote.object_present",
                    presence="$steps.vote.presence_confidence",
                ),
            ),
        )
    )
    add(
        Case(
            "image_slicer_stitch",
            wf(
                [
                    step(
                        "image_slicer@v1",
                        "slicer",
                        image="$inputs.image",
                        slice_width=640,
                        slice_height=480,
                        overlap_ratio_width=0.2,
                        overlap_ratio_height=0.2,
                    ),
                    det("det", images="$steps.slicer.slices"),
                    step(
                        "detections_stitch@v1",
                        "stitch",
                        reference_image="$inputs.image",
                        predictions="$steps.det.predictions",
                        overlap_filtering_strategy="nms",
                        iou_threshold=0.3,
                    ),
                ],
                outputs(predictions="$steps.stitch.predictions"),
            ),
            images={"image": "big"},
        )
    )
    add(
        Case(
            "image_slicer_v2_slices",
            wf(
                [
                    step(
                        "image_slicer@v2",
                        "slicer",
                        image="$inputs.image",
                        slice_width=512,
                        slice_height=400,
                        overlap_ratio_width=0.1,
                        overlap_ratio_height=0.1,
                    )
                ],
                outputs(slices="$steps.slicer.slices"),
            ),
            images={"image": "big"},
        )
    )
    # ---- classical CV
    add(Case("convert_grayscale", _cv("convert_grayscale@v1", {"image": "image"})))
    for blur in ("gaussian", "average", "median", "bilateral"):
        add(
            Case(
                f"image_blur_{blur}",
                _cv("image_blur@v1", {"image": "image"}, blur_type=blur, kernel_size=7),
            )
        )
    add(
        Case(
            "threshold_contours",
            wf(
                [
                    step("convert_grayscale@v1", "gray", image="$inputs.image"),
                    step(
                        "threshold@v1",
                        "thr",
                        image="$steps.gray.image",
                        threshold_type="binary",
                        thresh_value=127,
                    ),
                    step(
                        "threshold@v1",
                        "otsu",
                        image="$steps.gray.image",
                        threshold_type="otsu",
                        thresh_value=0,
                    ),
                    step(
                        "contours_detection@v1", "cont", image="$steps.thr.image", line_thickness=2
                    ),
                ],
                outputs(
                    thr="$steps.thr.image",
                    otsu="$steps.otsu.image",
                    contours_image="$steps.cont.image",
                    contours="$steps.cont.contours",
                    hierarchy="$steps.cont.hierarchy",
                    number="$steps.cont.number_contours",
                ),
            ),
        )
    )
    add(
        Case(
            "dominant_color_pixel_count",
            wf(
                [
                    step("dominant_color@v1", "dom", image="$inputs.image"),
                    step(
                        "pixel_color_count@v1",
                        "count",
                        image="$inputs.image",
                        target_color="$steps.dom.rgb_color",
                        tolerance=10,
                    ),
                    step(
                        "pixel_color_count@v1",
                        "hex",
                        image="$inputs.image",
                        target_color="#FFFFFF",
                        tolerance=30,
                    ),
                ],
                outputs(
                    rgb="$steps.dom.rgb_color",
                    count="$steps.count.matching_pixels_count",
                    hex="$steps.hex.matching_pixels_count",
                ),
            ),
        )
    )
    add(
        Case(
            "template_matching",
            wf(
                [
                    step(
                        "template_matching@v1",
                        "tm",
                        image="$inputs.image",
                        template="$inputs.template",
                        matching_threshold=0.8,
                    )
                ],
                outputs(predictions="$steps.tm.predictions", n="$steps.tm.number_of_matches"),
                inputs=[IMAGE_INPUT, {"type": "WorkflowImage", "name": "template"}],
            ),
            images={"image": "tm_image", "template": "tm_template"},
        )
    )
    add(
        Case(
            "qr_code_detector",
            wf(
                [step("qr_code_detector@v1", "qr", images="$inputs.image")],
                outputs(predictions="$steps.qr.predictions"),
            ),
            images={"image": "qr"},
        )
    )
    add(
        Case(
            "barcode_detector",
            wf(
                [step("barcode_detector@v1", "bar", images="$inputs.image")],
                outputs(predictions="$steps.bar.predictions"),
            ),
            images={"image": "barcode"},
        )
    )
    for task, extra in (
        ("resize", {"width": 320, "height": 200}),
        ("rotate", {"rotation_degrees": 90}),
        ("flip", {"flip_type": "both"}),
    ):
        add(
            Case(
                f"image_preprocessing_{task}",
                _cv("image_preprocessing@v1", {"image": "image"}, task_type=task, **extra),
            )
        )
    add(
        Case(
            "static_crops",
            wf(
                [
                    step(
                        "absolute_static_crop@v1",
                        "abs",
                        images="$inputs.image",
                        x_center=320,
                        y_center=240,
                        width=200,
                        height=150,
                    ),
                    step(
                        "relative_statoic_crop@v1",
                        "rel",
                        images="$inputs.image",
                        x_center=0.25,
                        y_center=0.75,
                        width=0.3,
                        height=0.4,
                    ),
                    det("det2", images="$steps.abs.crops"),
                ],
                outputs(
                    abs="$steps.abs.crops",
                    rel="$steps.rel.crops",
                    own=("$steps.det2.predictions", "own"),
                    parent=("$steps.det2.predictions", "parent"),
                ),
            ),
        )
    )
    add(
        Case(
            "perspective_correction",
            wf(
                [
                    det(),
                    step(
                        "perspective_correction@v1",
                        "persp",
                        images="$inputs.image",
                        predictions="$steps.det.predictions",
                        perspective_polygons=[[[40, 30], [600, 50], [620, 450], [20, 430]]],
                        transformed_rect_width=500,
                        transformed_rect_height=400,
                        warp_image=True,
                    ),
                ],
                outputs(
                    corrected="$steps.persp.corrected_coordinates",
                    warped="$steps.persp.warped_image",
                    ext_w="$steps.persp.extended_transformed_rect_width",
                    ext_h="$steps.persp.extended_transformed_rect_height",
                ),
            ),
        )
    )
    # ---- visualizations (pixels)
    add(Case("viz_bounding_box", _viz("bounding_box_visualization@v1", thickness=3)))
    add(
        Case(
            "viz_bounding_box_rounded",
            _viz(
                "bounding_box_visualization@v1",
                roundness=0.4,
                color_palette="CUSTOM",
                custom_colors=["#FF0000", "#00FF00"],
            ),
        )
    )
    add(Case("viz_label", _viz("label_visualization@v1", text="Class and Confidence")))
    add(Case("viz_dot", _viz("dot_visualization@v1", radius=6, outline_thickness=2)))
    add(Case("viz_circle", _viz("circle_visualization@v1")))
    add(Case("viz_corner", _viz("corner_visualization@v1")))
    add(Case("viz_triangle", _viz("triangle_visualization@v1")))
    add(Case("viz_ellipse", _viz("ellipse_visualization@v1")))
    add(Case("viz_color", _viz("color_visualization@v1", opacity=0.6)))
    add(
        Case(
            "viz_background_color",
            _viz("background_color_visualization@v1", color="#0000FF", opacity=0.5),
        )
    )
    add(Case("viz_blur", _viz("blur_visualization@v1", kernel_size=11)))
    add(Case("viz_pixelate", _viz("pixelate_visualization@v1", pixel_size=12)))
    add(Case("viz_crop", _viz("crop_visualization@v1")))
    # ---- formatters
    add(
        Case(
            "string_template",
            wf(
                [
                    det(),
                    step(
                        "string_template@v1",
                        "tpl",
                        template="Found {{ $parameters.n }} shapes: {{ $parameters.names }}",
                        data={"n": "$steps.det.predictions", "names": "$steps.det.predictions"},
                        data_operations={"n": [COUNT], "names": [prop("class_name")]},
                    ),
                ],
                outputs(text="$steps.tpl.output"),
            ),
        )
    )
    add(
        Case(
            "json_parser",
            wf(
                [
                    step(
                        "json_parser@v1",
                        "parse",
                        raw_json="$inputs.raw",
                        expected_fields=["a", "b", "missing"],
                    )
                ],
                outputs(all="$steps.parse.*"),
                inputs=[IMAGE_INPUT, {"type": "WorkflowParameter", "name": "raw"}],
            ),
            parameters={"raw": '```json\n{"a": 1, "b": [1.5, "x"]}\n```'},
        )
    )
    add(
        Case(
            "json_parser_invalid",
            wf(
                [step("json_parser@v1", "parse", raw_json="$inputs.raw", expected_fields=["a"])],
                outputs(all="$steps.parse.*"),
                inputs=[IMAGE_INPUT, {"type": "WorkflowParameter", "name": "raw"}],
            ),
            parameters={"raw": "not json"},
        )
    )
    add(
        Case(
            "csv_formatter",
            wf(
                [
                    det(),
                    step(
                        "csv_formatter@v1",
                        "csv",
                        columns_data={
                            "count": "$steps.det.predictions",
                            "classes": "$steps.det.predictions",
                            "tag": "static",
                        },
                        columns_operations={
                            "count": [COUNT],
                            "classes": [
                                prop("class_name"),
                                {"type": "SequenceJoin", "separator": ";"},
                            ],
                        },
                    ),
                ],
                outputs(csv="$steps.csv.csv_content"),
            ),
        )
    )
    # ---- request-level features
    add(
        Case(
            "batch_of_two",
            wf(
                [
                    det(),
                    step(
                        "property_definition@v1",
                        "n",
                        data="$steps.det.predictions",
                        operations=[COUNT],
                    ),
                    step(
                        "dynamic_crop@v1",
                        "crop",
                        images="$inputs.image",
                        predictions="$steps.det.predictions",
                    ),
                ],
                outputs(
                    predictions="$steps.det.predictions",
                    n="$steps.n.output",
                    crops="$steps.crop.crops",
                ),
            ),
            images={"image": ["shapes", "shapes2"]},
        )
    )
    add(
        Case(
            "excluded_fields",
            wf(
                [
                    det(),
                    step(
                        "property_definition@v1",
                        "n",
                        data="$steps.det.predictions",
                        operations=[COUNT],
                    ),
                ],
                outputs(predictions="$steps.det.predictions", n="$steps.n.output"),
            ),
            excluded_fields=["predictions"],
        )
    )
    add(
        Case(
            "parameters_only_output",
            wf(
                [
                    step(
                        "property_definition@v1",
                        "upper",
                        data="$inputs.text",
                        operations=[{"type": "StringToUpperCase"}],
                    )
                ],
                outputs(upper="$steps.upper.output", echo="$inputs.text"),
                inputs=[{"type": "WorkflowParameter", "name": "text", "default_value": "abc"}],
            ),
            images={},
            parameters={"text": "hello"},
        )
    )
    # ---- errors: the same invalid definition to both
    add(
        Case(
            "error_unknown_block",
            wf(
                [step("roboflow_core/no_such_block@v1", "x", image="$inputs.image")],
                outputs(out="$steps.x.image"),
            ),
            expect_error=True,
        )
    )
    add(
        Case(
            "error_bad_selector",
            wf([det(images="$inputs.nope")], outputs(p="$steps.det.predictions")),
            expect_error=True,
        )
    )
    add(
        Case(
            "error_undefined_step_output",
            wf([det()], outputs(p="$steps.other.predictions")),
            expect_error=True,
        )
    )
    add(
        Case(
            "error_kind_mismatch",
            wf(
                [det(), step("bounding_rect@v1", "rect", predictions="$steps.det.predictions")],
                outputs(p="$steps.rect.detections_with_rect"),
            ),
            expect_error=True,
        )
    )
    add(
        Case("error_kind_mismatch_polygon_viz", _viz("polygon_visualization@v1"), expect_error=True)
    )
    add(
        Case(
            "error_missing_required_field",
            wf([step("threshold@v1", "thr", image="$inputs.image")], outputs(i="$steps.thr.image")),
            expect_error=True,
        )
    )
    add(
        Case(
            "error_duplicate_step_names",
            wf([det(), det()], outputs(p="$steps.det.predictions")),
            expect_error=True,
        )
    )
    add(
        Case(
            "error_missing_version",
            {
                k: v
                for k, v in wf([det()], outputs(p="$steps.det.predictions")).items()
                if k != "version"
            },
            expect_error=True,
        )
    )
    add(
        Case(
            "error_missing_image_input",
            wf([det()], outputs(p="$steps.det.predictions")),
            images={},
            expect_error=True,
        )
    )
    add(
        Case(
            "error_unknown_model",
            wf([det(model="no-such-model/9")], outputs(p="$steps.det.predictions")),
            expect_error=True,
        )
    )
    return c


# --------------------------------------------------------------------------- diffing


@dataclass
class Diff:
    path: str
    what: str  # missing-in-ours | extra-in-ours | type | value | length | image | status
    peer: str
    ours: str

    def __str__(self) -> str:
        return f"{self.path}: {self.what}  peer={self.peer}  ours={self.ours}"


@dataclass
class Tolerances:
    px: float
    conf: float
    float_rel: float
    pixel_tol: int
    pixel_frac: float


def _short(v: Any, n: int = 90) -> str:
    s = json.dumps(v) if not isinstance(v, str) else repr(v)
    return s if len(s) <= n else s[: n - 3] + "..."


def _tname(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def _is_image(v: Any) -> bool:
    return isinstance(v, dict) and v.get("type") == "base64" and isinstance(v.get("value"), str)


def _decode(b64: str) -> np.ndarray | None:
    try:
        raw = base64.b64decode(b64)
    except ValueError:
        return None
    return cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)


def diff_images(
    path: str,
    peer: str,
    ours: str,
    tol: Tolerances,
    size_only: str,
    out: list[Diff],
    stats: dict[str, Any],
) -> None:
    a, b = _decode(peer), _decode(ours)
    if a is None or b is None:
        out.append(
            Diff(
                path,
                "image",
                "undecodable" if a is None else "ok",
                "undecodable" if b is None else "ok",
            )
        )
        return
    if a.shape != b.shape:
        out.append(Diff(path, "image", f"shape {a.shape}", f"shape {b.shape}"))
        return
    stats["images"] = stats.get("images", 0) + 1
    if peer == ours:
        stats["images_identical_bytes"] = stats.get("images_identical_bytes", 0) + 1
        return
    delta = np.abs(a.astype(np.int16) - b.astype(np.int16))
    frac = float((delta > tol.pixel_tol).mean())
    mx = int(delta.max())
    stats["max_pixel_delta"] = max(stats.get("max_pixel_delta", 0), mx)
    stats["max_pixel_frac"] = max(stats.get("max_pixel_frac", 0.0), frac)
    if size_only:
        return
    if frac > tol.pixel_frac:
        out.append(
            Diff(
                path,
                "image",
                "-",
                f"{frac:.2%} of pixels differ by > {tol.pixel_tol} (max {mx}, "
                f"mean {float(delta.mean()):.2f})",
            )
        )


def _float_ok(key: str, a: float, b: float, tol: Tolerances) -> bool:
    d = abs(a - b)
    if key in BOX_KEYS:
        return d <= tol.px + 1e-9
    if key in CONF_KEYS:
        return d <= tol.conf
    return d <= tol.float_rel * max(1.0, abs(a), abs(b))


def diff_values(
    path: str,
    key: str,
    peer: Any,
    ours: Any,
    tol: Tolerances,
    size_only: str,
    out: list[Diff],
    stats: dict[str, Any],
) -> None:
    if key in TIMING_KEYS:
        if _tname(peer) != _tname(ours) and not (
            isinstance(peer, (int, float)) and isinstance(ours, (int, float))
        ):
            out.append(Diff(path, "type", _tname(peer), _tname(ours)))
        return
    if key in RANDOM_ID_KEYS and isinstance(peer, str) and isinstance(ours, str):
        mp, mo = UUID_RE.match(peer), UUID_RE.match(ours)
        if mp and mo and mp["prefix"] == mo["prefix"]:
            return
    if isinstance(peer, str) and isinstance(ours, str):
        peer, ours = ISO_TIME_RE.sub("<time>", peer), ISO_TIME_RE.sub("<time>", ours)
    if _is_image(peer) and _is_image(ours):
        diff_images(path, peer["value"], ours["value"], tol, size_only, out, stats)
        rest_p = {k: v for k, v in peer.items() if k != "value"}
        rest_o = {k: v for k, v in ours.items() if k != "value"}
        diff_values(path, key, rest_p, rest_o, tol, size_only, out, stats)
        return
    if isinstance(peer, dict) and isinstance(ours, dict):
        for k in peer:
            if k not in ours:
                out.append(Diff(f"{path}.{k}", "missing-in-ours", _short(peer[k]), "-"))
        for k in ours:
            if k not in peer:
                out.append(Diff(f"{path}.{k}", "extra-in-ours", "-", _short(ours[k])))
        for k in peer:
            if k in ours:
                diff_values(f"{path}.{k}", k, peer[k], ours[k], tol, size_only, out, stats)
        return
    if isinstance(peer, list) and isinstance(ours, list):
        if len(peer) != len(ours):
            out.append(Diff(path, "length", str(len(peer)), str(len(ours))))
        for i, (a, b) in enumerate(zip(peer, ours, strict=False)):
            diff_values(f"{path}[{i}]", key, a, b, tol, size_only, out, stats)
        return
    if type(peer) is not type(ours):
        out.append(
            Diff(
                path,
                "type",
                f"{_tname(peer)} {_short(peer, 40)}",
                f"{_tname(ours)} {_short(ours, 40)}",
            )
        )
        return
    if isinstance(peer, float):
        if not _float_ok(key, peer, ours, tol):
            out.append(Diff(path, "value", repr(peer), repr(ours)))
        return
    if peer != ours:
        out.append(Diff(path, "value", _short(peer), _short(ours)))


# --------------------------------------------------------------------------- running


@dataclass
class Outcome:
    case: str
    peer_status: int = 0
    ours_status: int = 0
    peer_error_type: str = ""
    ours_error_type: str = ""
    diffs: list[Diff] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    peer_body: Any = None
    ours_body: Any = None

    @property
    def ok(self) -> bool:
        return not self.diffs


def post_workflow(
    client: httpx.Client, server: Server, case: Case, images: dict[str, TestImage]
) -> tuple[int, Any]:
    inputs: dict[str, Any] = dict(case.parameters)
    for name, ref in case.images.items():
        if isinstance(ref, list):
            inputs[name] = [image_value(images[r]) for r in ref]
        else:
            inputs[name] = image_value(images[ref])
    body: dict[str, Any] = {"specification": case.definition, "inputs": inputs}
    if case.excluded_fields is not None:
        body["excluded_fields"] = case.excluded_fields
    if server.api_key:
        body["api_key"] = server.api_key
    resp = client.post(f"{server.url}/workflows/run", json=body)
    try:
        payload = resp.json()
    except ValueError:
        payload = resp.text
    return resp.status_code, payload


def _error_type(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("error_type") or "")
    return ""


def compare_case(
    client: httpx.Client,
    peer: Server,
    ours: Server,
    case: Case,
    images: dict[str, TestImage],
    tol: Tolerances,
) -> Outcome:
    res = Outcome(case.name)
    res.peer_status, res.peer_body = post_workflow(client, peer, case, images)
    res.ours_status, res.ours_body = post_workflow(client, ours, case, images)
    res.peer_error_type, res.ours_error_type = (
        _error_type(res.peer_body),
        _error_type(res.ours_body),
    )
    if res.peer_status != res.ours_status:
        res.diffs.append(Diff("<status>", "status", str(res.peer_status), str(res.ours_status)))
    if res.peer_status != 200 or res.ours_status != 200:
        if res.peer_error_type != res.ours_error_type:
            res.diffs.append(
                Diff(
                    "<error_type>", "value", res.peer_error_type or "-", res.ours_error_type or "-"
                )
            )
        if case.expect_error and res.peer_status == 200:
            res.diffs.append(
                Diff("<status>", "status", "200 (expected an error)", str(res.ours_status))
            )
        return res
    p_out = res.peer_body.get("outputs") if isinstance(res.peer_body, dict) else None
    o_out = res.ours_body.get("outputs") if isinstance(res.ours_body, dict) else None
    diff_values("outputs", "outputs", p_out, o_out, tol, case.size_only, res.diffs, res.stats)
    return res


def cmd_list(args: argparse.Namespace) -> int:
    for case in cases():
        blocks = sorted({s["type"].split("/")[-1] for s in case.definition.get("steps", [])})
        tag = "error" if case.expect_error else "ok"
        print(f"{case.name:<36} [{tag}] {', '.join(blocks)}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    images = build_images(args.seed)
    peer = Server(args.peer.rstrip("/"), args.peer_api_key or None)
    ours = Server(args.ours.rstrip("/"), args.ours_api_key or None)
    tol = Tolerances(args.tol_px, args.tol_conf, args.tol_float, args.pixel_tol, args.pixel_frac)
    selected = [c for c in cases() if not args.only or any(s in c.name for s in args.only)]
    save = Path(args.save) if args.save else None
    if save:
        save.mkdir(parents=True, exist_ok=True)
        (save / "images").mkdir(exist_ok=True)
        for im in images.values():
            ext = "jpg" if im.data[:2] == b"\xff\xd8" else "png"
            (save / "images" / f"{im.name}.{ext}").write_bytes(im.data)
    results: list[Outcome] = []
    started = time.perf_counter()
    with httpx.Client(timeout=args.timeout) as client:
        for case in selected:
            res = compare_case(client, peer, ours, case, images, tol)
            results.append(res)
            report_line(res, case, args)
            if save:
                (save / f"{case.name}.json").write_text(
                    json.dumps(
                        {
                            "definition": case.definition,
                            "peer_status": res.peer_status,
                            "ours_status": res.ours_status,
                            "peer": res.peer_body,
                            "ours": res.ours_body,
                            "diffs": [str(d) for d in res.diffs],
                        },
                        indent=1,
                    )
                )
    elapsed = time.perf_counter() - started
    table = summarize(results, selected)
    print("\n" + table)
    bad = [r for r in results if not r.ok]
    print(
        f"\n{len(results)} definitions, {len(results) - len(bad)} identical, {len(bad)} "
        f"differ, {elapsed:.0f} s"
    )
    if save:
        (save / "summary.md").write_text(table + "\n")
    return 1 if bad else 0


def report_line(res: Outcome, case: Case, args: argparse.Namespace) -> None:
    tag = "ok      " if res.ok else "MISMATCH"
    status = f"{res.peer_status}/{res.ours_status}"
    extra = ""
    if res.peer_error_type or res.ours_error_type:
        extra = f" error_type {res.peer_error_type or '-'} / {res.ours_error_type or '-'}"
    if res.stats.get("images"):
        extra += (
            f" images={res.stats['images']} max|Δpx|={res.stats.get('max_pixel_delta', 0)}"
            f" frac={res.stats.get('max_pixel_frac', 0.0):.3%}"
        )
    print(f"[{tag}] {case.name:<36} status {status} diffs={len(res.diffs)}{extra}")
    if case.size_only and res.stats.get("images"):
        print(f"      images compared by size only: {case.size_only}")
    if args.verbose:
        for d in res.diffs[: args.max_details]:
            print(f"      {d}")
        if len(res.diffs) > args.max_details:
            print(f"      ... {len(res.diffs) - args.max_details} more")
        if (res.peer_status != 200 or res.ours_status != 200) and args.show_messages:
            for who, body in (("peer", res.peer_body), ("ours", res.ours_body)):
                msg = body.get("message") if isinstance(body, dict) else body
                print(f"      {who} message: {_short(msg, 220)}")


def summarize(results: list[Outcome], selected: list[Case]) -> str:
    lines = [
        "| definition | status peer/ours | identical | differences (first) |",
        "|---|---|---|---|",
    ]
    for res in results:
        first = str(res.diffs[0]).replace("|", "\\|") if res.diffs else ""
        more = f" (+{len(res.diffs) - 1})" if len(res.diffs) > 1 else ""
        lines.append(
            f"| {res.case} | {res.peer_status}/{res.ours_status} "
            f"| {'yes' if res.ok else 'no'} | {first[:160]}{more} |"
        )
    return "\n".join(lines)


def main(argv: Iterable[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the definitions")
    pr = sub.add_parser("run", help="post every definition to both servers and diff")
    pr.add_argument("--peer", required=True, help="reference server URL")
    pr.add_argument("--ours", required=True, help="visionflow server URL")
    pr.add_argument("--peer-api-key", default="x")
    pr.add_argument("--ours-api-key", default="", help="none: anonymous (loopback demo)")
    pr.add_argument("--only", nargs="+", help="cases whose name contains one of these")
    pr.add_argument("--seed", type=int, default=7)
    pr.add_argument("--tol-px", type=float, default=0.0)
    pr.add_argument("--tol-conf", type=float, default=1e-4)
    pr.add_argument("--tol-float", type=float, default=1e-6)
    pr.add_argument("--pixel-tol", type=int, default=8, help="per-channel |Δ| allowed")
    pr.add_argument(
        "--pixel-frac",
        type=float,
        default=0.001,
        help="fraction of values allowed beyond --pixel-tol",
    )
    pr.add_argument("--timeout", type=float, default=300.0)
    pr.add_argument("--save", help="folder for the images, raw responses and summary.md")
    pr.add_argument("-v", "--verbose", action="store_true")
    pr.add_argument("--show-messages", action="store_true", help="print error messages")
    pr.add_argument("--max-details", type=int, default=12)
    args = p.parse_args(list(argv) if argv is not None else None)
    handler: Callable[[argparse.Namespace], int] = {"list": cmd_list, "run": cmd_run}[args.cmd]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
