"""Reference blocks visionflow does not run: every ``roboflow_core`` id of the reference
(``shared/spec/workflow-blocks.json``, read by the test only) is registered or listed with its
reason, and a workflow using a listed one fails to compile naming the block and the reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.workflows.fakes import definition
from visionflow.workflows import BlockRegistry, compile_workflow
from visionflow.workflows.blocks import CORE_BLOCKS
from visionflow.workflows.describe import BlocksDescriber
from visionflow.workflows.errors import WorkflowSyntaxError
from visionflow.workflows.unsupported import UNSUPPORTED_BLOCKS, unsupported_details

SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "spec" / "workflow-blocks.json"
REGISTERED = {block.type for block in CORE_BLOCKS}


@pytest.fixture(scope="module")
def reference() -> dict[str, dict[str, Any]]:
    if not SPEC.is_file():
        pytest.fail(f"{SPEC} is not available: this test needs ../shared/spec")
    return {block["type"]: block for block in json.loads(SPEC.read_text())["blocks"]}


def test_every_reference_block_is_registered_or_listed(
    reference: dict[str, dict[str, Any]],
) -> None:
    unaccounted = set(reference) - REGISTERED - set(UNSUPPORTED_BLOCKS)
    assert unaccounted == set()


def test_listed_blocks_are_reference_blocks_that_are_not_registered(
    reference: dict[str, dict[str, Any]],
) -> None:
    assert set(UNSUPPORTED_BLOCKS) <= set(reference)
    assert set(UNSUPPORTED_BLOCKS) & REGISTERED == set()


def test_names_and_aliases_are_the_reference_ones(reference: dict[str, dict[str, Any]]) -> None:
    for type_id, found in UNSUPPORTED_BLOCKS.items():
        assert found.name == reference[type_id]["name"], type_id
        assert set(found.aliases) == set(reference[type_id]["aliases"]), type_id


def _compile_with(block_type: str) -> None:
    workflow = definition(
        [{"type": block_type, "name": "seg", "images": "$inputs.image"}],
        {"out": "$steps.seg.predictions"},
    )
    compile_workflow(workflow, BlockRegistry())


@pytest.mark.parametrize(
    ("block_type", "expected"),
    [
        pytest.param(
            "roboflow_core/sam3@v1",
            "block type 'roboflow_core/sam3@v1' (SAM 3) is a reference block visionflow does not "
            "run: it needs a model visionflow does not have (SAM 3",
            id="weights",
        ),
        pytest.param(
            "CogVLM",
            "block type 'CogVLM' (CogVLM; roboflow_core/cog_vlm@v1) is a reference block",
            id="by-alias",
        ),
        pytest.param(
            "roboflow_core/roboflow_custom_metadata@v1",
            "(Roboflow Custom Metadata; alias 'RoboflowCustomMetadata') is a reference block "
            "visionflow does not run: it needs the Roboflow platform",
            id="platform-names-alias",
        ),
    ],
)
def test_compile_error_names_the_block_and_why(block_type: str, expected: str) -> None:
    with pytest.raises(WorkflowSyntaxError) as caught:
        _compile_with(block_type)
    assert expected in str(caught.value)
    assert "unknown block type" not in str(caught.value)


def test_other_unknown_types_keep_their_hint() -> None:
    with pytest.raises(WorkflowSyntaxError, match="unknown block type 'roboflow_core/sam4@v1'"):
        _compile_with("roboflow_core/sam4@v1")
    assert unsupported_details("roboflow_core/sam4@v1") is None


def test_dynamic_outputs_name_it_too() -> None:
    with pytest.raises(WorkflowSyntaxError, match=r"'Florence-2 Model'|\(Florence-2 Model\)"):
        BlocksDescriber(BlockRegistry()).dynamic_outputs(
            {"type": "roboflow_core/florence_2@v1", "name": "f"}
        )
