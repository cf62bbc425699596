"""Package the demo keypoint model as a visionflow model package folder.

An Ultralytics pose ONNX carries class names, input size and ``kpt_shape`` in its metadata, but
visionflow's importer does not take keypoint names or a skeleton from it. A *visionflow model
package* holds them: a folder with

- ``model.json``: the manifest (``visionflow-model-package/1``, see
  ``visionflow.models.manifest.ModelManifest`` and docs/model-package.md): task, architecture,
  class names, input preprocessing, the weight files with their sha256, and ``extra``, where a
  keypoint model keeps ``extra["keypoints"] = {"count": K, "names": {"<class id>": [K names]},
  "skeleton": [[a, b], ...]}``;
- ``weights.onnx``: the graph named by ``weights.model.file``.

The server recognizes such a folder by its ``model.json`` (``visionflow.models.importers
.detect_format``) and loads it as it is (``ModelPackage.from_folder`` checks each weight's
sha256), so ``visionflow models add <workspace> keypoints/1 <folder>`` or the demo registration
use the names and skeleton without further flags.

This script imports the ONNX with ``import_ultralytics_onnx`` (so input size, letterbox and class
names are exactly what the server would infer from the file), adds the corner names and the
square's outline as skeleton, and writes the folder. Run it with the server's environment,
from the repository root, after ``scripts/train_shapes.py --task pose``::

    .venv/bin/python scripts/package_demo.py                       # /tmp/shapes-pose.onnx
    .venv/bin/python scripts/package_demo.py --onnx other.onnx --out /tmp/pkg

Keypoints are the shape corners of ``scripts/shapes.py`` (``shapes.corner_keypoints``): slot 1 is
the top-most corner, the others follow clockwise; squares fill 4 slots, triangles 3, circles
none. The same names apply to every class.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

import shapes  # noqa: E402

from visionflow.models.importers import import_ultralytics_onnx  # noqa: E402
from visionflow.models.package import ModelPackage  # noqa: E402

DEFAULT_ONNX = Path("/tmp/shapes-pose.onnx")
DEFAULT_OUT = REPO / "src" / "visionflow" / "demo" / "models" / "shapes-pose"
# The outline of a square; for a triangle the last two edges touch the empty slot 4 and are
# not drawn when that keypoint is below the confidence threshold.
SKELETON: list[list[int]] = [[0, 1], [1, 2], [2, 3], [3, 0]]


def build_package(onnx_path: Path) -> ModelPackage:
    """Import ``onnx_path`` and add keypoint names and skeleton to its manifest."""
    package = import_ultralytics_onnx(onnx_path)
    manifest = package.manifest
    if manifest.task != "keypoint-detection":
        raise SystemExit(f"{onnx_path} is a {manifest.task} model, not keypoint detection")
    count = int(manifest.extra["keypoints"]["count"])
    if count != shapes.NUM_KEYPOINTS:
        raise SystemExit(f"{onnx_path} has {count} keypoints, expected {shapes.NUM_KEYPOINTS}")
    names = {str(i): list(shapes.KEYPOINT_NAMES) for i in range(len(manifest.class_names))}
    extra = dict(manifest.extra)
    extra["keypoints"] = {"count": count, "names": names, "skeleton": SKELETON}
    # Validate through the model again (model_copy does not), then keep the frozen result.
    updated = type(manifest).create(
        onnx_path.name, **manifest.model_copy(update={"extra": extra}).model_dump()
    )
    return ModelPackage(manifest=updated, files=package.files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", type=Path, default=DEFAULT_ONNX, help="Ultralytics pose ONNX")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="package folder to write")
    args = parser.parse_args(argv)
    package = build_package(args.onnx)
    if args.out.exists():
        shutil.rmtree(args.out)
    package.write_folder(args.out)
    # Re-read as the server will: manifest schema and weight sha256.
    check = ModelPackage.from_folder(args.out)
    print(json.dumps({"folder": str(args.out), "checksum": check.checksum}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
