"""``visionflow serve | workspaces | keys | models | infer`` — works on the same data directory
(``$VISIONFLOW_HOME``) as a running server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from visionflow.cli.bench import bench
from visionflow.cli.common import HomeOption, JsonOption, console, errors, print_json
from visionflow.cli.common import fail as _fail
from visionflow.cli.common import registry as _registry
from visionflow.cli.common import services as _services
from visionflow.cli.common import settings as _settings
from visionflow.cli.infer import infer
from visionflow.cli.video import video
from visionflow.cli.workflows import workflows_app
from visionflow.errors import ModelNotFoundError, VisionflowError

if TYPE_CHECKING:
    from visionflow.service.demo import DemoSetup
    from visionflow.store import ModelVersionRecord

app = typer.Typer(
    name="visionflow",
    help="Self-hosted computer-vision inference server (Roboflow-compatible API).",
    no_args_is_help=True,
    add_completion=False,
)
workspaces_app = typer.Typer(help="Create and list workspaces.", no_args_is_help=True)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
models_app = typer.Typer(help="Register and list model versions.", no_args_is_help=True)
app.add_typer(workspaces_app, name="workspaces")
app.add_typer(keys_app, name="keys")
app.add_typer(models_app, name="models")
app.add_typer(workflows_app, name="workflows")
app.command()(infer)
app.command()(bench)
app.command()(video)


def _version(value: bool) -> None:
    if value:
        from visionflow import __version__

        print(f"visionflow {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool | None,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = None,
) -> None:
    """Self-hosted computer-vision inference server (Roboflow-compatible API)."""


def _print_demo_key(workspace: str, demo: DemoSetup) -> None:
    """The key itself only on the start that created it; then only where it is kept."""
    if demo.key_created:
        console.print(
            f"demo workspace [bold]{workspace}[/bold] API key (shown once): "
            f"[green]{demo.api_key}[/green]  (saved in {demo.key_file})"
        )
    else:
        console.print(f"demo workspace [bold]{workspace}[/bold] API key: in {demo.key_file}")


@app.command()
def serve(
    home: HomeOption = None,
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 9001).")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Prepare the registry, register the demo models, and serve the HTTP API."""
    import uvicorn

    from visionflow.http.app import create_app
    from visionflow.service.demo import ensure_demo

    settings = _settings(home, host=host, port=port)
    try:
        services = _services(settings)
        demo = ensure_demo(settings, services.registry, services.models)
    except VisionflowError as exc:
        raise _fail(exc) from None
    base = f"http://{settings.host}:{settings.port}"
    console.print(f"[bold]visionflow[/bold] data directory: {settings.home.resolve()}")
    if demo.registered:
        console.print(f"registered demo models: {', '.join(demo.registered)}")
    _print_demo_key(settings.demo_workspace, demo)
    if settings.api_key_required:
        console.print("listening beyond loopback: every request needs a valid API key")
    console.print(f"serving on {base}  (API docs: {base}/docs)")
    from visionflow.http.logs import configure_logging

    configure_logging(settings.log_format)
    # Our own access log (visionflow.access) redacts keys in query strings; uvicorn's would not.
    uvicorn.run(
        create_app(services),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=False,
        log_config=None,
        timeout_keep_alive=max(1, round(settings.keep_alive_s)),
    )


@app.command("serve-ray")
def serve_ray(
    home: HomeOption = None,
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 9001).")] = None,
    replicas: Annotated[
        int | None,
        typer.Option(help="Model-tier replicas (default: $VISIONFLOW_RAY_REPLICAS or autoscale)."),
    ] = None,
) -> None:
    """Serve on Ray Serve: a local cluster bounded to this machine (or $VISIONFLOW_RAY_ADDRESS),
    the app `visionflow` with deployments `ingress` and `models`; stops on SIGTERM/SIGINT."""
    from visionflow.service.demo import ensure_demo

    try:
        from visionflow.rayserve import RaySetupError, check_settings, serve_until_signalled
    except ImportError as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None
    try:
        settings = _settings(home, host=host, port=port, ray_replicas=replicas)
        check_settings(settings)
    except (RaySetupError, ValueError) as exc:
        errors.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(code=2) from None
    try:
        # Migrations and the demo run once here; replicas only connect.
        services = _services(settings)
        demo = ensure_demo(settings, services.registry, services.models)
        services.close()
    except VisionflowError as exc:
        raise _fail(exc) from None
    base = f"http://{settings.host}:{settings.port}"

    def ready() -> None:
        console.print(f"[bold]visionflow[/bold] on Ray Serve, data directory: {settings.home}")
        if demo.registered:
            console.print(f"registered demo models: {', '.join(demo.registered)}")
        _print_demo_key(settings.demo_workspace, demo)
        console.print(f"serving on {base}  (API docs: {base}/docs); Ctrl-C stops the cluster")

    serve_until_signalled(settings, ready)
    console.print("Ray Serve and the cluster stopped")


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "never"


