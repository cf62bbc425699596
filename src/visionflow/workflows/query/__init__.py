"""The reference's small query language: operations on values and boolean statements, used by
``continue_if``, ``detections_filter`` and ``property_definition``."""

from visionflow.workflows.query.evaluate import QueryError, apply_operations, evaluate
from visionflow.workflows.query.operations import (
    SUPPORTED_OPERATIONS,
    Operation,
    StatementGroup,
)

__all__ = [
    "SUPPORTED_OPERATIONS",
    "Operation",
    "QueryError",
    "StatementGroup",
    "apply_operations",
    "evaluate",
]
