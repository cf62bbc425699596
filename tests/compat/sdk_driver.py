"""Runs inside the official inference-sdk's own virtualenv (not ours): drives a running server
and prints one JSON document with what each call returned. Usage:
    python sdk_driver.py API_URL API_KEY MODEL_ID IMAGE_PATH
"""

import json
import sys
import warnings

warnings.simplefilter("ignore")

import numpy as np  # noqa: E402
from inference_sdk import InferenceConfiguration, InferenceHTTPClient  # noqa: E402
from inference_sdk.http.errors import HTTPCallErrorError  # noqa: E402


def summary(result):
    return {
        "image": result["image"],
        "predictions": [
            {k: p[k] for k in ("x", "y", "width", "height", "class", "class_id", "confidence")}
            for p in result["predictions"]
        ],
    }


def main():
    api_url, api_key, model_id, image_path = sys.argv[1:5]
    out = {}
    body_client = InferenceHTTPClient(api_url=api_url, api_key=api_key)
    out["single_body_key"] = summary(body_client.infer(image_path, model_id=model_id))
    batch = body_client.infer(
        [image_path, np.full((50, 100, 3), 90, dtype=np.uint8)], model_id=model_id
    )
    out["list_body_key"] = [summary(r) for r in batch]

    header_client = InferenceHTTPClient(api_url=api_url, api_key=api_key).configure(
        InferenceConfiguration(api_key_transport="header", confidence_threshold=0.5)
    )
    out["single_header_key"] = summary(header_client.infer(image_path, model_id=model_id))

    out["loaded_after_infer"] = [m.model_id for m in body_client.list_loaded_models().models]
    body_client.unload_model(model_id)
    out["loaded_after_unload"] = [m.model_id for m in body_client.list_loaded_models().models]
    loaded = body_client.load_model(model_id)
    out["load_model"] = [(m.model_id, m.task_type) for m in loaded.models]
    out["server_info"] = body_client.get_server_info().name

    try:
        InferenceHTTPClient(api_url=api_url, api_key="vf_wrong").infer(
            image_path, model_id=model_id
        )
        out["wrong_key"] = "no error"
    except HTTPCallErrorError as error:
        out["wrong_key"] = {"status": error.status_code, "message": error.api_message}

    anonymous = InferenceHTTPClient(api_url=api_url)
    out["anonymous_demo"] = summary(anonymous.infer(image_path, model_id="known/1"))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
