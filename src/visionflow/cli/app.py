"""``visionflow serve | workspaces | keys | models | infer`` — works on the same data directory
(``$VISIONFLOW_HOME``) as a running server."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from visionflow.cli.workflows import workflows_app
from visionflow.config import Settings
from visionflow.errors import VisionflowError
from visionflow.models.params import DEFAULT_CONFIDENCE, DEFAULT_IOU_THRESHOLD

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

console = Console()
errors = Console(stderr=True)

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="Data directory (default: $VISIONFLOW_HOME or ./.visionflow)."),
]


def _settings(home: Path | None, **overrides: object) -> Settings:
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        errors.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(code=2) from None
    changes = {k: v for k, v in overrides.items() if v is not None}
    if home is not None:
        changes["home"] = home
    return settings.with_overrides(**changes) if changes else settings


def _services(settings: Settings):  # type: ignore[no-untyped-def]
    # Imported here so that `visionflow --help` stays fast.
    from visionflow.service.services import Services

    return Services.build(settings)


def _fail(exc: VisionflowError) -> typer.Exit:
    errors.print(f"[red]error:[/red] {exc.message}")
    return typer.Exit(code=1)


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
    console.print(
        f"demo workspace [bold]{settings.demo_workspace}[/bold] API key: "
        f"[green]{demo.api_key}[/green]  (also in {demo.key_file})"
    )
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
        console.print(
            f"demo workspace [bold]{settings.demo_workspace}[/bold] API key: "
            f"[green]{demo.api_key}[/green]  (also in {demo.key_file})"
        )
        console.print(f"serving on {base}  (API docs: {base}/docs); Ctrl-C stops the cluster")

    serve_until_signalled(settings, ready)
    console.print("Ray Serve and the cluster stopped")


@workspaces_app.command("create")
def workspaces_create(name: str, home: HomeOption = None) -> None:
    """Create a workspace."""
    try:
        record = _services(_settings(home)).registry.create_workspace(name)
    except VisionflowError as exc:
        raise _fail(exc) from None
    console.print(f"created workspace {record.name}")


@workspaces_app.command("list")
def workspaces_list(home: HomeOption = None) -> None:
    """List workspaces."""
    table = Table("name", "created")
    for ws in _services(_settings(home)).registry.list_workspaces():
        table.add_row(ws.name, ws.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)


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
        record, key = _services(_settings(home)).registry.create_api_key(
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
) -> None:
    """List API keys (prefixes only; keys themselves are not stored)."""
    table = Table("id", "workspace", "name", "role", "prefix", "created", "expires", "status")
    for key in _services(_settings(home)).registry.list_api_keys(workspace):
        status = "revoked" if not key.active else "expired" if key.expired() else "active"
        table.add_row(
            str(key.id),
            key.workspace,
            key.name,
            key.role,
            key.prefix + "…",
            key.created_at.strftime("%Y-%m-%d %H:%M"),
            key.expires_at.strftime("%Y-%m-%d %H:%M") if key.expires_at else "never",
            status,
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: int, home: HomeOption = None) -> None:
    """Revoke the API key with id KEY_ID (see `keys list`)."""
    try:
        record = _services(_settings(home)).registry.revoke_api_key(key_id)
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


@models_app.command("list")
def models_list(
    workspace: Annotated[str | None, typer.Option(help="Only this workspace.")] = None,
    home: HomeOption = None,
) -> None:
    """List registered model versions."""
    table = Table("workspace", "model id", "task", "architecture", "package", "created")
    for record in _services(_settings(home)).registry.list_model_versions(workspace):
        table.add_row(
            record.workspace,
            record.model_id,
            record.task,
            record.architecture,
            record.package_sha256[:12],
            record.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@app.command()
def infer(
    image: Annotated[Path, typer.Argument(help="Image file.")],
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
    out: Annotated[Path | None, typer.Option(help="Write an annotated image here.")] = None,
    home: HomeOption = None,
) -> None:
    """Run a registered model on IMAGE in-process and print the JSON result."""
    from visionflow.core.visualization import encode_jpeg
    from visionflow.http.serialize import WireOptions, prediction_body
    from visionflow.models.params import ParamValues, build_params
    from visionflow.service.auth import Principal
    from visionflow.service.images import ImageRef
    from visionflow.service.predict import VisualizeOptions, predict

    settings = _settings(home)
    services = _services(settings)
    principal = Principal(workspace, tuple(dict.fromkeys((workspace, settings.demo_workspace))))
    try:
        data = image.read_bytes()
    except OSError as exc:
        errors.print(f"[red]error:[/red] cannot read {image}: {exc.strerror}")
        raise typer.Exit(code=1) from None
    try:
        task = services.inference.acquire(principal, model).record.task
        values = ParamValues(confidence=confidence, iou_threshold=iou_threshold)
        params = build_params(task, values)
        _view, predictions = predict(
            services,
            principal,
            model,
            [ImageRef("bytes", data)],
            params,
            VisualizeOptions(labels=True, stroke_width=2) if out is not None else None,
        )
    except VisionflowError as exc:
        raise _fail(exc) from None
    result = predictions[0]
    body = prediction_body(
        result,
        inference_id=None,
        time_s=None,
        options=WireOptions.for_params(params),
    )
    body.pop("visualization", None)
    json.dump(body, sys.stdout, indent=2)
    sys.stdout.write("\n")
    if out is not None and result.visualization_bgr is not None:
        out.write_bytes(encode_jpeg(result.visualization_bgr))
        errors.print(f"annotated image written to {out}")


def main() -> None:
    app()
