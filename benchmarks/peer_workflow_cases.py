"""The catalogue of ``compare_peer_workflows.py``: every inline workflow definition posted to both
servers (built with ``workflow_builders.py``), with the images and parameters it runs on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workflow_builders import (
    COUNT,
    IMAGE_INPUT,
    PREDS,
    crop,
    det,
    det_filter,
    detection_property,
    dyn,
    group,
    outputs,
    param,
    prop,
    prop_def,
    static,
    step,
    stmt,
    wf,
)

# The demo detector on a stretched resize, as `compare_peer.py prepare` registers it on both.
DETECTOR2_ID = "shapes-det-stretch/1"


@dataclass
class Case:
    name: str
    definition: dict[str, Any]
    images: dict[str, str | list[str]] = field(default_factory=lambda: {"image": "shapes"})
    parameters: dict[str, Any] = field(default_factory=dict)
    excluded_fields: list[str] | None = None
    size_only: str = ""  # non-empty: compare images by size only, for this reason
    expect_error: bool = False


CONF_OVER_HALF = stmt(detection_property("confidence"), "(Number) >", static(0.5))
CLASS_IN = stmt(detection_property("class_name"), "in (Sequence)", static(["circle", "square"]))


def case(
    name: str,
    steps: list[dict[str, Any]],
    outs: dict[str, str | tuple[str, str]],
    *,
    inputs: list[dict[str, Any]] | None = None,
    **options: Any,
) -> Case:
    """A case whose definition is ``wf(steps, outputs(**outs), inputs)``."""
    return Case(name, wf(steps, outputs(**outs), inputs), **options)


def _gate(threshold: int) -> list[dict[str, Any]]:
    return [
        det(),
        step(
            "continue_if@v1",
            "gate",
            condition_statement=group(stmt(dyn("found", COUNT), "(Number) >=", static(threshold))),
            evaluation_parameters={"found": PREDS},
            next_steps=["$steps.viz", "$steps.names"],
        ),
        step("bounding_box_visualization@v1", "viz", image="$inputs.image", predictions=PREDS),
        prop_def("names", prop("class_name")),
        step(
            "first_non_empty_or_default@v1",
            "first",
            data=["$steps.names.output"],
            default="gate closed",
        ),
    ]


GATE_OUTPUTS: dict[str, str | tuple[str, str]] = {
    "viz": "$steps.viz.image",
    "names": "$steps.names.output",
    "first": "$steps.first.output",
}


def _viz(block: str, **extra: Any) -> dict[str, Any]:
    return wf(
        [det(), step(block, "viz", image="$inputs.image", predictions=PREDS, **extra)],
        outputs(image="$steps.viz.image"),
    )


def _cv(block: str, outs: dict[str, str], **extra: Any) -> dict[str, Any]:
    return wf(
        [step(block, "cv", image="$inputs.image", **extra)],
        outputs(**{k: f"$steps.cv.{v}" for k, v in outs.items()}),
    )


# --------------------------------------------------------------------------- the catalogue


def cases() -> list[Case]:
    return [
        *_detection_cases(),
        *_classical_cv_cases(),
        *_visualization_cases(),
        *_qr_code_generator_cases(),
        *_formatter_cases(),
        *_request_cases(),
        *_error_cases(),
    ]


def _detection_cases() -> list[Case]:
    """Detection and detections transformations."""
    return [
        *_merge_cases(),
        case("detect_v2", [det()], {"predictions": PREDS, "model_id": "$steps.det.model_id"}),
        case("detect_nothing_found", [det()], {"predictions": PREDS}, images={"image": "blank"}),
        case("input_image_passthrough", [], {"image": "$inputs.image"}),
        case(
            "detect_v1_alias_wildcard",
            [det(block="ObjectDetectionModel")],
            {"all": "$steps.det.*"},
        ),
        case(
            "detect_v3_params",
            [
                det(
                    block="roboflow_object_detection_model@v3",
                    class_filter=["circle", "triangle"],
                    iou_threshold=0.5,
                    max_detections=2,
                )
            ],
            {"predictions": PREDS},
        ),
        case(
            "detections_filter",
            [
                det(),
                step(
                    "detections_filter@v1",
                    "f",
                    predictions=PREDS,
                    operations=[det_filter(CONF_OVER_HALF, CLASS_IN)],
                ),
            ],
            {"predictions": "$steps.f.predictions"},
        ),
        case(
            "detections_filter_param",
            [
                det(),
                step(
                    "detections_filter@v1",
                    "f",
                    predictions=PREDS,
                    operations=[
                        det_filter(stmt(detection_property("class_name"), "==", dyn("wanted")))
                    ],
                    operations_parameters={"wanted": "$inputs.wanted"},
                ),
            ],
            {"predictions": "$steps.f.predictions"},
            inputs=[IMAGE_INPUT, param("wanted", default_value="square")],
            parameters={"wanted": "circle"},
        ),
        case(
            "detections_transformation",
            [
                det(),
                step(
                    "detections_transformation@v1",
                    "t",
                    predictions=PREDS,
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
            {"predictions": "$steps.t.predictions"},
        ),
        case(
            "detection_offset_px_and_percent",
            [
                det(),
                step(
                    "detection_offset@v1",
                    "px",
                    predictions=PREDS,
                    offset_width=20,
                    offset_height=11,
                ),
                step(
                    "detection_offset@v1",
                    "pct",
                    predictions=PREDS,
                    offset_width=10,
                    offset_height=25,
                    units="Percent (%)",
                ),
            ],
            {"px": "$steps.px.predictions", "pct": "$steps.pct.predictions"},
        ),
        case(
            "dynamic_crop_nested",
            [det(), crop(), det("det2", images="$steps.crop.crops")],
            {
                "crops": "$steps.crop.crops",
                "crop_predictions": "$steps.crop.predictions",
                "own": ("$steps.det2.predictions", "own"),
                "parent": ("$steps.det2.predictions", "parent"),
            },
        ),
        case(
            "dynamic_crop_mask_bg",
            [det(), crop(mask_opacity=0.5, background_color="#00FF00")],
            {"crops": "$steps.crop.crops"},
        ),
        case(
            "property_definition",
            [
                det(),
                prop_def("count", COUNT),
                prop_def("names", prop("class_name")),
                prop_def(
                    "common",
                    prop("class_name"),
                    {"type": "SequenceAggregate", "mode": "most_common"},
                ),
                prop_def(
                    "maxconf",
                    prop("confidence"),
                    {"type": "NumericSequenceAggregate", "function": "max"},
                ),
                prop_def("centers", prop("center")),
                prop_def(
                    "width",
                    {"type": "ExtractImageProperty", "property_name": "width"},
                    data="$inputs.image",
                ),
                prop_def(
                    "joined",
                    prop("class_name"),
                    {"type": "SequenceJoin", "separator": ","},
                    {"type": "StringToUpperCase"},
                ),
            ],
            {
                name: f"$steps.{name}.output"
                for name in ("count", "names", "common", "maxconf", "centers", "width", "joined")
            },
        ),
        case(
            "expression_switch",
            [
                det(),
                step(
                    "expression@v1",
                    "expr",
                    data={"preds": PREDS},
                    data_operations={"preds": [COUNT]},
                    switch={
                        "type": "CasesDefinition",
                        "cases": [
                            {
                                "type": "CaseDefinition",
                                "condition": group(stmt(dyn("preds"), "(Number) >=", static(3))),
                                "result": {"type": "StaticCaseResult", "value": "many"},
                            }
                        ],
                        "default": {"type": "DynamicCaseResult", "parameter_name": "preds"},
                    },
                ),
            ],
            {"result": "$steps.expr.output"},
        ),
        case("continue_if_taken", _gate(1), GATE_OUTPUTS),
        case("continue_if_not_taken", _gate(100), GATE_OUTPUTS),
        case(
            "dimension_collapse",
            [
                det(),
                crop(),
                det("det2", images="$steps.crop.crops"),
                prop_def("n", COUNT, data="$steps.det2.predictions"),
                step("dimension_collapse@v1", "collapse", data="$steps.n.output"),
            ],
            {"per_crop": "$steps.n.output", "collapsed": "$steps.collapse.output"},
        ),
        case(
            "detections_consensus_two_detectors",
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
            {
                "predictions": "$steps.vote.predictions",
                "present": "$steps.vote.object_present",
                "presence": "$steps.vote.presence_confidence",
            },
        ),
        case(
            "image_slicer_stitch",
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
                    predictions=PREDS,
                    overlap_filtering_strategy="nms",
                    iou_threshold=0.3,
                ),
            ],
            {"predictions": "$steps.stitch.predictions"},
            images={"image": "big"},
        ),
        case(
            "image_slicer_v2_slices",
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
            {"slices": "$steps.slicer.slices"},
            images={"image": "big"},
        ),
    ]


def _classical_cv_cases() -> list[Case]:
    image_out = {"image": "image"}
    return [
        Case("convert_grayscale", _cv("convert_grayscale@v1", image_out)),
        *(
            Case(
                f"image_blur_{blur}",
                _cv("image_blur@v1", image_out, blur_type=blur, kernel_size=7),
            )
            for blur in ("gaussian", "average", "median", "bilateral")
        ),
        case(
            "threshold_contours",
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
                step("contours_detection@v1", "cont", image="$steps.thr.image", line_thickness=2),
            ],
            {
                "thr": "$steps.thr.image",
                "otsu": "$steps.otsu.image",
                "contours_image": "$steps.cont.image",
                "contours": "$steps.cont.contours",
                "hierarchy": "$steps.cont.hierarchy",
                "number": "$steps.cont.number_contours",
            },
        ),
        case(
            "dominant_color_pixel_count",
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
            {
                "rgb": "$steps.dom.rgb_color",
                "count": "$steps.count.matching_pixels_count",
                "hex": "$steps.hex.matching_pixels_count",
            },
        ),
        case(
            "template_matching",
            [
                step(
                    "template_matching@v1",
                    "tm",
                    image="$inputs.image",
                    template="$inputs.template",
                    matching_threshold=0.8,
                )
            ],
            {"predictions": "$steps.tm.predictions", "n": "$steps.tm.number_of_matches"},
            inputs=[IMAGE_INPUT, {"type": "WorkflowImage", "name": "template"}],
            images={"image": "tm_image", "template": "tm_template"},
        ),
        case(
            "qr_code_detector",
            [step("qr_code_detector@v1", "qr", images="$inputs.image")],
            {"predictions": "$steps.qr.predictions"},
            images={"image": "qr"},
        ),
        case(
            "barcode_detector",
            [step("barcode_detector@v1", "bar", images="$inputs.image")],
            {"predictions": "$steps.bar.predictions"},
            images={"image": "barcode"},
        ),
        *(
            Case(
                f"image_preprocessing_{task}",
                _cv("image_preprocessing@v1", image_out, task_type=task, **extra),
            )
            for task, extra in (
                ("resize", {"width": 320, "height": 200}),
                ("rotate", {"rotation_degrees": 90}),
                ("flip", {"flip_type": "both"}),
            )
        ),
        case(
            "static_crops",
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
            {
                "abs": "$steps.abs.crops",
                "rel": "$steps.rel.crops",
                "own": ("$steps.det2.predictions", "own"),
                "parent": ("$steps.det2.predictions", "parent"),
            },
        ),
        case(
            "perspective_correction",
            [
                det(),
                step(
                    "perspective_correction@v1",
                    "persp",
                    images="$inputs.image",
                    predictions=PREDS,
                    perspective_polygons=[[[40, 30], [600, 50], [620, 450], [20, 430]]],
                    transformed_rect_width=500,
                    transformed_rect_height=400,
                    warp_image=True,
                ),
            ],
            {
                "corrected": "$steps.persp.corrected_coordinates",
                "warped": "$steps.persp.warped_image",
                "ext_w": "$steps.persp.extended_transformed_rect_width",
                "ext_h": "$steps.persp.extended_transformed_rect_height",
            },
        ),
    ]


def _visualization_cases() -> list[Case]:
    """Visualizations: compared pixel by pixel."""
    return [
        Case("viz_bounding_box", _viz("bounding_box_visualization@v1", thickness=3)),
        Case(
            "viz_bounding_box_rounded",
            _viz(
                "bounding_box_visualization@v1",
                roundness=0.4,
                color_palette="CUSTOM",
                custom_colors=["#FF0000", "#00FF00"],
            ),
        ),
        Case("viz_label", _viz("label_visualization@v1", text="Class and Confidence")),
        Case("viz_dot", _viz("dot_visualization@v1", radius=6, outline_thickness=2)),
        Case("viz_circle", _viz("circle_visualization@v1")),
        Case("viz_corner", _viz("corner_visualization@v1")),
        Case("viz_triangle", _viz("triangle_visualization@v1")),
        Case("viz_ellipse", _viz("ellipse_visualization@v1")),
        Case("viz_color", _viz("color_visualization@v1", opacity=0.6)),
        Case(
            "viz_background_color",
            _viz("background_color_visualization@v1", color="#0000FF", opacity=0.5),
        ),
        Case("viz_blur", _viz("blur_visualization@v1", kernel_size=11)),
        Case("viz_pixelate", _viz("pixelate_visualization@v1", pixel_size=12)),
        Case("viz_crop", _viz("crop_visualization@v1")),
    ]


def _merge_cases() -> list[Case]:
    """``detections_merge``: the box around everything, on the input, on slices, and of nothing."""
    merge = "$steps.merge.predictions"
    return [
        case(
            "detections_merge",
            [det(), step("detections_merge@v1", "merge", predictions=PREDS)],
            {"merged": merge},
        ),
        case(
            "detections_merge_named_after_offset",
            [
                det(model=DETECTOR2_ID),
                step(
                    "detection_offset@v1",
                    "grow",
                    predictions=PREDS,
                    offset_width=10,
                    offset_height=6,
                ),
                step(
                    "detections_merge@v1",
                    "merge",
                    predictions="$steps.grow.predictions",
                    class_name="group",
                ),
            ],
            {"merged": merge, "grown": "$steps.grow.predictions"},
        ),
        case(
            "detections_merge_nothing",
            [det(), step("detections_merge@v1", "merge", predictions=PREDS)],
            {"merged": merge},
            images={"image": "blank"},
        ),
        case(
            "detections_merge_on_slices",
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
                step("detections_merge@v1", "merge", predictions=PREDS),
            ],
            {"merged": (merge, "own"), "merged_parent": merge},
            images={"image": "big"},
        ),
    ]


def _qr(name: str = "qr", **fields: Any) -> dict[str, Any]:
    return step("qr_code_generator@v1", name, **fields)


def _qr_case(name: str, qr: dict[str, Any], **options: Any) -> Case:
    """A ``qr_code_generator`` step with no image input, its image as the output."""
    return case(
        name,
        [qr],
        {"qr": f"$steps.{qr['name']}.qr_code"},
        inputs=options.pop("inputs", None) or [param("unused", default_value=0)],
        images={},
        **options,
    )


def _qr_code_generator_cases() -> list[Case]:
    """``qr_code_generator``: defaults, every error-correction level, colours in each spelling,
    borders, the input as text, a round trip through ``qr_code_detector``, and the errors."""
    levels = [
        "Low (~7% word recovery / highest data capacity)",
        "Quartile (~25% word recovery)",
        "High (~30% word recovery / lowest data capacity)",
    ]
    return [
        _qr_case("qr_generator_defaults", _qr(text="https://roboflow.com")),
        _qr_case(
            "qr_generator_alias_from_input",
            {"type": "QRCodeGenerator", "name": "qr", "text": "$inputs.text"},
            inputs=[param("text")],
            parameters={"text": "visionflow 0123456789"},
        ),
        *[
            _qr_case(
                f"qr_generator_level_{level.split()[0].lower()}",
                _qr(text="HELLO WORLD 12345", error_correct=level),
            )
            for level in levels
        ],
        _qr_case(
            "qr_generator_colours_hex_rgb",
            _qr(text="colours", fill_color="#1E90FF", back_color="rgb(255, 255, 0)", border=2),
        ),
        _qr_case(
            "qr_generator_colours_names",
            _qr(text="names", fill_color="navy", back_color="ROBOFLOW", border=0),
        ),
        _qr_case(
            "qr_generator_colours_bgr_short_hex",
            _qr(text="bgr", fill_color="bgr(0, 0, 255)", back_color="#ff8", border=1),
        ),
        _qr_case(
            "qr_generator_border_from_input",
            _qr(text="border", border="$inputs.border"),
            inputs=[param("border")],
            parameters={"border": 7},
        ),
        _qr_case("qr_generator_digits", _qr(text="3141592653589793238462643383279")),
        _qr_case("qr_generator_unicode", _qr(text="Zürich → 東京 ✓")),
        _qr_case("qr_generator_long", _qr(text="visionflow " * 120)),
        case(
            "qr_generator_read_back",
            [
                _qr(text="https://example.com/read-back"),
                step("qr_code_detector@v1", "read", images="$steps.qr.qr_code"),
            ],
            {"codes": "$steps.read.predictions"},
            inputs=[param("unused", default_value=0)],
            images={},
        ),
        _qr_case(
            "qr_generator_error_too_long",
            _qr(text="x" * 3000, error_correct=levels[0]),
            expect_error=True,
        ),
        _qr_case(
            "qr_generator_error_bad_colour",
            _qr(text="bad colour", fill_color="not-a-colour"),
            expect_error=True,
        ),
        _qr_case(
            "qr_generator_error_negative_border",
            _qr(text="border", border=-1),
            expect_error=True,
        ),
    ]


def _formatter_cases() -> list[Case]:
    raw_input = [IMAGE_INPUT, param("raw")]
    return [
        case(
            "string_template",
            [
                det(),
                step(
                    "string_template@v1",
                    "tpl",
                    template="Found {{ $parameters.n }} shapes: {{ $parameters.names }}",
                    data={"n": PREDS, "names": PREDS},
                    data_operations={"n": [COUNT], "names": [prop("class_name")]},
                ),
            ],
            {"text": "$steps.tpl.output"},
        ),
        case(
            "json_parser",
            [
                step(
                    "json_parser@v1",
                    "parse",
                    raw_json="$inputs.raw",
                    expected_fields=["a", "b", "missing"],
                )
            ],
            {"all": "$steps.parse.*"},
            inputs=raw_input,
            parameters={"raw": '```json\n{"a": 1, "b": [1.5, "x"]}\n```'},
        ),
        case(
            "json_parser_invalid",
            [step("json_parser@v1", "parse", raw_json="$inputs.raw", expected_fields=["a"])],
            {"all": "$steps.parse.*"},
            inputs=raw_input,
            parameters={"raw": "not json"},
        ),
        case(
            "csv_formatter",
            [
                det(),
                step(
                    "csv_formatter@v1",
                    "csv",
                    columns_data={"count": PREDS, "classes": PREDS, "tag": "static"},
                    columns_operations={
                        "count": [COUNT],
                        "classes": [prop("class_name"), {"type": "SequenceJoin", "separator": ";"}],
                    },
                ),
            ],
            {"csv": "$steps.csv.csv_content"},
        ),
    ]


def _request_cases() -> list[Case]:
    """Request-level features: batches, ``excluded_fields``, no image at all."""
    return [
        case(
            "batch_of_two",
            [det(), prop_def("n", COUNT), crop()],
            {"predictions": PREDS, "n": "$steps.n.output", "crops": "$steps.crop.crops"},
            images={"image": ["shapes", "shapes2"]},
        ),
        case(
            "excluded_fields",
            [det(), prop_def("n", COUNT)],
            {"predictions": PREDS, "n": "$steps.n.output"},
            excluded_fields=["predictions"],
        ),
        case(
            "parameters_only_output",
            [prop_def("upper", {"type": "StringToUpperCase"}, data="$inputs.text")],
            {"upper": "$steps.upper.output", "echo": "$inputs.text"},
            inputs=[param("text", default_value="abc")],
            images={},
            parameters={"text": "hello"},
        ),
    ]


def _error_cases() -> list[Case]:
    """The same invalid definition (or request) to both servers."""
    detect = wf([det()], outputs(p=PREDS))
    return [
        case(
            "error_unknown_block",
            [step("roboflow_core/no_such_block@v1", "x", image="$inputs.image")],
            {"out": "$steps.x.image"},
            expect_error=True,
        ),
        case(
            "error_bad_selector",
            [det(images="$inputs.nope")],
            {"p": PREDS},
            expect_error=True,
        ),
        case(
            "error_undefined_step_output",
            [det()],
            {"p": "$steps.other.predictions"},
            expect_error=True,
        ),
        case(
            "error_kind_mismatch",
            [det(), step("bounding_rect@v1", "rect", predictions=PREDS)],
            {"p": "$steps.rect.detections_with_rect"},
            expect_error=True,
        ),
        Case(
            "error_kind_mismatch_polygon_viz",
            _viz("polygon_visualization@v1"),
            expect_error=True,
        ),
        case(
            "error_missing_required_field",
            [step("threshold@v1", "thr", image="$inputs.image")],
            {"i": "$steps.thr.image"},
            expect_error=True,
        ),
        case("error_duplicate_step_names", [det(), det()], {"p": PREDS}, expect_error=True),
        Case(
            "error_missing_version",
            {k: v for k, v in detect.items() if k != "version"},
            expect_error=True,
        ),
        Case("error_missing_image_input", detect, images={}, expect_error=True),
        case(
            "error_unknown_model",
            [det(model="no-such-model/9")],
            {"p": PREDS},
            expect_error=True,
        ),
    ]
