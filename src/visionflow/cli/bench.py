"""``visionflow bench``: the benchmark runner of a source checkout (``benchmarks/run.py``, the
same as ``make bench``), its table printed as it comes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from visionflow.cli.common import errors

__all__ = ["bench", "find_runner"]

# src/visionflow/cli/bench.py → the checkout's root, for an editable install (`pip install -e .`).
_CHECKOUT = Path(__file__).resolve().parents[3]


def find_runner(start: Path | None = None) -> Path | None:
    """``benchmarks/run.py`` of the checkout this package runs from, else of the working
    directory or one above it."""
    candidates = [_CHECKOUT, *(start or Path.cwd()).resolve().parents]
    candidates.insert(1, (start or Path.cwd()).resolve())
    for folder in candidates:
        runner = folder / "benchmarks" / "run.py"
        if runner.is_file():
            return runner
    return None


def bench(
    runs: Annotated[int, typer.Option(min=1, max=10_000, help="Requests per row (median).")] = 30,
) -> None:
    """Raw ONNX Runtime vs end-to-end HTTP for every task, workflows, OCR, CLIP and YOLO-World
    on a real server on loopback: prints the table (the same as `make bench`; minutes)."""
    runner = find_runner()
    if runner is None:
        errors.print(
            "[red]error:[/red] visionflow bench runs benchmarks/run.py of a source checkout "
            "(pip install -e .); none was found here or beside this installation"
        )
        raise typer.Exit(code=2)
    errors.print(f"running {runner} --runs {runs}", highlight=False)
    completed = subprocess.run([sys.executable, str(runner), "--runs", str(runs)], check=False)
    if completed.returncode != 0:
        raise typer.Exit(code=completed.returncode)
