"""Dev-only: do visionflow's issue-15 visualization blocks draw the same pixels as the reference's
block code (roboflow-workflows 0.2.14) on the same inputs?

Not a test and never run in CI: it imports the reference's block classes from an unpacked
``roboflow-workflows`` wheel (``--reference-src``, e.g. the ``src`` folder holding
``roboflow_workflows/``) with torch, torchvision and pybase64 stubbed (these blocks never call
them), runs each block and ours on random images, detections and settings, and counts the
outputs that are identical pixel for pixel. See ``benchmarks/PEER.md`` ("Visualizations").

    .venv/bin/python benchmarks/compare_reference_visualizations.py --reference-src /tmp/ref/src

``rich_label_visualization`` is compared with the reference's own font file on both sides (ours
renders with DejaVu, see ``core/fonts.py``), so the comparison covers everything but the font.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import sys
import types
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import supervision as sv

from visionflow.workflows.block import RunContext, StepInputs
from visionflow.workflows.blocks import captions, grid, heatmap, overlays
from visionflow.workflows.limits import RunBudget
from visionflow.workflows.lineage import WorkflowImage

RNG = np.random.default_rng(1)


class _Stub(types.ModuleType):
    """A module whose every attribute is a new empty class (only type hints use them)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return type(name, (), {})


def _import_reference(src: str) -> types.SimpleNamespace:
    for name in ("torch", "torch.nn", "torchvision", "torchvision.io"):
        sys.modules.setdefault(name, _Stub(name))
    fake_base64 = types.ModuleType("pybase64")
    fake_base64.b64decode = base64.b64decode  # type: ignore[attr-defined]
    fake_base64.b64encode = base64.b64encode  # type: ignore[attr-defined]
    sys.modules.setdefault("pybase64", fake_base64)
    sys.path.insert(0, src)
    from roboflow_workflows.core_steps.visualizations.common.annotators import model_comparison
    from roboflow_workflows.core_steps.visualizations.common.fonts import resolve_font_path
    from roboflow_workflows.core_steps.visualizations.grid.v1 import GridVisualizationBlockV1
    from roboflow_workflows.core_steps.visualizations.heatmap.v1 import (
        HeatmapVisualizationBlockV1,
    )
    from roboflow_workflows.core_steps.visualizations.icon.v1 import IconVisualizationBlockV1
    from roboflow_workflows.core_steps.visualizations.reference_path.v1 import (
        ReferencePathVisualizationBlockV1,
    )
    from roboflow_workflows.core_steps.visualizations.rich_label.v1 import (
        RichLabelVisualizationBlockV1,
    )
    from roboflow_workflows.core_steps.visualizations.text_display import utils as text_utils
    from roboflow_workflows.execution_engine.entities.base import (
        ImageParentMetadata,
        WorkflowImageData,
    )

    def image(pixels: np.ndarray) -> Any:
        return WorkflowImageData(
            parent_metadata=ImageParentMetadata(parent_id="p"), numpy_image=pixels
        )

    return types.SimpleNamespace(
        image=image,
        grid=GridVisualizationBlockV1,
        heatmap=HeatmapVisualizationBlockV1,
        icon=IconVisualizationBlockV1,
        path=ReferencePathVisualizationBlockV1,
        rich=RichLabelVisualizationBlockV1,
        comparison=model_comparison.ModelComparisonAnnotator,
        text=text_utils,
        font=resolve_font_path,
    )


CONTEXT = RunContext(models=None)  # type: ignore[arg-type]


def _ours(block: Any, **values: Any) -> np.ndarray:
    result = block().run(StepInputs("s", block.type, values), CONTEXT)
    return np.asarray(result["image"].pixels_bgr)


def _pixels(height: int, width: int) -> np.ndarray:
    return RNG.integers(0, 255, (height, width, 3), dtype=np.uint8)


def _detections(count: int, size_wh: tuple[int, int] = (200, 120), tracked: bool = False) -> Any:
    w, h = size_wh
    xy = RNG.uniform(0, [w, h, w, h], (count, 4))
    xyxy = np.concatenate([np.minimum(xy[:, :2], xy[:, 2:]), np.maximum(xy[:, :2], xy[:, 2:])], 1)
    class_id = RNG.integers(0, 3, count)
    detections = sv.Detections(
        xyxy=xyxy.reshape(-1, 4), class_id=class_id, confidence=RNG.random(count)
    )
    detections.data["class_name"] = np.array(["ab", "cd", "efghij"], dtype=object)[class_id]
    if tracked:
        detections.tracker_id = RNG.integers(1, 4, count)
    return detections


