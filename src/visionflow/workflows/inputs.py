"""A run's inputs, read into its execution state: batch inputs become one element per image of
the batch (a single value is repeated), images are decoded into ``WorkflowImage``s (with their
video metadata), serialized kinds are deserialized (``deserialize``), and every value is checked
for nesting depth. Errors are ``RuntimeInputError``s naming the input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from visionflow.errors import VisionflowError
from visionflow.workflows.deserialize import deserialize_input
from visionflow.workflows.errors import BlockError, RuntimeInputError, WorkflowError
from visionflow.workflows.lineage import WorkflowImage
from visionflow.workflows.nesting import MAX_INPUT_DEPTH, nesting_depth
from visionflow.workflows.plan import CompiledInput, CompiledWorkflow
from visionflow.workflows.state import INPUTS, ExecutionState
from visionflow.workflows.video_metadata import VideoMetadata

__all__ = ["ImageDecoder", "assemble_inputs"]

# Turns one runtime image value (an image object, a base64 string, a URL) into BGR pixels.
ImageDecoder = Callable[[Any], npt.NDArray[np.uint8]]


def _input_error(
    declared: CompiledInput, message: str, details: str | None = None, **extra: Any
) -> RuntimeInputError:
    """The 400 of a bad value for ``declared``, its block error pointing at ``inputs.<name>``."""
    return RuntimeInputError(
        message,
        blocks_errors=[BlockError(None, None, f"inputs.{declared.name}", details)],
        **extra,
    )


def _batch_size(plan: CompiledWorkflow, inputs: Mapping[str, Any]) -> int:
    for declared in plan.inputs:
        value = inputs.get(declared.name)
        if declared.is_batch and isinstance(value, list) and len(value) > 1:
            return len(value)
    return 1


def _video_metadata(declared: CompiledInput, value: Any) -> VideoMetadata:
    try:
        return VideoMetadata.from_dict(value)
    except ValueError as exc:
        raise _input_error(
            declared,
            f"Workflow input {declared.name!r}: could not read video metadata: {exc}",
            str(exc),
        ) from None


def _deserialized(declared: CompiledInput, value: Any, identifier: str, depth: int = 1) -> Any:
    """A batch input's element read by its kinds (``deserialize``); an input declared with
    dimensionality > 1 is read element by element of its nested lists."""
    dimensionality = getattr(declared.declaration, "dimensionality", 1)
    if depth >= dimensionality:
        return deserialize_input(declared.name, identifier, declared.kinds, value)
    if not isinstance(value, list):
        details = (
            f"declared with dimensionality {dimensionality}, but its data has no list at "
            f"level {depth}"
        )
        raise _input_error(declared, f"Workflow input {identifier!r} is {details}", details)
    return [
        _deserialized(declared, item, f"{identifier}.[{i}]", depth + 1)
        for i, item in enumerate(value)
    ]


def _decode(declared: CompiledInput, value: Any, decode_image: ImageDecoder, image_id: str) -> Any:
    if declared.is_video_metadata:
        return _video_metadata(declared, value)
    if not declared.is_image:
        return _deserialized(declared, value, image_id)
    if value is None:
        raise RuntimeInputError(f"Workflow input {declared.name!r}: an image is null")
    metadata = None
    if isinstance(value, dict) and value.get("video_metadata") is not None:
        metadata = _video_metadata(declared, value["video_metadata"])
    try:
        return WorkflowImage.from_input(decode_image(value), image_id, metadata)
    except WorkflowError:
        raise
    except VisionflowError as exc:
        # The reference's body for a bad image input: a RuntimeInputError with its cause.
        raise _input_error(
            declared,
            f"Workflow input {declared.name!r}: {exc.message}",
            exc.message,
            inner=exc,
            status_code=exc.status_code,
        ) from None


def _read(declared: CompiledInput, inputs: Mapping[str, Any]) -> Any:
    """The value given for ``declared`` (its default when absent), no deeper than
    ``MAX_INPUT_DEPTH`` levels of lists and objects."""
    value = inputs.get(declared.name, None if declared.is_batch else declared.default_value)
    depth = nesting_depth(value, MAX_INPUT_DEPTH)
    if depth > MAX_INPUT_DEPTH:
        details = (
            f"nests lists/objects more than {MAX_INPUT_DEPTH} levels deep; workflow inputs may "
            f"nest at most {MAX_INPUT_DEPTH} levels"
        )
        raise _input_error(declared, f"Workflow input {declared.name!r} {details}", details)
    return value


def assemble_inputs(
    plan: CompiledWorkflow, inputs: Mapping[str, Any], decode_image: ImageDecoder
) -> ExecutionState:
    size = _batch_size(plan, inputs)
    state = ExecutionState(size)
    for declared in plan.inputs:
        if not declared.is_batch:
            state.put(INPUTS, declared.name, (), _read(declared, inputs))
            continue
        value = _read(declared, inputs)
        if value is None:
            raise _input_error(
                declared,
                f"Workflow input {declared.name!r} ({declared.declaration.type}, kinds "
                f"{list(declared.kinds)}) is required but was not given in 'inputs'",
            )
        if not isinstance(value, list):
            element = _decode(declared, value, decode_image, declared.name)
            elements = [element] * size
        else:
            elements = [
                _decode(declared, item, decode_image, f"{declared.name}.[{i}]")
                for i, item in enumerate(value)
            ]
            if len(elements) == 1 and size > 1:
                elements = elements * size
        if len(elements) != size:
            raise _input_error(
                declared,
                "Expected all batch-oriented workflow inputs to have the same length, or length "
                f"1, but {declared.name!r} has {len(elements)} elements where the batch size "
                f"is {size}.",
            )
        for i, element in enumerate(elements):
            state.put(INPUTS, declared.name, (i,), element)
    return state
