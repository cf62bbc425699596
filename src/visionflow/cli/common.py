"""What every ``visionflow`` command shares: consoles, the ``--home`` option, settings, the
registry or the whole service stack (imported only by the commands that need them, so that
``visionflow --help`` and the registry commands start fast), errors and JSON output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from visionflow.config import Settings
from visionflow.errors import VisionflowError

if TYPE_CHECKING:
    from visionflow.service.services import Services
    from visionflow.store import Registry

__all__ = [
    "HomeOption",
    "JsonOption",
    "console",
    "errors",
    "fail",
    "parse_params",
    "print_json",
    "read_definition",
    "registry",
    "services",
    "settings",
    "usage",
]

# Tables never cut ids: columns wrap instead (``overflow="fold"``).
console = Console()
errors = Console(stderr=True)

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="Data directory (default: $VISIONFLOW_HOME or ./.visionflow)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def settings(home: Path | None, **overrides: object) -> Settings:
    try:
        loaded = Settings.from_env()
    except ValueError as exc:
        errors.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(code=2) from None
    changes = {k: v for k, v in overrides.items() if v is not None}
    if home is not None:
        changes["home"] = home
    return loaded.with_overrides(**changes) if changes else loaded


def services(config: Settings) -> Services:
    """Everything a server has (models, workflows): for commands that run models."""
    from visionflow.service.services import Services

    return Services.build(config)


def registry(config: Settings) -> Registry:
    """Only the registry database (no model stack): for the commands that list and manage."""
    from visionflow.store import Database, Registry

    database = Database(config.resolved_database_url, timeout_s=config.database_timeout_s)
    database.migrate()
    return Registry(database)


def fail(exc: VisionflowError) -> typer.Exit:
    """Print the error (exit 1) and, for a workflow error, each problem by step and field."""
    from visionflow.workflows.errors import WorkflowError

    errors.print(f"[red]error:[/red] {exc.message}", highlight=False)
    if isinstance(exc, WorkflowError) and len(exc.blocks_errors) > 1:
        for problem in exc.blocks_errors:
            where = " ".join(
                part
                for part in (
                    f"step {problem.block_id!r}" if problem.block_id else "",
                    f"({problem.block_type})" if problem.block_type else "",
                    f"field {problem.property_name!r}" if problem.property_name else "",
                )
                if part
            )
            errors.print(f"  - {where}: {problem.property_details or ''}", highlight=False)
    return typer.Exit(code=1)


def usage(message: str) -> typer.Exit:
    """A usage error (exit 2)."""
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code=2)


def read_definition(path: Path) -> dict[str, Any]:
    """The workflow definition in the JSON file ``path`` (or its ``specification``)."""
    from visionflow.service.workflows import definition_from

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise usage(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise usage(
            f"{path} is not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(document, dict):
        raise usage(f"{path} must hold a JSON object (a workflow definition)")
    return definition_from(document)


def parse_params(options: list[str]) -> dict[str, Any]:
    """``NAME=VALUE``; the value is read as JSON when it parses (``0.5``, ``true``, ``[1]``),
    else kept as text."""
    params: dict[str, Any] = {}
    for option in options:
        name, sep, raw = option.partition("=")
        if not sep or not name:
            raise usage(f"--param {option}: expected NAME=VALUE")
        try:
            params[name] = json.loads(raw)
        except json.JSONDecodeError:
            params[name] = raw
    return params


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
