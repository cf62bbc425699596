"""Small builders of inline workflow definitions (``POST /workflows/run`` specifications): steps,
outputs, inputs and the query-language operands. Used by ``run.py`` (``make bench``) and by the
catalogue of ``compare_peer_workflows.py`` (``peer_workflow_cases.py``).
"""

from __future__ import annotations

from typing import Any

# The shapes demo detector, as `compare_peer.py prepare` registers it on both servers.
DETECTOR_ID = "shapes-det/1"
PREDS = "$steps.det.predictions"
IMAGE_INPUT = {"type": "WorkflowImage", "name": "image"}
COUNT = {"type": "SequenceLength"}


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


def crop(name: str = "crop", **extra: Any) -> dict[str, Any]:
    """``dynamic_crop`` of the input image by the ``det`` step's boxes."""
    return step("dynamic_crop@v1", name, images="$inputs.image", predictions=PREDS, **extra)


def prop_def(name: str, *operations: dict[str, Any], data: str = PREDS) -> dict[str, Any]:
    return step("property_definition@v1", name, data=data, operations=list(operations))


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


def param(name: str, **default: Any) -> dict[str, Any]:
    """A ``WorkflowParameter`` input; ``default_value=...`` optional."""
    return {"type": "WorkflowParameter", "name": name, **default}


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


def detection_property(name: str) -> dict[str, Any]:
    """The operand of a detections-filter statement: one property of the detection."""
    return dyn("_", {"type": "ExtractDetectionProperty", "property_name": name})
