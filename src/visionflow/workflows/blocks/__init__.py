"""The built-in ``roboflow_core`` blocks, registered through the ``visionflow.workflow_blocks``
entry point like any plugin's.

``CORE_BLOCKS`` (``catalog.py``) is imported on first access (PEP 562), not with the package: the
service layer imports a few of its modules (the outbound-call environments of the API-model and
sink blocks) at start, and the block registry loads the catalog only when a workflow is first
compiled or described. That keeps ~200 block modules out of a server's start-up.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CORE_BLOCKS"]


def __getattr__(name: str) -> Any:
    if name == "CORE_BLOCKS":
        from visionflow.workflows.blocks.catalog import CORE_BLOCKS

        return CORE_BLOCKS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
