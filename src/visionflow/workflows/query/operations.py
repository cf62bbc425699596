"""The query language's syntax (pydantic, discriminated by ``type``), as the reference spells it.

Operations transform a value (``SequenceLength``, ``DetectionsPropertyExtract``...); statements
compare operands (``BinaryStatement``, ``UnaryStatement``) and combine them (``StatementGroup``).
An operand is a literal (``StaticOperand``) or a named parameter (``DynamicOperand``; ``_`` is the
current detection inside ``DetectionsFilter``), each with its own chain of operations.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = [
    "BINARY_COMPARATORS",
    "MAX_CLASS_ID",
    "MAX_FACTOR",
    "MAX_OFFSET_PX",
    "MAX_ROUND_DIGITS",
    "MAX_SEPARATOR_CHARS",
    "SUPPORTED_OPERATIONS",
    "UNARY_OPERATORS",
    "BinaryStatement",
    "ClassificationProperty",
    "ClassificationPropertyExtract",
    "ConvertDictionaryToJSON",
    "ConvertImageToBase64",
    "ConvertImageToJPEG",
    "DetectionProperty",
    "DetectionsFilter",
    "DetectionsOffset",
    "DetectionsPropertyExtract",
    "DetectionsRename",
    "DetectionsSelection",
    "DetectionsShift",
    "DetectionsToDictionary",
    "Divide",
    "DynamicOperand",
    "ExtractDetectionProperty",
    "ExtractFrameMetadata",
    "ExtractImageProperty",
    "FrameMetadataProperty",
    "LookupTable",
    "Multiply",
    "NumberRound",
    "NumericSequenceAggregate",
    "Operand",
    "Operation",
    "PickDetectionsByParentClass",
    "RandomNumber",
    "SequenceAggregate",
    "SequenceApply",
    "SequenceElementsCount",
    "SequenceJoin",
    "SequenceLength",
    "SequenceMap",
    "SortDetections",
    "Statement",
    "StatementGroup",
    "StaticOperand",
    "StringMatches",
    "StringSubSequence",
    "StringToLowerCase",
    "StringToUpperCase",
    "TimestampToISOFormat",
    "ToBoolean",
    "ToNumber",
    "ToString",
    "UnaryStatement",
]

# In the reference's order. ``width`` and ``height`` are ``bounding_rect``'s when a detection
# has them, else the box's; the data-backed ones (``velocity``, ``rect``...) are None when absent.
DetectionProperty = Literal[
    "confidence",
    "class_name",
    "x_min",
    "x_max",
    "y_min",
    "y_max",
    "size",
    "class_id",
    "center",
    "top_left",
    "top_right",
    "bottom_left",
    "bottom_right",
    "in_out",
    "path_deviation",
    "polygon",
    "time_in_zone",
    "tracker_id",
    "velocity",
    "speed",
    "smoothed_velocity",
    "smoothed_speed",
    "image_dimensions",
    "prediction_type",
    "keypoints_xy",
    "rect",
    "width",
    "height",
    "angle",
    "area_px",
    "area_converted",
]
FrameMetadataProperty = Literal["frame_number", "frame_timestamp", "seconds_since_start"]
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
    "(Detection) in zone",
)
UNARY_OPERATORS = (
    "Exists",
    "DoesNotExist",
    "(Boolean) is True",
    "(Boolean) is False",
    "(Sequence) is empty",
    "(Sequence) is not empty",
)


# Argument ranges: wide enough for any real use, narrow enough that no argument makes one
# operation costly (``round(1, -10**7)`` computes a ten-million-digit power of ten).
MAX_ROUND_DIGITS = 100
MAX_FACTOR = 1e300  # Multiply / Divide ``other``; results past float range are refused too
MAX_OFFSET_PX = 1_000_000
MAX_CLASS_ID = 2**31 - 1
MAX_SEPARATOR_CHARS = 1000


def _text(bound: float) -> str:
    return str(bound) if isinstance(bound, int) else f"{bound:g}"


def _within(low: float, high: float, what: str) -> AfterValidator:
    """A validator refusing numbers outside ``[low, high]`` (NaN included) with a message that
    names the argument and the range."""

    def check(value: Any) -> Any:
        if not low <= value <= high:
            raise ValueError(f"{what} must be within [{_text(low)}, {_text(high)}], got {value!r}")
        return value

    return AfterValidator(check)


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


class ToNumber(_Syntax):
    type: Literal["ToNumber"]
    cast_to: Literal["int", "float"]


class NumberRound(_Syntax):
    type: Literal["NumberRound"]
    decimal_digits: Annotated[
        int, _within(-MAX_ROUND_DIGITS, MAX_ROUND_DIGITS, "NumberRound decimal_digits")
    ]


class Multiply(_Syntax):
    type: Literal["Multiply"]
    other: Annotated[int | float, _within(-MAX_FACTOR, MAX_FACTOR, "Multiply other")]


class Divide(_Syntax):
    type: Literal["Divide"]
    other: Annotated[int | float, _within(-MAX_FACTOR, MAX_FACTOR, "Divide other")]


class ToBoolean(_Syntax):
    type: Literal["ToBoolean"]


class StringSubSequence(_Syntax):
    type: Literal["StringSubSequence"]
    start: int = 0
    end: int = -1


class StringMatches(_Syntax):
    type: Literal["StringMatches"]
    regex: str


class SequenceMap(_Syntax):
    type: Literal["SequenceMap"]
    lookup_table: dict[str, Any]


class SequenceApply(_Syntax):
    type: Literal["SequenceApply"]
    operations: list[Operation]


class NumericSequenceAggregate(_Syntax):
    type: Literal["NumericSequenceAggregate"]
    function: Literal["min", "max", "sum"]
    neutral_value: Any = None


class SequenceAggregate(_Syntax):
    type: Literal["SequenceAggregate"]
    mode: Literal["first", "last", "most_common", "least_common"]


class SequenceJoin(_Syntax):
    type: Literal["SequenceJoin"]
    separator: Annotated[str, Field(max_length=MAX_SEPARATOR_CHARS)] = ", "


class RandomNumber(_Syntax):
    type: Literal["RandomNumber"]
    min_value: Annotated[float, _within(-MAX_FACTOR, MAX_FACTOR, "RandomNumber min_value")] = 0.0
    max_value: Annotated[float, _within(-MAX_FACTOR, MAX_FACTOR, "RandomNumber max_value")] = 1.0


class DetectionsOffset(_Syntax):
    type: Literal["DetectionsOffset"]
    offset_x: Annotated[int, _within(-MAX_OFFSET_PX, MAX_OFFSET_PX, "DetectionsOffset offset_x")]
    offset_y: Annotated[int, _within(-MAX_OFFSET_PX, MAX_OFFSET_PX, "DetectionsOffset offset_y")]


class DetectionsShift(_Syntax):
    type: Literal["DetectionsShift"]
    shift_x: Annotated[int, _within(-MAX_OFFSET_PX, MAX_OFFSET_PX, "DetectionsShift shift_x")]
    shift_y: Annotated[int, _within(-MAX_OFFSET_PX, MAX_OFFSET_PX, "DetectionsShift shift_y")]


class DetectionsRename(_Syntax):
    type: Literal["DetectionsRename"]
    class_map: dict[str, str] | str
    strict: bool | str = True
    new_classes_id_offset: Annotated[
        int, _within(0, MAX_CLASS_ID, "DetectionsRename new_classes_id_offset")
    ] = 1024


class DetectionsSelection(_Syntax):
    type: Literal["DetectionsSelection"]
    mode: Literal["left_most", "right_most", "top_confidence", "first", "last"]


class SortDetections(_Syntax):
    type: Literal["SortDetections"]
    mode: Literal["confidence", "x_min", "x_max", "y_min", "y_max", "size", "center_x", "center_y"]
    ascending: bool = True


class DetectionsToDictionary(_Syntax):
    type: Literal["DetectionsToDictionary"]


class ExtractImageProperty(_Syntax):
    type: Literal["ExtractImageProperty"]
    property_name: Literal["size", "height", "width", "aspect_ratio"]


class ExtractFrameMetadata(_Syntax):
    type: Literal["ExtractFrameMetadata"]
    property_name: FrameMetadataProperty


class PickDetectionsByParentClass(_Syntax):
    type: Literal["PickDetectionsByParentClass"]
    parent_class: str


class ConvertImageToJPEG(_Syntax):
    type: Literal["ConvertImageToJPEG"]
    compression_level: Annotated[int, Field(ge=1, le=100)] = 95


class ConvertImageToBase64(_Syntax):
    type: Literal["ConvertImageToBase64"]


class ConvertDictionaryToJSON(_Syntax):
    type: Literal["ConvertDictionaryToJSON"]


class TimestampToISOFormat(_Syntax):
    type: Literal["TimestampToISOFormat"]


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
    | DetectionsFilter
    | ToNumber
    | NumberRound
    | Multiply
    | Divide
    | ToBoolean
    | StringSubSequence
    | StringMatches
    | SequenceMap
    | SequenceApply
    | NumericSequenceAggregate
    | SequenceAggregate
    | SequenceJoin
    | RandomNumber
    | DetectionsOffset
    | DetectionsShift
    | DetectionsRename
    | DetectionsSelection
    | SortDetections
    | DetectionsToDictionary
    | ExtractImageProperty
    | ExtractFrameMetadata
    | ConvertImageToJPEG
    | ConvertImageToBase64
    | ConvertDictionaryToJSON
    | PickDetectionsByParentClass
    | TimestampToISOFormat,
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
    "ToNumber",
    "NumberRound",
    "Multiply",
    "Divide",
    "ToBoolean",
    "StringSubSequence",
    "StringMatches",
    "SequenceMap",
    "SequenceApply",
    "NumericSequenceAggregate",
    "SequenceAggregate",
    "SequenceJoin",
    "RandomNumber",
    "DetectionsOffset",
    "DetectionsShift",
    "DetectionsRename",
    "DetectionsSelection",
    "SortDetections",
    "DetectionsToDictionary",
    "ExtractImageProperty",
    "ExtractFrameMetadata",
    "ConvertImageToJPEG",
    "ConvertImageToBase64",
    "ConvertDictionaryToJSON",
    "PickDetectionsByParentClass",
    "TimestampToISOFormat",
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

for _model in (
    DetectionsFilter,
    SequenceApply,
    StaticOperand,
    DynamicOperand,
    BinaryStatement,
    UnaryStatement,
):
    _model.model_rebuild()
StatementGroup.model_rebuild()