def compare_text_display(ref: Any) -> tuple[int, int]:
    same = total = 0
    font = cv2.FONT_HERSHEY_SIMPLEX
    texts = ["Hi", "", "a\nlong line", "two\n\nblank lines here", "x" * 80]
    for text, scale, thick, pad, mode, anchor, align, radius, opacity, bg in itertools.product(
        texts, [0.5, 1.0, 2.3], [1, 3], [0, 10], ["absolute", "relative"],
        ["top_left", "center", "bottom_right", "center_right"], ["left", "center", "right"],
        [0, 7], [1.0, 0.4, 0.0], [(0, 0, 0), None],
    ):  # fmt: skip
        pixels = _pixels(120, 260)
        theirs, ours = pixels.copy(), pixels.copy()
        px, py, ox, oy = -20, 30, 15, -5
        layout = ref.text.compute_layout(
            formatted_text=text, font=font, font_scale=scale, font_thickness=thick, padding=pad,
            position_mode=mode, position_x=px, position_y=py, anchor=anchor, offset_x=ox,
            offset_y=oy, img_w=260, img_h=120,
        )  # fmt: skip
        ref.text.draw_background(
            img=theirs, x1=max(0, layout.box_x), y1=max(0, layout.box_y),
            x2=min(260, layout.box_x + layout.box_w), y2=min(120, layout.box_y + layout.box_h),
            bg_color_bgr=bg, background_opacity=opacity, border_radius=radius,
        )  # fmt: skip
        ref.text.draw_text_lines(
            theirs, layout=layout, padding=pad, text_align=align, font=font, font_scale=scale,
            font_thickness=thick, color_bgr=(255, 255, 255),
        )  # fmt: skip
        corner = (px, py) if mode == "absolute" else None
        box = captions._layout(text, scale, thick, pad, (260, 120), corner, anchor, (ox, oy))
        captions._background(ours, box, bg, opacity, radius)
        captions._draw_lines(ours, box, (scale, thick, (255, 255, 255)), pad, align)
        total += 1
        same += bool((theirs == ours).all())
    return same, total


def compare_model_comparison(ref: Any) -> tuple[int, int]:
    same = total = 0
    for _ in range(200):
        pixels = _pixels(90, 130)
        pair = []
        for _side in range(2):
            detections = _detections(int(RNG.integers(0, 4)), (130, 90))
            if len(detections) and RNG.random() < 0.5:
                detections.mask = RNG.random((len(detections), 90, 130)) < 0.3
            pair.append(detections)
        opacity = float(RNG.choice([0.0, 0.3, 0.7, 1.0]))
        annotator = ref.comparison(sv.Color.GREEN, sv.Color.RED, sv.Color.BLACK, opacity)
        theirs = annotator.annotate(pixels.copy(), pair[0], pair[1])
        ours = _ours(
            overlays.ModelComparisonVisualizationV1,
            image=WorkflowImage.from_input(pixels, "p"),
            predictions_a=pair[0], predictions_b=pair[1], color_a="GREEN", color_b="RED",
            background_color="BLACK", opacity=opacity,
        )  # fmt: skip
        total += 1
        same += bool((theirs == ours).all())
    return same, total


def compare_grid(ref: Any) -> tuple[int, int]:
    same = total = 0
    context = RunContext(models=None, budget=RunBudget())  # type: ignore[arg-type]
    for count, (w, h) in itertools.product(
        [1, 2, 3, 5, 9, 10], [(320, 200), (97, 301), (2560, 1440)]
    ):
        images = [
            _pixels(int(RNG.integers(5, 300)), int(RNG.integers(5, 300))) for _ in range(count)
        ]
        try:
            theirs = ref.grid().run(images=[ref.image(i) for i in images], width=w, height=h)
        except cv2.error:
            # A tile thinner than a pixel in its cell: the reference fails, ours leaves it black.
            print(f"  grid {count} images in {w} x {h}: the reference raises (cv2.resize to 0 px)")
            continue
        values = {
            "images": [WorkflowImage.from_input(i, "p") for i in images],
            "width": w,
            "height": h,
        }
        ours = grid.GridVisualizationV1().run(StepInputs("s", "grid", values), context)
        a, b = theirs["image"].numpy_image, ours["image"].pixels_bgr
        total += 1
        same += bool(a.shape == b.shape and (a == b).all())
    return same, total


def compare_reference_path(ref: Any) -> tuple[int, int]:
    same = total = 0
    for _ in range(50):
        pixels = _pixels(120, 200)
        path = RNG.integers(-50, 250, (int(RNG.integers(1, 6)), 3)).tolist()
        thickness = int(RNG.integers(1, 6))
        theirs = ref.path().run(
            image=ref.image(pixels.copy()), reference_path=path, copy_image=True,
            color="#5bb573", thickness=thickness,
        )["image"].numpy_image  # fmt: skip
        ours = _ours(
            overlays.ReferencePathVisualizationV1, image=WorkflowImage.from_input(pixels, "p"),
            reference_path=path, color="#5bb573", thickness=thickness,
        )  # fmt: skip
        total += 1
        same += bool((theirs == ours).all())
    return same, total


