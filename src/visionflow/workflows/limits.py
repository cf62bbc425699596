"""What a workflow may cost: the limits of definitions and runs, and one run's clock.

``WorkflowLimits`` carries the server's settings (``Settings.workflows_*``): steps per definition,
bytes of a definition's JSON, levels of lists/objects in it, wall-clock seconds of one run,
seconds one regex operation may take, the longest timeout a webhook may ask for, and the pixels
of an image a block makes (a resize or perspective correction: as many as an input may have).
The compiler applies the definition limits (``check_definition``, before anything walks the
document recursively); the executor gives every run a ``RunBudget`` (``RunContext.budget``),
checked before each step and batch element it starts — a Python thread cannot be stopped inside
a step — and by the query language, whose regex timeout never outlasts the run.

Every error names the setting that raises the limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from visionflow.config import Settings
from visionflow.errors import RunTimeoutError
from visionflow.workflows.definition import canonical_json
from visionflow.workflows.errors import BlockError, WorkflowDefinitionError
from visionflow.workflows.nesting import nesting_depth

__all__ = [
    "CACHE_MAX_ENTRIES_SETTING",
    "MAX_DEFINITION_BYTES_SETTING",
    "MAX_IMAGE_PIXELS_SETTING",
    "MAX_INNER_DEPTH_SETTING",
    "MAX_NESTING_SETTING",
    "MAX_RUN_S_SETTING",
    "MAX_STEPS_SETTING",
    "REGEX_TIMEOUT_SETTING",
    "SECRET_ENV_ALLOWLIST_SETTING",
    "WEBHOOK_MAX_TIMEOUT_SETTING",
    "RunBudget",
    "WorkflowLimits",
    "check_definition",
]

MAX_STEPS_SETTING = "VISIONFLOW_WORKFLOWS_MAX_STEPS"
MAX_DEFINITION_BYTES_SETTING = "VISIONFLOW_WORKFLOWS_MAX_DEFINITION_BYTES"
MAX_NESTING_SETTING = "VISIONFLOW_WORKFLOWS_MAX_NESTING"
MAX_RUN_S_SETTING = "VISIONFLOW_WORKFLOWS_MAX_RUN_S"
REGEX_TIMEOUT_SETTING = "VISIONFLOW_WORKFLOWS_REGEX_TIMEOUT_S"
WEBHOOK_MAX_TIMEOUT_SETTING = "VISIONFLOW_WORKFLOWS_WEBHOOK_MAX_TIMEOUT_S"
SECRET_ENV_ALLOWLIST_SETTING = "VISIONFLOW_WORKFLOWS_SECRET_ENV_ALLOWLIST"
CACHE_MAX_ENTRIES_SETTING = "VISIONFLOW_WORKFLOWS_CACHE_MAX_ENTRIES"
MAX_INNER_DEPTH_SETTING = "VISIONFLOW_WORKFLOWS_MAX_INNER_DEPTH"
MAX_IMAGE_PIXELS_SETTING = "VISIONFLOW_MAX_IMAGE_PIXELS"

_CONTEXT = "workflow_compilation | workflow_definition_parsing"


@dataclass(frozen=True)
class WorkflowLimits:
    """The defaults are ``Settings``' defaults."""

    max_steps: int = 1000
    max_definition_bytes: int = 2_000_000
    max_nesting: int = 64
    max_run_s: float = 120.0
    regex_timeout_s: float = 0.25
    webhook_max_timeout_s: float = 30.0
    max_image_pixels: int = 64_000_000
    # Environment variables ``environment_secrets_store`` may read; ``cache_set`` entries per
    # workspace; levels of ``inner_workflow`` nesting.
    secret_env_allowlist: tuple[str, ...] = ()
    cache_max_entries: int = 1024
    max_inner_depth: int = 3
    # Bytes of cross-run state of stateful blocks (``memory.StepMemory``).
    state_max_bytes: int = 256 * 2**20

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkflowLimits:
        return cls(
            max_steps=settings.workflows_max_steps,
            max_definition_bytes=settings.workflows_max_definition_bytes,
            max_nesting=settings.workflows_max_nesting,
            max_run_s=settings.workflows_max_run_s,
            regex_timeout_s=settings.workflows_regex_timeout_s,
            webhook_max_timeout_s=settings.workflows_webhook_max_timeout_s,
            max_image_pixels=settings.max_image_pixels,
            secret_env_allowlist=settings.workflows_secret_env_allowlist,
            cache_max_entries=settings.workflows_cache_max_entries,
            max_inner_depth=settings.workflows_max_inner_depth,
            state_max_bytes=settings.workflows_state_max_bytes,
        )


