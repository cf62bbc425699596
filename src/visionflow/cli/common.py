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
    "print_json",
    "registry",
    "services",
    "settings",
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
    errors.print(f"[red]error:[/red] {exc.message}", highlight=False)
    return typer.Exit(code=1)


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
