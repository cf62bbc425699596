"""``visionflow infer PATH...``: a registered model on image files, folders and globs, in this
process, with a progress bar, annotated images, JSON or JSON Lines, and a summary table."""

from __future__ import annotations

import glob
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from visionflow.cli.common import HomeOption, errors, fail, services, settings
from visionflow.errors import VisionflowError
from visionflow.models.params import DEFAULT_CONFIDENCE, DEFAULT_IOU_THRESHOLD

if TYPE_CHECKING:
    from visionflow.models.params import TaskParams
    from visionflow.service.auth import Principal
    from visionflow.service.services import Services

__all__ = ["IMAGE_SUFFIXES", "expand_paths", "infer"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
_GLOB_CHARS = frozenset("*?[")


class NoImagesError(VisionflowError):
    status_code = 400
    code = "no_images"


def _images_in(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


def expand_paths(arguments: Iterable[str]) -> list[Path]:
    """Files as given, image files under folders (recursively, sorted), glob matches; each file
    once, in order. An argument that names nothing is an error."""
    found: dict[Path, None] = {}
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            matched = _images_in(path)
            if not matched:
                raise NoImagesError(
                    f"no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) under {argument}"
                )
        elif path.exists():
            matched = [path]
        elif not _GLOB_CHARS & set(argument):
            raise NoImagesError(f"cannot read {argument}: no such file or folder")
        else:
            matched = []
            for hit in sorted(glob.glob(argument, recursive=True)):
                hit_path = Path(hit)
                if hit_path.is_dir():
                    matched.extend(_images_in(hit_path))
                elif hit_path.suffix.lower() in IMAGE_SUFFIXES:
                    matched.append(hit_path)
            if not matched:
                raise NoImagesError(f"no image files match {argument!r}")
        found.update(dict.fromkeys(matched))
    return list(found)


@dataclass
class _Outcome:
    path: Path
    body: dict[str, Any] | None = None
    annotated_jpeg: bytes | None = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class _Summary:
    images: int = 0
    failed: int = 0
    per_class: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def add(self, outcome: _Outcome) -> None:
        self.images += 1
        self.seconds += outcome.seconds
        if outcome.body is None:
            self.failed += 1
            return
        predictions = outcome.body.get("predictions")
        if isinstance(predictions, list):
            self.per_class.update(str(p.get("class", "?")) for p in predictions)
        elif outcome.body.get("top"):
            self.per_class[str(outcome.body["top"])] += 1


class _Runner:
    """One model, one set of params, many images; safe to call from several threads."""

    def __init__(
        self,
        svc: Services,
        principal: Principal,
        model_id: str,
        params: TaskParams,
        annotate: bool,
    ) -> None:
        from visionflow.http.serialize import WireOptions

        self._svc = svc
        self._principal = principal
        self._model_id = model_id
        self._params = params
        self._annotate = annotate
        self._options = WireOptions.for_params(params)

    def __call__(self, path: Path) -> _Outcome:
        from visionflow.core.visualization import encode_jpeg
        from visionflow.http.serialize import prediction_body
        from visionflow.service.images import ImageRef
        from visionflow.service.predict import VisualizeOptions, predict

        started = time.perf_counter()
        try:
            data = path.read_bytes()
        except OSError as exc:
            return _Outcome(path, error=f"cannot read {path}: {exc.strerror}")
        try:
            _view, predictions = predict(
                self._svc,
                self._principal,
                self._model_id,
                [ImageRef("bytes", data)],
                self._params,
                VisualizeOptions(labels=True, stroke_width=2) if self._annotate else None,
            )
        except VisionflowError as exc:
            return _Outcome(path, error=f"{path}: {exc.message}")
        result = predictions[0]
        body = prediction_body(result, inference_id=None, time_s=None, options=self._options)
        body.pop("visualization", None)
        drawn = result.visualization_bgr
        jpeg = encode_jpeg(drawn) if self._annotate and drawn is not None else None
        return _Outcome(path, body, jpeg, seconds=time.perf_counter() - started)


def _out_names(paths: list[Path]) -> dict[Path, str]:
    """A distinct ``<stem>.jpg`` per input (``<stem>-2.jpg`` ... when stems repeat)."""
    names: dict[Path, str] = {}
    used: Counter[str] = Counter()
    for path in paths:
        used[path.stem] += 1
        suffix = "" if used[path.stem] == 1 else f"-{used[path.stem]}"
        names[path] = f"{path.stem}{suffix}.jpg"
    return names


def _outcomes(runner: _Runner, paths: list[Path], concurrency: int) -> Iterator[_Outcome]:
    """Outcomes in input order, ``concurrency`` images in flight."""
    if concurrency == 1:
        yield from map(runner, paths)
        return
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="infer") as pool:
        yield from pool.map(runner, paths)


def _summary_table(summary: _Summary, wall_s: float, model_id: str) -> Table:
    table = Table(title=f"{model_id}: {summary.images} images", show_header=True)
    table.add_column("", overflow="fold")
    table.add_column("value", justify="right", overflow="fold")
    table.add_row("images", str(summary.images))
    table.add_row("failed", str(summary.failed))
    for name, count in sorted(summary.per_class.items(), key=lambda item: (-item[1], item[0])):
        table.add_row(f"class {name}", str(count))
    done = summary.images - summary.failed
    table.add_row("wall time", f"{wall_s:.2f} s")
    if done:
        table.add_row("per image", f"{summary.seconds / summary.images * 1000:.1f} ms")
        table.add_row("throughput", f"{summary.images / max(wall_s, 1e-9):.1f} images/s")
    return table


def infer(
    paths: Annotated[
        list[str], typer.Argument(help="Image files, folders (searched recursively) or globs.")
    ],
    model: Annotated[str, typer.Option("--model", "-m", help="project/version")],
    workspace: Annotated[str, typer.Option(help="Workspace to look the model up in.")] = "demo",
    confidence: Annotated[
        float | None,
        typer.Option(
            min=0.0, max=1.0, help=f"Minimum confidence, 0..1 [default: {DEFAULT_CONFIDENCE}]."
        ),
    ] = None,
    iou_threshold: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help=f"NMS IoU threshold, 0..1 [default: {DEFAULT_IOU_THRESHOLD}].",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for annotated images (<name>.jpg); with one input image, a .jpg/.png "
            "path is that image's file."
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the predictions as JSON: one image's body, or a list of "
            '{"file": path, "result": body} (the default for one image).',
        ),
    ] = False,
    as_jsonl: Annotated[
        bool, typer.Option("--jsonl", help='One {"file": path, ...body} line per image.')
    ] = False,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Images in flight at once.")] = 1,
    home: HomeOption = None,
) -> None:
    """Run a registered model on images in-process: predictions as JSON or JSON Lines, annotated
    images, and a summary table (images, detections per class, time) on stderr."""
    from visionflow.models.params import ParamValues, build_params
    from visionflow.service.auth import Principal

    if as_json and as_jsonl:
        errors.print("[red]error:[/red] choose one of --json and --jsonl")
        raise typer.Exit(code=2)
    try:
        images = expand_paths(paths)
    except VisionflowError as exc:
        raise fail(exc) from None
    single = len(images) == 1
    out_file = (
        out if single and out is not None and out.suffix.lower() in {".jpg", ".png"} else None
    )
    if out is not None and out_file is None:
        if out.exists() and not out.is_dir():
            errors.print(f"[red]error:[/red] --out {out} is a file; give a folder")
            raise typer.Exit(code=2)
        out.mkdir(parents=True, exist_ok=True)
    config = settings(home)
    svc = services(config)
    principal = Principal(workspace, tuple(dict.fromkeys((workspace, config.demo_workspace))))
    try:
        task = svc.inference.resolve(principal, model).task
        params = build_params(task, ParamValues(confidence=confidence, iou_threshold=iou_threshold))
    except VisionflowError as exc:
        raise fail(exc) from None
    runner = _Runner(svc, principal, model, params, annotate=out is not None)
    names = _out_names(images)
    summary = _Summary()
    collected: list[dict[str, Any]] = []
    started = time.perf_counter()
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=errors, transient=True, disable=single) as progress:
        bar = progress.add_task(model, total=len(images))
        for outcome in _outcomes(runner, images, concurrency):
            progress.advance(bar)
            summary.add(outcome)
            if outcome.error is not None:
                progress.console.print(f"[red]error:[/red] {outcome.error}", highlight=False)
                continue
            assert outcome.body is not None
            if outcome.annotated_jpeg is not None and out is not None:
                target = out_file or out / names[outcome.path]
                target.write_bytes(outcome.annotated_jpeg)
            if as_jsonl:
                sys.stdout.write(json.dumps({"file": str(outcome.path), **outcome.body}) + "\n")
            elif as_json or single:
                collected.append({"file": str(outcome.path), "result": outcome.body})
    svc.close()
    if collected and single:
        json.dump(collected[0]["result"], sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif as_json:
        json.dump(collected, sys.stdout, indent=2)
        sys.stdout.write("\n")
    if out_file is not None and summary.failed == 0:
        errors.print(f"annotated image written to {out_file}")
    elif out is not None and summary.images > summary.failed:
        errors.print(f"annotated images written to {out}/")
    if not single:
        errors.print(_summary_table(summary, time.perf_counter() - started, model))
    if summary.failed:
        raise typer.Exit(code=1)
