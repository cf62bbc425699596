"""Workflows: definition → compiled plan → executor, with blocks as plugins.

``compile_workflow`` (or a caching ``Compiler``) turns a definition into a ``CompiledWorkflow``;
``Executor.run`` runs it on a request's inputs with an injected ``ModelRunner``. Blocks come from
the ``visionflow.workflow_blocks`` entry points (``BlockRegistry``).
"""

from visionflow.workflows.block import (
    Block,
    Decision,
    OutputDefinition,
    RunContext,
    StepInputs,
    StepOutputs,
    StepResult,
)
from visionflow.workflows.compiler import Compiler, compile_workflow
from visionflow.workflows.definition import EXECUTION_ENGINE_VERSION, definition_hash
from visionflow.workflows.errors import (
    BlockError,
    WorkflowError,
    WorkflowNotFoundError,
)
from visionflow.workflows.executor import Executor
from visionflow.workflows.inputs import ImageDecoder
from visionflow.workflows.limits import RunBudget, WorkflowLimits
from visionflow.workflows.lineage import Lineage, WorkflowImage
from visionflow.workflows.manifest import StepManifest
from visionflow.workflows.memory import MemoryScope, StepMemory
from visionflow.workflows.plan import CompiledWorkflow
from visionflow.workflows.profiler import Profiler
from visionflow.workflows.registry import ENTRY_POINT_GROUP, BlockRegistry
from visionflow.workflows.runner import ModelRunner
from visionflow.workflows.video_metadata import VideoMetadata

__all__ = [
    "ENTRY_POINT_GROUP",
    "EXECUTION_ENGINE_VERSION",
    "Block",
    "BlockError",
    "BlockRegistry",
    "CompiledWorkflow",
    "Compiler",
    "Decision",
    "Executor",
    "ImageDecoder",
    "Lineage",
    "MemoryScope",
    "ModelRunner",
    "OutputDefinition",
    "Profiler",
    "RunBudget",
    "RunContext",
    "StepInputs",
    "StepManifest",
    "StepMemory",
    "StepOutputs",
    "StepResult",
    "VideoMetadata",
    "WorkflowError",
    "WorkflowImage",
    "WorkflowLimits",
    "WorkflowNotFoundError",
    "compile_workflow",
    "definition_hash",
]
