"""Runs inside the official inference-sdk's own virtualenv: drives an inference pipeline on a
running server through the SDK's stream API and prints one JSON document with what it saw.
Usage:
    python sdk_pipelines_driver.py API_URL API_KEY VIDEO SPEC_PATH

VIDEO is a file name in the server's VISIONFLOW_VIDEO_FOLDER; SPEC_PATH holds the workflow
definition (a detector and a tracker; outputs ``tracked``).
"""

import json
import sys
import time
import warnings

warnings.simplefilter("ignore")

from inference_sdk import InferenceHTTPClient  # noqa: E402
from inference_sdk.http.errors import HTTPCallErrorError  # noqa: E402

TIMEOUT_S = 90


def report(client, pipeline_id):
    return client.get_inference_pipeline_status(pipeline_id=pipeline_id)["report"]


def wait_for(condition, what):
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def take(client, pipeline_id, results):
    """One consume call; keeps (frame metadata, tracker ids, x) of each source's result."""
    answer = client.consume_inference_pipeline_result(
        pipeline_id=pipeline_id, excluded_fields=["metadata"]
    )
    for output, frame in zip(answer["outputs"], answer["frames_metadata"], strict=True):
        predictions = output["tracked"]["predictions"]
        results.append(
            {
                "frame_id": frame["frame_id"],
                "source_id": frame["source_id"],
                "has_timestamp": isinstance(frame["frame_timestamp"], str),
                "keys": sorted(output),
                "tracker_ids": [p["tracker_id"] for p in predictions],
                "x": [p["x"] for p in predictions],
            }
        )
    return answer


def main():
    api_url, api_key, video, spec_path = sys.argv[1:5]
    with open(spec_path) as spec_file:
        specification = json.load(spec_file)
    client = InferenceHTTPClient(api_url=api_url, api_key=api_key)
    out = {}
    started = client.start_inference_pipeline_with_workflow(
        video_reference=video,
        workflow_specification=specification,
        workflows_parameters={"confidence": 0.5},
        source_buffer_filling_strategy="WAIT",
        source_buffer_consumption_strategy="LAZY",
        results_buffer_size=256,
    )
    pipeline_id = started["context"]["pipeline_id"]
    out["initialise"] = {"status": started["status"], "has_id": bool(pipeline_id)}
    out["listed"] = client.list_inference_pipelines()["pipelines"] == [pipeline_id]
    results = []
    wait_for(lambda: report(client, pipeline_id)["frames_processed"] >= 10, "10 frames")
    running = report(client, pipeline_id)
    out["running"] = {
        "pipeline_state": running["pipeline_state"],
        "inference_throughput": running["inference_throughput"],
        "source_state": running["sources_metadata"][0]["state"],
    }
    out["pause"] = client.pause_inference_pipeline(pipeline_id=pipeline_id)["status"]
    time.sleep(0.5)  # a batch that was running when paused finishes
    paused = report(client, pipeline_id)
    time.sleep(0.5)
    out["paused"] = {
        "pipeline_state": paused["pipeline_state"],
        "stalled": report(client, pipeline_id)["frames_processed"] == paused["frames_processed"],
    }
    out["resume"] = client.resume_inference_pipeline(pipeline_id=pipeline_id)["status"]
    wait_for(
        lambda: report(client, pipeline_id)["frames_processed"] > paused["frames_processed"],
        "frames after resume",
    )
    out["resumed_state"] = report(client, pipeline_id)["pipeline_state"]
    # Everything until the end of the file and an empty buffer.
    deadline = time.monotonic() + TIMEOUT_S
    ended = False
    while time.monotonic() < deadline:
        answer = take(client, pipeline_id, results)
        if answer["outputs"]:
            continue
        if ended:
            break
        ended = report(client, pipeline_id)["pipeline_state"] == "ENDED"
        time.sleep(0 if ended else 0.02)
    final = report(client, pipeline_id)
    out["ended"] = {
        "pipeline_state": final["pipeline_state"],
        "frames_processed": final["frames_processed"],
        "source_state": final["sources_metadata"][0]["state"],
    }
    out["results"] = results
    out["terminate"] = client.terminate_inference_pipeline(pipeline_id=pipeline_id)["status"]
    out["listed_after"] = client.list_inference_pipelines()["pipelines"]
    try:
        client.get_inference_pipeline_status(pipeline_id=pipeline_id)
        out["gone"] = "no error"
    except HTTPCallErrorError as error:
        out["gone"] = {"status": error.status_code}
    try:
        client.start_inference_pipeline_with_workflow(
            video_reference="../outside.mp4", workflow_specification=specification
        )
        out["outside"] = "no error"
    except HTTPCallErrorError as error:
        out["outside"] = {"status": error.status_code, "message": error.api_message}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
