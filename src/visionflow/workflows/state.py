"""The values of one workflow run, addressed by (producer, output) and batch index."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any, Final

from visionflow.workflows.plan import INPUT_LINEAGE, DataLineage, Index

__all__ = ["INPUTS", "MISSING", "ExecutionState"]

INPUTS: Final = "$inputs"


class _Missing:
    """No value: the producer was skipped at that index (or never ran)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


class ExecutionState:
    """Thread-safe store of values, index domains of each lineage and flow-control decisions.

    Non-batch values live at index ``()``; the i-th input batch element at ``(i,)``; the j-th
    crop of it at ``(i, j)``.
    """

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self._values: dict[tuple[str, str], dict[Index, Any]] = defaultdict(dict)
        # Where each producer stored anything (``has_any`` without a scan of every value).
        self._stored_at: dict[str, set[Index]] = defaultdict(set)
        self._domains: dict[DataLineage, list[Index]] = {
            INPUT_LINEAGE: [(i,) for i in range(batch_size)]
        }
        # ``True``/``False`` for every target, or the names of the targets that run.
        self._decisions: dict[str, dict[Index, bool | frozenset[str]]] = defaultdict(dict)
        self._lock = threading.Lock()

    def put(self, producer: str, output: str, index: Index, value: Any) -> None:
        with self._lock:
            self._values[(producer, output)][index] = value
            self._stored_at[producer].add(index)

    def get(self, producer: str, output: str, index: Index) -> Any:
        with self._lock:
            return self._values.get((producer, output), {}).get(index, MISSING)

    def has_any(self, producer: str, index: Index) -> bool:
        """Whether ``producer`` stored anything at ``index`` (i.e. it ran there)."""
        with self._lock:
            return index in self._stored_at.get(producer, ())

    def domain(self, lineage: DataLineage) -> list[Index]:
        with self._lock:
            return list(self._domains.get(lineage, ()))

    def add_children(self, lineage: DataLineage, indices: list[Index]) -> None:
        with self._lock:
            self._domains.setdefault(lineage, []).extend(indices)

    def children(self, lineage: DataLineage, parent: Index) -> list[Index]:
        """Indices of ``lineage`` (one level deeper than ``parent``) under ``parent``, in order."""
        depth = len(parent)
        with self._lock:
            return sorted(i for i in self._domains.get(lineage, ()) if i[:depth] == parent)

    def decide(self, step: str, index: Index, proceed: bool | frozenset[str]) -> None:
        with self._lock:
            self._decisions[step][index] = proceed

    def decision(self, step: str, index: Index) -> bool | frozenset[str] | None:
        with self._lock:
            return self._decisions.get(step, {}).get(index)