def check_definition(definition: Mapping[str, Any], limits: WorkflowLimits) -> bytes:
    """The canonical JSON of ``definition`` (``definition.canonical_json``), once it is within
    ``limits``: no deeper than ``max_nesting`` levels (400; checked first and without recursion,
    so a deep document never reaches the JSON encoder or pydantic), at most ``max_steps`` steps
    and ``max_definition_bytes`` bytes of JSON (413)."""
    depth = nesting_depth(definition, limits.max_nesting)
    if depth > limits.max_nesting:
        details = (
            f"nests lists/objects more than {limits.max_nesting} levels deep, the most a "
            f"definition may nest ({MAX_NESTING_SETTING})"
        )
        raise WorkflowDefinitionError(
            f"The workflow definition {details}.",
            context=_CONTEXT,
            blocks_errors=[BlockError(None, None, "(definition)", details)],
        )
    steps = definition.get("steps")
    if isinstance(steps, list) and len(steps) > limits.max_steps:
        details = (
            f"has {len(steps)} steps, more than the {limits.max_steps} a definition may have "
            f"({MAX_STEPS_SETTING})"
        )
        raise WorkflowDefinitionError(
            f"The workflow definition {details}.",
            context=_CONTEXT,
            blocks_errors=[BlockError(None, None, "steps", details)],
            status_code=413,
        )
    canonical = canonical_json(definition)
    if len(canonical) > limits.max_definition_bytes:
        details = (
            f"is {len(canonical)} bytes of JSON, more than the {limits.max_definition_bytes} "
            f"a definition may have ({MAX_DEFINITION_BYTES_SETTING})"
        )
        raise WorkflowDefinitionError(
            f"The workflow definition {details}.",
            context=_CONTEXT,
            blocks_errors=[BlockError(None, None, "(definition)", details)],
            status_code=413,
        )
    return canonical


@dataclass(frozen=True)
class RunBudget:
    """One run's limits and deadline (``clock()`` seconds; ``None``: no deadline, as outside an
    executor run)."""

    limits: WorkflowLimits = field(default_factory=WorkflowLimits)
    deadline: float | None = None
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def start(
        cls, limits: WorkflowLimits, clock: Callable[[], float] = time.monotonic
    ) -> RunBudget:
        """The budget of a run starting now."""
        return cls(limits, clock() + limits.max_run_s, clock)

    def remaining_s(self) -> float | None:
        return None if self.deadline is None else self.deadline - self.clock()

    def check(self, before: str) -> None:
        """Raise ``RunTimeoutError`` (408) if the run is past its deadline; ``before`` says what
        it was about to start (``"step 'det'"``)."""
        remaining = self.remaining_s()
        if remaining is not None and remaining < 0:
            raise self.timeout_error(before)

    def timeout_error(self, before: str) -> RunTimeoutError:
        """The 408 of a run stopped at its deadline before ``before``."""
        return RunTimeoutError(
            f"The workflow run took longer than {self.limits.max_run_s:g} s, the most one "
            f"run may take ({MAX_RUN_S_SETTING}); it was stopped before {before}."
        )

    def regex_timeout_s(self) -> float:
        """How long the next regex operation may take: the regex timeout, or what is left of
        the run if that is less (a small positive time once the run is over: the operation
        times out and ``check`` then reports the run's deadline)."""
        return self._within_run(self.limits.regex_timeout_s)

    def webhook_timeout_s(self, requested_s: float) -> float:
        """How long a webhook the step waits for may take: ``requested_s`` (already within
        ``webhook_max_timeout_s``), or what is left of the run if that is less."""
        return self._within_run(requested_s)

    def _within_run(self, timeout_s: float) -> float:
        remaining = self.remaining_s()
        return timeout_s if remaining is None else max(min(timeout_s, remaining), 1e-3)
