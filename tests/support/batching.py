"""A tiny graph with a symbolic batch axis and a run wrapper that holds the first call: for tests
of the micro-batcher (``visionflow.runtime.batcher``) without timing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

Feeds = dict[str, np.ndarray]


def doubling_graph(path: Path, *, dynamic_batch: bool = True) -> Path:
    """``y = 2 * x`` on ``(N, 3)`` float32 (N symbolic unless ``dynamic_batch`` is False)."""
    batch: str | int = "N" if dynamic_batch else 1
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "x"], ["y"])],
        "double",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


class GatedRun:
    """Wraps a run function; the first call waits for ``release`` (a busy session), and every
    call's batch size and thread are recorded."""

    def __init__(self, run: Callable[[Feeds], list[np.ndarray]]) -> None:
        self._run = run
        self.release = threading.Event()
        self.sizes: list[int] = []
        self.threads: list[int] = []

    def __call__(self, feeds: Feeds) -> list[np.ndarray]:
        self.sizes.append(int(feeds["x"].shape[0]))
        self.threads.append(threading.get_ident())
        if len(self.sizes) == 1:
            assert self.release.wait(timeout=30)
        return self._run(feeds)


def wait_for(condition: Callable[[], bool]) -> None:
    for _ in range(3000):  # bounded: 30 s
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached")
