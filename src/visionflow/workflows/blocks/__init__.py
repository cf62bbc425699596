"""The built-in ``roboflow_core`` blocks, registered through the ``visionflow.workflow_blocks``
entry point like any plugin's."""

from visionflow.workflows.block import Block
from visionflow.workflows.blocks.flow import FLOW_BLOCKS
from visionflow.workflows.blocks.formatters import FORMATTER_BLOCKS
from visionflow.workflows.blocks.models import MODEL_BLOCKS
from visionflow.workflows.blocks.transformations import TRANSFORMATION_BLOCKS
from visionflow.workflows.blocks.visualizations import VISUALIZATION_BLOCKS

__all__ = ["CORE_BLOCKS"]

CORE_BLOCKS: tuple[type[Block], ...] = (
    *MODEL_BLOCKS,
    *FLOW_BLOCKS,
    *FORMATTER_BLOCKS,
    *TRANSFORMATION_BLOCKS,
    *VISUALIZATION_BLOCKS,
)
