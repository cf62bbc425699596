"""The query language's syntax (pydantic, discriminated by ``type``), as the reference spells it.

Operations transform a value (``SequenceLength``, ``DetectionsPropertyExtract``...); statements
compare operands (``BinaryStatement``, ``UnaryStatement``) and combine them (``StatementGroup``).
An operand is a literal (``StaticOperand``) or a named parameter (``DynamicOperand``; ``_`` is the
current detection inside ``DetectionsFilter``), each with its own chain of operations.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BINARY_COMPARATORS",
    "SUPPORTED_OPERATIONS",
    "UNARY_OPERATORS",
    "BinaryStatement",
    "ClassificationProperty",
    "ClassificationPropertyExtract",
    "DetectionProperty",
    "DetectionsFilter",
    "DetectionsPropertyExtract",
    "DynamicOperand",
    "ExtractDetectionProperty",
    "LookupTable",
    "Operand",
    "Operation",
    "SequenceElementsCount",
    "SequenceLength",
    "Statement",
    "StatementGroup",
    "StaticOperand",
    "StringToLowerCase",
    "StringToUpperCase",
    "ToString",
    "UnaryStatement",
]

DetectionProperty = Literal[
    "confidence",
    "class_name",
    "class_id",
    "x_min",
    "x_max",
    "y_min",
    "y_max",
    "width",
    "height",
    "size",
    "center",
    "top_left",
    "top_right",
    "bottom_left",
    "bottom_right",
    "tracker_id",
]
ClassificationProperty = Literal[
    "top_class",
    "top_class_confidence",
    "top_class_confidence_single",
    "all_classes",
    "all_confidences",
]
BINARY_COMPARATORS = (
    "==",
    "!=",
    "(Number) ==",
    "(Number) !=",
    "(Number) >",
    "(Number) >=",
    "(Number) <",
    "(Number) <=",
    "(Number) in range",
    "(String) startsWith",
    "(String) endsWith",
    "(String) contains",
    "in (Sequence)",
    "any in (Sequence)",
    "all in (Sequence)",
)
UNARY_OPERATORS = (
    "Exists",
    "DoesNotExist",
    "(Boolean) is True",
    "(Boolean) is False",
    "(Sequence) is empty",
    "(Sequence) is not empty",
)


class _Syntax(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class StringToLowerCase(_Syntax):
    type: Literal["StringToLowerCase"]


class StringToUpperCase(_Syntax):
    type: Literal["StringToUpperCase"]


class ToString(_Syntax):
    type: Literal["ToString"]


class LookupTable(_Syntax):
    type: Literal["LookupTable"]
    lookup_table: dict[str, Any]


class SequenceLength(_Syntax):
    type: Literal["SequenceLength"]


class SequenceElementsCount(_Syntax):
    type: Literal["SequenceElementsCount"]


class DetectionsPropertyExtract(_Syntax):
    type: Literal["DetectionsPropertyExtract"]
    property_name: DetectionProperty


class ExtractDetectionProperty(_Syntax):
    type: Literal["ExtractDetectionProperty"]
    property_name: DetectionProperty


class ClassificationPropertyExtract(_Syntax):
    type: Literal["ClassificationPropertyExtract"]
    property_name: ClassificationProperty


class DetectionsFilter(_Syntax):
    type: Literal["DetectionsFilter"]
    filter_operation: StatementGroup


Operation = Annotated[
    StringToLowerCase
    | StringToUpperCase
    | ToString
    | LookupTable
    | SequenceLength
    | SequenceElementsCount
    | DetectionsPropertyExtract
    | ExtractDetectionProperty
    | ClassificationPropertyExtract
    | DetectionsFilter,
    Field(discriminator="type"),
]
SUPPORTED_OPERATIONS = (
    "StringToLowerCase",
    "StringToUpperCase",
    "ToString",
    "LookupTable",
    "SequenceLength",
    "SequenceElementsCount",
    "DetectionsPropertyExtract",
    "ExtractDetectionProperty",
    "ClassificationPropertyExtract",
    "DetectionsFilter",
)


class StaticOperand(_Syntax):
    type: Literal["StaticOperand"]
    value: Any
    operations: list[Operation] = Field(default_factory=list)


class DynamicOperand(_Syntax):
    type: Literal["DynamicOperand"]
    operand_name: str = "_"
    operations: list[Operation] = Field(default_factory=list)


Operand = Annotated[StaticOperand | DynamicOperand, Field(discriminator="type")]


class BinaryComparator(_Syntax):
    type: Literal[BINARY_COMPARATORS]  # type: ignore[valid-type]


class UnaryOperator(_Syntax):
    type: Literal[UNARY_OPERATORS]  # type: ignore[valid-type]


class BinaryStatement(_Syntax):
    type: Literal["BinaryStatement"]
    left_operand: Operand
    comparator: BinaryComparator
    right_operand: Operand
    negate: bool = False


class UnaryStatement(_Syntax):
    type: Literal["UnaryStatement"]
    operand: Operand
    operator: UnaryOperator
    negate: bool = False


class StatementGroup(_Syntax):
    type: Literal["StatementGroup"]
    statements: list[Statement] = Field(min_length=1)
    operator: Literal["and", "or"] = "or"


Statement = Annotated[
    BinaryStatement | UnaryStatement | StatementGroup, Field(discriminator="type")
]

for _model in (DetectionsFilter, StaticOperand, DynamicOperand, BinaryStatement, UnaryStatement):
    _model.model_rebuild()
StatementGroup.model_rebuild()
