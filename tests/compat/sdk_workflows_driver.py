"""Runs inside the official inference-sdk's own virtualenv: runs workflows on a running server
and prints one JSON document with what each call returned. Usage:
    python sdk_workflows_driver.py API_URL API_KEY WORKSPACE DEMO_KEY IMAGE_PATH SPEC_PATH

SPEC_PATH holds the workflow definition (its ``model_id`` is a parameter); the same definition
must be stored as ``sdk-detect`` in WORKSPACE (the test stores it).
"""

import json
import sys
import warnings

warnings.simplefilter("ignore")

from inference_sdk import InferenceHTTPClient  # noqa: E402
from inference_sdk.http.errors import HTTPCallErrorError  # noqa: E402


def summary(outputs):
    return [
        {
            "count": o.get("count"),
            "image": o["predictions"]["image"],
            "predictions": [
                {k: p[k] for k in ("x", "y", "width", "height", "class", "class_id")}
                for p in o["predictions"]["predictions"]
            ],
            "keys": sorted(o),
            "preview_is_base64_text": isinstance(o.get("preview"), str),
        }
        for o in outputs
    ]


def main():
    api_url, api_key, workspace, demo_key, image_path, spec_path = sys.argv[1:7]
    with open(spec_path) as spec_file:
        specification = json.load(spec_file)
    client = InferenceHTTPClient(api_url=api_url, api_key=api_key)
    out = {}
    out["named"] = summary(
        client.run_workflow(
            workspace_name=workspace,
            workflow_id="sdk-detect",
            images={"image": image_path},
            parameters={"confidence": 0.5},
        )
    )
    out["named_excluded"] = summary(
        client.run_workflow(
            workspace_name=workspace,
            workflow_id="sdk-detect",
            images={"image": image_path},
            excluded_fields=["preview"],
            use_cache=False,
        )
    )
    out["inline_batch"] = summary(
        client.run_workflow(specification=specification, images={"image": [image_path, image_path]})
    )
    out["legacy_named"] = summary(
        client.infer_from_workflow(
            workspace_name=workspace, workflow_name="sdk-detect", images={"image": image_path}
        )
    )
    demo = InferenceHTTPClient(api_url=api_url, api_key=demo_key)
    out["demo_shapes"] = summary(
        demo.run_workflow(
            specification=specification,
            images={"image": image_path},
            parameters={"model_id": "shapes/1"},
        )
    )
    try:
        client.run_workflow(workspace_name=workspace, workflow_id="missing", images={})
        out["missing"] = "no error"
    except HTTPCallErrorError as error:
        out["missing"] = {"status": error.status_code, "message": error.api_message}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
