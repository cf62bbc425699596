"""``visionflow workflows push | list | show | run`` — stored workflows in the data directory
(``$VISIONFLOW_HOME``), the same store a running server uses; ``run`` runs in-process."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from visionflow.cli.common import fail as _fail
from visionflow.cli.common import parse_params as _parse_params
from visionflow.cli.common import read_definition as _read_definition
from visionflow.cli.common import usage as _usage
from visionflow.config import Settings
from visionflow.errors import VisionflowError

if TYPE_CHECKING:
    from visionflow.service.services import Services

__all__ = ["workflows_app"]

workflows_app = typer.Typer(
    help="Store workflow definitions as versions, list, show and run them.", no_args_is_help=True
)
console = Console()
errors = Console(stderr=True)

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="Data directory (default: $VISIONFLOW_HOME or ./.visionflow)."),
]
WorkspaceOption = Annotated[str, typer.Option(help="Workspace of the workflow.")]
VersionOption = Annotated[
    int | None, typer.Option("--version", min=1, help="A stored version (default: the latest).")
]
_IMAGE_TYPES = ("WorkflowImage", "InferenceImage")


def _services(home: Path | None) -> Services:
    # Imported here so that `visionflow --help` stays fast.
    from visionflow.service.services import Services

    try:
        settings = Settings.from_env()
    except ValueError as exc:
        errors.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(code=2) from None
    return Services.build(settings.with_overrides(home=home) if home is not None else settings)


@workflows_app.command("push")
def push(
    name: Annotated[str, typer.Argument(help="Workflow id, e.g. count-shapes.")],
    file: Annotated[Path, typer.Argument(help="JSON file with the definition.")],
    workspace: WorkspaceOption = "demo",
    home: HomeOption = None,
) -> None:
    """Store FILE as the next version of workflow NAME (it must compile); prints the version."""
    definition = _read_definition(file)
    services = _services(home)
    try:
        if workspace == services.settings.demo_workspace:
            services.registry.ensure_workspace(workspace)
        record = services.workflows.save(workspace, name, definition)
    except VisionflowError as exc:
        raise _fail(exc) from None
    errors.print(f"stored workflow {record.name} in {record.workspace} as version {record.version}")
    print(record.version)


@workflows_app.command("list")
def list_(
    workspace: Annotated[str | None, typer.Option(help="Only this workspace.")] = None,
    home: HomeOption = None,
) -> None:
    """List stored workflows with their latest version."""
    table = Table("workspace", "workflow", "latest version", "created", "updated")
    for item in _services(home).registry.list_workflows(workspace):
        table.add_row(
            item.workspace,
            item.name,
            str(item.latest_version),
            item.created_at.strftime("%Y-%m-%d %H:%M"),
            item.updated_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


def _stored(services: Services, workspace: str, name: str, version: int | None) -> Any:
    from visionflow.service.auth import Principal

    owner = Principal(workspace, (workspace,))
    number = None if version is None else str(version)
    return services.workflows.stored(owner, workspace, name, number, use_cache=False)


@workflows_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Workflow id.")],
    version: VersionOption = None,
    workspace: WorkspaceOption = "demo",
    home: HomeOption = None,
) -> None:
    """Print the definition of workflow NAME (JSON)."""
    try:
        record = _stored(_services(home), workspace, name, version)
    except VisionflowError as exc:
        raise _fail(exc) from None
    stored = record.created_at.strftime("%Y-%m-%d %H:%M")
    errors.print(
        f"workflow {record.name} version {record.version} of {record.workspace} ({stored})"
    )
    json.dump(record.definition, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _image_inputs(definition: dict[str, Any]) -> list[str]:
    declared = definition.get("inputs")
    if not isinstance(declared, list):
        return []
    return [
        str(item.get("name"))
        for item in declared
        if isinstance(item, dict) and item.get("type") in _IMAGE_TYPES
    ]


def _collect_images(options: list[str], names: list[str]) -> dict[str, list[dict[str, str]]]:
    """``PATH`` (the workflow's only image input) or ``NAME=PATH`` → base64 image objects."""
    images: dict[str, list[dict[str, str]]] = {}
    for option in options:
        name, sep, rest = option.partition("=")
        if sep and name in names:
            path = Path(rest)
        elif len(names) == 1:
            name, path = names[0], Path(option)
        else:
            declared = ", ".join(names) or "none"
            raise _usage(
                f"--image {option}: say which input it is for, as NAME=PATH "
                f"(image inputs of the workflow: {declared})"
            )
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise _usage(f"cannot read {path}: {exc.strerror}") from None
        encoded = {"type": "base64", "value": base64.b64encode(data).decode()}
        images.setdefault(name, []).append(encoded)
    return images


@workflows_app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="Workflow id.")],
    image: Annotated[
        list[str] | None,
        typer.Option(help="PATH, or NAME=PATH for a named image input; repeat for a batch."),
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="NAME=VALUE for a parameter input (JSON or text).")
    ] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Output to leave out.")] = None,
    version: VersionOption = None,
    workspace: WorkspaceOption = "demo",
    home: HomeOption = None,
) -> None:
    """Run stored workflow NAME in-process and print its outputs (JSON)."""
    from visionflow.service.auth import Principal
    from visionflow.service.workflows import WorkflowRun

    params = _parse_params(param or [])
    services = _services(home)
    try:
        record = _stored(services, workspace, name, version)
        names = _image_inputs(record.definition)
        images = _collect_images(image or [], names)
        missing = [item for item in names if item not in images]
        if missing:
            example = "PATH" if len(names) == 1 else f"{missing[0]}=PATH"
            raise _usage(
                f"workflow {name!r} needs an image for input(s) {', '.join(missing)}: "
                f"pass --image {example}"
            )
        inputs: dict[str, Any] = {k: v[0] if len(v) == 1 else v for k, v in images.items()}
        inputs.update(params)
        demo = services.settings.demo_workspace
        principal = Principal(workspace, tuple(dict.fromkeys((workspace, demo))))
        result = services.workflows.run(
            principal, record.definition, WorkflowRun(inputs, excluded_fields=tuple(exclude or ()))
        )
    except VisionflowError as exc:
        raise _fail(exc) from None
    json.dump(result.outputs, sys.stdout, indent=2)
    sys.stdout.write("\n")