def compare_icon(ref: Any) -> tuple[int, int]:
    same = total = 0
    for trial in range(100):
        pixels = _pixels(120, 200)
        icon = _pixels(int(RNG.integers(3, 50)), int(RNG.integers(3, 50)))
        fields = {
            "mode": ["static", "dynamic"][trial % 2],
            "predictions": _detections(int(RNG.integers(0, 4))),
            "icon_width": int(RNG.integers(4, 40)),
            "icon_height": int(RNG.integers(4, 40)),
            "position": str(RNG.choice(["CENTER", "TOP_CENTER", "BOTTOM_RIGHT", "TOP_LEFT"])),
            "x_position": int(RNG.integers(-60, 220)),
            "y_position": int(RNG.integers(-60, 140)),
        }
        theirs = (
            ref.icon()
            .run(image=ref.image(pixels.copy()), copy_image=True, icon=ref.image(icon), **fields)[
                "image"
            ]
            .numpy_image
        )
        ours = _ours(
            overlays.IconVisualizationV1,
            image=WorkflowImage.from_input(pixels, "p"),
            icon=WorkflowImage.from_input(icon, "icon"),
            **fields,
        )
        total += 1
        same += bool((theirs == ours).all())
    return same, total


def compare_rich_label(ref: Any) -> tuple[int, int]:
    same = total = 0
    ours_font: Callable[[str], str | None] = captions.font_path
    captions.font_path = lambda family: str(ref.font(family))  # type: ignore[assignment]
    try:
        for trial in range(40):
            pixels = _pixels(int(RNG.integers(100, 1500)), 300)
            fields = {
                "color_palette": "DEFAULT", "palette_size": 10, "custom_colors": [],
                "color_axis": "CLASS",
                "text": str(RNG.choice(["Class", "Class and Confidence", "Dimensions", "Index"])),
                "text_position": str(RNG.choice(["TOP_LEFT", "CENTER", "BOTTOM_RIGHT"])),
                "text_color": "WHITE",
                "font_family": str(RNG.choice(["Geist Mono", "Inter", "Roboto"])),
                "text_size_mode": str(RNG.choice(["Manual", "Automatic"])),
                "font_size": int(RNG.integers(6, 30)),
                "text_padding": int(RNG.integers(0, 12)),
                "border_radius": int(RNG.integers(0, 5)),
                "max_line_length": [None, 5][trial % 2],
            }  # fmt: skip
            detections = _detections(int(RNG.integers(0, 4)), (300, pixels.shape[0]))
            theirs = (
                ref.rich()
                .run(
                    image=ref.image(pixels.copy()),
                    predictions=detections,
                    copy_image=True,
                    **fields,
                )["image"]
                .numpy_image
            )
            ours = _ours(
                captions.RichLabelVisualizationV1,
                image=WorkflowImage.from_input(pixels, "p"),
                predictions=detections,
                **fields,
            )
            total += 1
            same += bool((theirs == ours).all())
    finally:
        captions.font_path = ours_font  # type: ignore[assignment]
    return same, total


def compare_heatmap(ref: Any) -> tuple[int, int]:
    """Eight-frame sequences interleaving two videos, with and without tracker ids."""
    same = total = 0
    for trial in range(20):
        frames = [
            (_pixels(120, 200), _detections(int(RNG.integers(0, 4)), tracked=trial % 2 == 0), video)
            for video in ["door", "cam", "cam", "door", "cam", "cam", "door", "cam"]
        ]
        fields = {
            "position": str(RNG.choice(["BOTTOM_CENTER", "CENTER", "TOP_LEFT"])),
            "opacity": float(RNG.choice([0.2, 0.6, 1.0])),
            "radius": int(RNG.integers(5, 40)),
            "kernel_size": int(RNG.integers(1, 30)),
            "top_hue": 0,
            "low_hue": 125,
            "ignore_stationary": trial % 4 < 2,
            "motion_threshold": int(RNG.integers(0, 40)),
        }
        block = ref.heatmap()
        theirs = [
            block.run(
                image=ref.image(pixels.copy()), predictions=detections, copy_image=True,
                metadata=types.SimpleNamespace(video_identifier=video), **fields,
            )["image"].numpy_image
            for pixels, detections, video in frames
        ]  # fmt: skip
        batch = [
            StepInputs(
                "s",
                heatmap.HeatmapVisualizationV1.type,
                {
                    "image": WorkflowImage.from_input(pixels, f"frame{number}"),
                    "predictions": detections,
                    "metadata": {
                        "video_identifier": video,
                        "frame_number": number,
                        "frame_timestamp": float(number),
                    },
                    **fields,
                },
            )
            for number, (pixels, detections, video) in enumerate(frames)
        ]
        ours = heatmap.HeatmapVisualizationV1().run_batch(batch, CONTEXT)
        total += 1
        same += all((a == b["image"].pixels_bgr).all() for a, b in zip(theirs, ours, strict=True))
    return same, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference-src", required=True, help="folder holding roboflow_workflows/")
    args = parser.parse_args()
    ref = _import_reference(args.reference_src)
    for name, compare in [
        ("text_display", compare_text_display),
        ("model_comparison_visualization", compare_model_comparison),
        ("grid_visualization", compare_grid),
        ("reference_path_visualization", compare_reference_path),
        ("icon_visualization", compare_icon),
        ("rich_label_visualization (same font file)", compare_rich_label),
        ("heatmap_visualization (8-frame sequences)", compare_heatmap),
    ]:
        same, total = compare(ref)
        print(f"{name}: {same} / {total} identical")


if __name__ == "__main__":
    main()