def _table(*columns: str) -> Table:
    """A table whose cells wrap rather than being cut: ids and hashes stay whole."""
    table = Table()
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


@workspaces_app.command("create")
def workspaces_create(name: str, home: HomeOption = None) -> None:
    """Create a workspace."""
    try:
        record = _registry(_settings(home)).create_workspace(name)
    except VisionflowError as exc:
        raise _fail(exc) from None
    console.print(f"created workspace {record.name}")


@workspaces_app.command("list")
def workspaces_list(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """List workspaces with how many keys, model versions and workflow versions each holds."""
    registry = _registry(_settings(home))
    rows = [(ws, registry.workspace_contents(ws.name)) for ws in registry.list_workspaces()]
    if as_json:
        print_json(
            [
                {
                    "name": ws.name,
                    "created_at": ws.created_at.isoformat(),
                    "api_keys": held.api_keys,
                    "model_versions": held.model_versions,
                    "workflow_versions": held.workflow_versions,
                }
                for ws, held in rows
            ]
        )
        return
    table = _table("name", "created", "keys", "models", "workflows")
    for ws, held in rows:
        table.add_row(
            ws.name,
            _when(ws.created_at),
            str(held.api_keys),
            str(held.model_versions),
            str(held.workflow_versions),
        )
    console.print(table)


@workspaces_app.command("delete")
def workspaces_delete(
    name: str,
    force: Annotated[
        bool, typer.Option("--force", help="Also delete its keys, models and workflows.")
    ] = False,
    home: HomeOption = None,
) -> None:
    """Delete workspace NAME (one that still holds keys, models or workflows only with --force)."""
    try:
        deleted = _registry(_settings(home)).delete_workspace(name, force=force)
    except VisionflowError as exc:
        raise _fail(exc) from None
    with_it = f" with {deleted.describe()}" if deleted.total else ""
    console.print(f"deleted workspace {name}{with_it}")


@keys_app.command("create")
def keys_create(
    workspace: str,
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
    role: Annotated[
        str,
        typer.Option(
            help="admin: manage models, workflows and keys, and infer; infer: inference only."
        ),
    ] = "admin",
    expires_in_days: Annotated[
        float | None, typer.Option(help="Make the key stop working after this many days.")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Create an API key for WORKSPACE; the key is shown once."""
    expires_at = None
    if expires_in_days is not None:
        if not expires_in_days > 0:
            errors.print("[red]error:[/red] --expires-in-days must be a positive number")
            raise typer.Exit(code=2)
        expires_at = datetime.now(UTC) + timedelta(days=expires_in_days)
    try:
        record, key = _registry(_settings(home)).create_api_key(
            workspace, name, role=role, expires_at=expires_at
        )
    except VisionflowError as exc:
        raise _fail(exc) from None
    until = f", expires {record.expires_at:%Y-%m-%d %H:%M} UTC" if record.expires_at else ""
    errors.print(
        f"API key #{record.id} for workspace {record.workspace}, role {record.role}{until} "
        "(shown only once):"
    )
    print(key)


@keys_app.command("list")
def keys_list(
    workspace: Annotated[str | None, typer.Option(help="Only this workspace.")] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """List API keys (prefixes only; keys themselves are not stored)."""
    try:
        keys = _registry(_settings(home)).list_api_keys(workspace)
    except VisionflowError as exc:
        raise _fail(exc) from None
    rows = []
    for key in keys:
        status = "revoked" if not key.active else "expired" if key.expired() else "active"
        rows.append((key, status))
    if as_json:
        print_json(
            [
                {
                    "id": key.id,
                    "workspace": key.workspace,
                    "name": key.name,
                    "role": key.role,
                    "prefix": key.prefix,
                    "created_at": key.created_at.isoformat(),
                    "expires_at": key.expires_at.isoformat() if key.expires_at else None,
                    "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
                    "status": status,
                }
                for key, status in rows
            ]
        )
        return
    table = _table("id", "workspace", "name", "role", "prefix", "created", "expires", "status")
    for key, status in rows:
        table.add_row(
            str(key.id),
            key.workspace,
            key.name,
            key.role,
            key.prefix + "…",
            _when(key.created_at),
            _when(key.expires_at),
            status,
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: int, home: HomeOption = None) -> None:
    """Revoke the API key with id KEY_ID (see `keys list`); it stops working at once."""
    try:
        record = _registry(_settings(home)).revoke_api_key(key_id)
    except VisionflowError as exc:
        raise _fail(exc) from None
    console.print(f"revoked API key #{record.id} ({record.prefix}…) of {record.workspace}")


@models_app.command("add")
def models_add(
    model_id: Annotated[str, typer.Argument(help="project/version, e.g. my-model/1")],
    path: Annotated[Path, typer.Argument(help="ONNX file, package folder or Roboflow folder")],
    workspace: Annotated[str, typer.Option(help="Workspace to register in.")] = "demo",
    home: HomeOption = None,
) -> None:
    """Import a model (format detected) and register it as MODEL_ID."""
    settings = _settings(home)
    services = _services(settings)
    if workspace == settings.demo_workspace:
        services.registry.ensure_workspace(workspace)
    total = services.models.package_size(path) if path.exists() else 0
    columns = (
        TextColumn("importing {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=errors, transient=True) as progress:
            task = progress.add_task(path.name, total=total or None)
            record = services.models.add_from_path(
                workspace, model_id, path, progress=lambda n: progress.advance(task, n)
            )
    except VisionflowError as exc:
        raise _fail(exc) from None
    console.print(
        f"registered {record.model_id} in {record.workspace}: {record.task}, "
        f"{record.architecture}, package {record.package_sha256[:12]}"
    )


def _model_dict(record: ModelVersionRecord) -> dict[str, object]:
    return {
        "workspace": record.workspace,
        "model_id": record.model_id,
        "task": record.task,
        "architecture": record.architecture,
        "package_sha256": record.package_sha256,
        "created_at": record.created_at.isoformat(),
    }


@models_app.command("list")
def models_list(
    workspace: Annotated[str | None, typer.Option(help="Only this workspace.")] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """List registered model versions."""
    records = _registry(_settings(home)).list_model_versions(workspace)
    if as_json:
        print_json([_model_dict(record) for record in records])
        return
    table = _table("workspace", "model id", "task", "architecture", "package", "created")
    for record in records:
        table.add_row(
            record.workspace,
            record.model_id,
            record.task,
            record.architecture,
            record.package_sha256[:12],
            _when(record.created_at),
        )
    console.print(table)


def _find_model(home: Path | None, workspace: str, model_id: str) -> ModelVersionRecord:
    from visionflow.service.inference import parse_model_id

    project, version = parse_model_id(model_id)
    registry = _registry(_settings(home))
    registry.get_workspace(workspace)
    record = registry.find_model_version(workspace, project, version)
    if record is None:
        raise ModelNotFoundError(f"model {model_id!r} is not registered in workspace {workspace!r}")
    return record


@models_app.command("show")
def models_show(
    model_id: Annotated[str, typer.Argument(help="project/version")],
    workspace: Annotated[str, typer.Option(help="Workspace of the model.")] = "demo",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a registered model version: task, classes, input, versions of its project."""
    from visionflow.service.catalog import describe_model
    from visionflow.store import ArtifactStore

    try:
        config = _settings(home)
        record = _find_model(home, workspace, model_id)
        entry = describe_model(_registry(config), ArtifactStore(config.artifacts_dir), record)
    except VisionflowError as exc:
        raise _fail(exc) from None
    body = entry.as_dict()
    if as_json:
        print_json(body)
        return
    table = _table("field", "value")
    for name in (
        "model_id",
        "workspace",
        "task_type",
        "architecture",
        "request_path",
        "versions",
        "class_names",
        "input_width",
        "input_height",
        "skeleton",
        "package_sha256",
        "created_at",
    ):
        value = body[name]
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        table.add_row(name, shown)
    console.print(table)


@models_app.command("remove")
def models_remove(
    model_id: Annotated[str, typer.Argument(help="project/version")],
    workspace: Annotated[str, typer.Option(help="Workspace of the model.")] = "demo",
    home: HomeOption = None,
) -> None:
    """Unregister a model version: servers answer 404 for it from their next request. Weight
    files stay in the artifact store (other versions may share them)."""
    try:
        record = _find_model(home, workspace, model_id)
        _registry(_settings(home)).delete_model_version(
            record.workspace, record.project, record.version
        )
    except VisionflowError as exc:
        raise _fail(exc) from None
    console.print(f"removed {record.model_id} from {record.workspace}")


def main() -> None:
    app()
