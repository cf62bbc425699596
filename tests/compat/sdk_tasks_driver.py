"""Runs inside the official inference-sdk's own virtualenv: one call per task against a running
server, printing one JSON document. Usage: python sdk_tasks_driver.py API_URL API_KEY IMAGE_PATH

Instance segmentation, keypoints and classification go through ``infer`` (v1 routes, picked from
the task type the server's registry reports); the SDK's v1 mode has no semantic-segmentation
route, so that task goes through v0 mode (the legacy route, which dispatches on the model's task).
"""

import json
import sys
import warnings

warnings.simplefilter("ignore")

from inference_sdk import InferenceConfiguration, InferenceHTTPClient  # noqa: E402


def main():
    api_url, api_key, image_path = sys.argv[1:4]
    client = InferenceHTTPClient(api_url=api_url, api_key=api_key)
    out = {}
    out["instance-segmentation"] = client.infer(image_path, model_id="shapes-seg/1")
    rle = client.configure(InferenceConfiguration(response_mask_format="rle"))
    out["instance-segmentation-rle"] = rle.infer(image_path, model_id="shapes-seg/1")
    client = InferenceHTTPClient(api_url=api_url, api_key=api_key)
    out["keypoint-detection"] = client.infer(image_path, model_id="keypoints/1")
    out["classification"] = client.infer(image_path, model_id="shapes-cls/1")
    out["registry"] = [[m.model_id, m.task_type] for m in client.list_loaded_models().models]
    with client.use_api_v0():
        out["semantic-segmentation"] = client.infer(image_path, model_id="semantic/1")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
