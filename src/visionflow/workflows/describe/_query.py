"""The query language as ``/workflows/blocks/describe`` reports it: each supported operation and
operator with the kinds it takes and gives, and the JSON schema of its syntax (``uql_defs``)."""

from __future__ import annotations

import typing
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter

from visionflow.workflows import kinds as k
from visionflow.workflows.query import SUPPORTED_OPERATIONS, Operation, StatementGroup
from visionflow.workflows.query.operations import BINARY_COMPARATORS, UNARY_OPERATORS

__all__ = ["query_language_defs", "query_language_description"]

_DETECTIONS = list(k.DETECTION_KINDS)
_NUMBERS = [k.INTEGER, k.FLOAT, k.FLOAT_ZERO_TO_ONE]
_COMPARABLE = [k.INTEGER, k.STRING, k.FLOAT, k.FLOAT_ZERO_TO_ONE, k.BOOLEAN, k.LIST_OF_VALUES]
_SEQUENCES = [*_DETECTIONS, k.LIST_OF_VALUES, k.DICTIONARY]


_D = _DETECTIONS
_N = _NUMBERS
_S, _L, _W, _I = [k.STRING], [k.LIST_OF_VALUES], [k.WILDCARD], [k.INTEGER]
_DICT, _IMAGE = [k.DICTIONARY], [k.IMAGE]

# operation → (input kinds, output kinds[, nested operation input kinds, nested output kinds]);
# an operation not listed (a newer one) is described as taking and giving any kind.
_OPERATIONS: dict[str, tuple[list[str], ...]] = {
    "StringToLowerCase": (_S, _S),
    "StringToUpperCase": (_S, _S),
    "LookupTable": (_W, _W),
    "ToNumber": ([k.STRING, k.BOOLEAN, *_N], _N),
    "NumberRound": (_N, _N),
    "SequenceMap": (_L, _L, _W, _W),
    "SequenceApply": (_L, _L, _W, _W),
    "NumericSequenceAggregate": (_L, _N),
    "ToString": (_W, _S),
    "ToBoolean": ([k.FLOAT, k.FLOAT_ZERO_TO_ONE, k.INTEGER], [k.BOOLEAN]),
    "StringSubSequence": (_S, _S),
    "DetectionsPropertyExtract": (_D, _L),
    "SequenceAggregate": (_L, _W),
    "ExtractDetectionProperty": (["detection"], _W),
    "DetectionsFilter": (_D, _D, ["detection"], [k.BOOLEAN]),
    "DetectionsOffset": (_D, _D),
    "DetectionsShift": (_D, _D),
    "DetectionsRename": (_D, _D),
    "RandomNumber": ([*_D, k.WILDCARD], [k.FLOAT, k.FLOAT_ZERO_TO_ONE]),
    "StringMatches": (_S, [k.BOOLEAN]),
    "ExtractImageProperty": (_IMAGE, _I),
    "ExtractFrameMetadata": (_IMAGE, [k.INTEGER, k.FLOAT, "timestamp"]),
    "SequenceLength": (_SEQUENCES, _I),
    "SequenceElementsCount": (_L, _DICT),
    "SequenceJoin": (_L, _S),
    "Multiply": (_N, _N),
    "Divide": (_N, _N),
    "DetectionsSelection": (_D, _D),
    "SortDetections": (_D, _D),
    "ClassificationPropertyExtract": (
        [k.CLASSIFICATION_PREDICTION],
        [*_S, *_L, k.FLOAT_ZERO_TO_ONE],
    ),
    "ConvertImageToJPEG": (_IMAGE, ["bytes"]),
    "ConvertImageToBase64": (_IMAGE, _S),
    "DetectionsToDictionary": (_D, _DICT),
    "ConvertDictionaryToJSON": (_DICT, _S),
    "PickDetectionsByParentClass": (_D, _D),
    "TimestampToISOFormat": (["timestamp"], _S),
}


def _operation_models() -> dict[str, type[BaseModel]]:
    """Operation name → its syntax model, read from the ``Operation`` union."""
    union = typing.get_args(Operation)[0]
    models: dict[str, type[BaseModel]] = {}
    for model in typing.get_args(union):
        literal = model.model_fields["type"].annotation
        for name in typing.get_args(literal):
            models[str(name)] = model
    return models


def _property_options(model: type[BaseModel] | None) -> list[str] | None:
    field = model.model_fields.get("property_name") if model is not None else None
    if field is None or typing.get_origin(field.annotation) is not Literal:
        return None
    return [str(option) for option in typing.get_args(field.annotation)]


def _operator_kinds(operator: str) -> list[list[str]]:
    if operator == "(Detection) in zone":
        # Sic: the reference lists both operands' kinds in one entry.
        return [["detection", "zone"]]
    if operator in ("==", "!=", "(Number) ==", "(Number) !="):
        return [_COMPARABLE, _COMPARABLE]
    if operator == "(Number) in range":
        return [_NUMBERS, [k.LIST_OF_VALUES]]
    if operator.startswith("(Number)"):
        return [_NUMBERS, _NUMBERS]
    if operator.startswith("(String)"):
        return [[k.STRING], [k.STRING]]
    if operator == "in (Sequence)":
        return [[k.WILDCARD], [k.LIST_OF_VALUES]]
    if operator.endswith("in (Sequence)"):
        return [[k.LIST_OF_VALUES], [k.LIST_OF_VALUES]]
    if operator.startswith("(Boolean)"):
        return [[k.BOOLEAN]]
    if operator.startswith("(Sequence)"):
        return [_SEQUENCES]
    return [[k.WILDCARD]]


def query_language_description() -> dict[str, Any]:
    """``{"operations_description": [...], "operators_descriptions": [...]}`` for what this
    server evaluates."""
    models = _operation_models()
    operations = []
    for name in SUPPORTED_OPERATIONS:
        inputs, outputs, *nested = _OPERATIONS.get(name, (_W, _W))
        nested_in, nested_out = nested or (None, None)
        operations.append(
            {
                "operation_type": name,
                "compound": nested_in is not None,
                "input_kind": inputs,
                "output_kind": outputs,
                "nested_operation_input_kind": nested_in,
                "nested_operation_output_kind": nested_out,
                "property_name_options": _property_options(models.get(name)),
                "description": None,
            }
        )
    operators = []
    for operator in (*BINARY_COMPARATORS, *UNARY_OPERATORS):
        kinds = _operator_kinds(operator)
        operators.append(
            {
                "operator_type": operator,
                "operands_number": 2 if operator in BINARY_COMPARATORS else len(kinds),
                "operands_kinds": kinds,
                "description": None,
            }
        )
    return {"operations_description": operations, "operators_descriptions": operators}


def query_language_defs() -> dict[str, Any]:
    """JSON schemas of the query language's syntax (operations, statements), by name."""
    defs: dict[str, Any] = {}
    for adapter in (TypeAdapter(Operation), TypeAdapter(StatementGroup)):
        schema = adapter.json_schema()
        defs.update(schema.pop("$defs", {}))
        title = schema.get("title")
        if isinstance(title, str) and "$ref" not in schema:
            defs.setdefault(title, schema)
    return defs
