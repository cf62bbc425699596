"""Dev-only: do visionflow and the real Roboflow ``inference`` server run the same WORKFLOW
definitions the same way?

Not a test and never run in CI: it needs the reference server from ``../shared/peer`` (a ~9 GB
virtualenv) running next to a visionflow server, both prepared with ``compare_peer.py prepare``
(the shapes demo detector under ``shapes-det/1`` and ``shapes-det-stretch/1`` on both sides).
See ``benchmarks/PEER.md`` ("Workflows") for the recipe.

Every case is an inline definition posted to ``POST /workflows/run`` of both servers with the same
``inputs`` (the same encoded image bytes). The two ``outputs`` are diffed recursively:

* missing / extra keys, type differences (``int`` vs ``float`` included), list lengths;
* numbers: box fields (``x``, ``y``, ``width``, ``height``, offsets) within ``--tol-px`` (0),
  ``confidence`` within ``--tol-conf`` (1e-4), any other float within ``--tol-float`` (1e-6,
  relative or absolute), ints and strings exactly;
* values that are random per request on both sides (``inference_id``, ``detection_id``,
  ``parent_id``/``root_parent_id`` of crops, ``time``): only "both are UUIDs" / "both are
  numbers" is checked;
* images (``{"type": "base64", "value": ...}``): decoded, same size, and at most
  ``--pixel-frac`` of the pixels may differ by more than ``--pixel-tol`` (JPEG encoders of two
  OpenCV builds); a case may compare images by size only, with its reason printed.

Error cases post the same invalid definition to both and compare the HTTP status and the
body's ``error_type``.

    .venv/bin/python benchmarks/compare_peer_workflows.py list
    .venv/bin/python benchmarks/compare_peer_workflows.py run \\
        --peer http://127.0.0.1:9001 --ours http://127.0.0.1:9011 --save /tmp/cmp-wf -v
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_peer import Server, TestImage
from peer_output_diff import Diff, Tolerances, diff_values, short
from peer_workflow_cases import Case, cases
from peer_workflow_images import build_images, image_value

# --------------------------------------------------------------------------- running


@dataclass
class Outcome:
    case: str
    peer_status: int = 0
    ours_status: int = 0
    peer_error_type: str = ""
    ours_error_type: str = ""
    diffs: list[Diff] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    peer_body: Any = None
    ours_body: Any = None

    @property
    def ok(self) -> bool:
        return not self.diffs


def post_workflow(
    client: httpx.Client, server: Server, case: Case, images: dict[str, TestImage]
) -> tuple[int, Any]:
    inputs: dict[str, Any] = dict(case.parameters)
    for name, ref in case.images.items():
        if isinstance(ref, list):
            inputs[name] = [image_value(images[r]) for r in ref]
        else:
            inputs[name] = image_value(images[ref])
    body: dict[str, Any] = {"specification": case.definition, "inputs": inputs}
    if case.excluded_fields is not None:
        body["excluded_fields"] = case.excluded_fields
    if server.api_key:
        body["api_key"] = server.api_key
    resp = client.post(f"{server.url}/workflows/run", json=body)
    try:
        payload = resp.json()
    except ValueError:
        payload = resp.text
    return resp.status_code, payload


def _error_type(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("error_type") or "")
    return ""


def compare_case(
    client: httpx.Client,
    peer: Server,
    ours: Server,
    case: Case,
    images: dict[str, TestImage],
    tol: Tolerances,
) -> Outcome:
    res = Outcome(case.name)
    res.peer_status, res.peer_body = post_workflow(client, peer, case, images)
    res.ours_status, res.ours_body = post_workflow(client, ours, case, images)
    res.peer_error_type, res.ours_error_type = (
        _error_type(res.peer_body),
        _error_type(res.ours_body),
    )
    if res.peer_status != res.ours_status:
        res.diffs.append(Diff("<status>", "status", str(res.peer_status), str(res.ours_status)))
    if res.peer_status != 200 or res.ours_status != 200:
        if res.peer_error_type != res.ours_error_type:
            res.diffs.append(
                Diff(
                    "<error_type>", "value", res.peer_error_type or "-", res.ours_error_type or "-"
                )
            )
        if case.expect_error and res.peer_status == 200:
            res.diffs.append(
                Diff("<status>", "status", "200 (expected an error)", str(res.ours_status))
            )
        return res
    p_out = res.peer_body.get("outputs") if isinstance(res.peer_body, dict) else None
    o_out = res.ours_body.get("outputs") if isinstance(res.ours_body, dict) else None
    diff_values("outputs", "outputs", p_out, o_out, tol, case.size_only, res.diffs, res.stats)
    return res


def cmd_list(args: argparse.Namespace) -> int:
    for case in cases():
        blocks = sorted({s["type"].split("/")[-1] for s in case.definition.get("steps", [])})
        tag = "error" if case.expect_error else "ok"
        print(f"{case.name:<36} [{tag}] {', '.join(blocks)}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    images = build_images(args.seed)
    peer = Server(args.peer.rstrip("/"), args.peer_api_key or None)
    ours = Server(args.ours.rstrip("/"), args.ours_api_key or None)
    tol = Tolerances(args.tol_px, args.tol_conf, args.tol_float, args.pixel_tol, args.pixel_frac)
    selected = [c for c in cases() if not args.only or any(s in c.name for s in args.only)]
    save = Path(args.save) if args.save else None
    if save:
        save.mkdir(parents=True, exist_ok=True)
        (save / "images").mkdir(exist_ok=True)
        for im in images.values():
            ext = "jpg" if im.data[:2] == b"\xff\xd8" else "png"
            (save / "images" / f"{im.name}.{ext}").write_bytes(im.data)
    results: list[Outcome] = []
    started = time.perf_counter()
    with httpx.Client(timeout=args.timeout) as client:
        for case in selected:
            res = compare_case(client, peer, ours, case, images, tol)
            results.append(res)
            report_line(res, case, args)
            if save:
                (save / f"{case.name}.json").write_text(
                    json.dumps(
                        {
                            "definition": case.definition,
                            "peer_status": res.peer_status,
                            "ours_status": res.ours_status,
                            "peer": res.peer_body,
                            "ours": res.ours_body,
                            "diffs": [str(d) for d in res.diffs],
                        },
                        indent=1,
                    )
                )
    elapsed = time.perf_counter() - started
    table = summarize(results, selected)
    print("\n" + table)
    bad = [r for r in results if not r.ok]
    print(
        f"\n{len(results)} definitions, {len(results) - len(bad)} identical, {len(bad)} "
        f"differ, {elapsed:.0f} s"
    )
    if save:
        (save / "summary.md").write_text(table + "\n")
    return 1 if bad else 0


def report_line(res: Outcome, case: Case, args: argparse.Namespace) -> None:
    tag = "ok      " if res.ok else "MISMATCH"
    status = f"{res.peer_status}/{res.ours_status}"
    extra = ""
    if res.peer_error_type or res.ours_error_type:
        extra = f" error_type {res.peer_error_type or '-'} / {res.ours_error_type or '-'}"
    if res.stats.get("images"):
        extra += (
            f" images={res.stats['images']} max|Δpx|={res.stats.get('max_pixel_delta', 0)}"
            f" frac={res.stats.get('max_pixel_frac', 0.0):.3%}"
        )
    print(f"[{tag}] {case.name:<36} status {status} diffs={len(res.diffs)}{extra}")
    if case.size_only and res.stats.get("images"):
        print(f"      images compared by size only: {case.size_only}")
    if args.verbose:
        for d in res.diffs[: args.max_details]:
            print(f"      {d}")
        if len(res.diffs) > args.max_details:
            print(f"      ... {len(res.diffs) - args.max_details} more")
        if (res.peer_status != 200 or res.ours_status != 200) and args.show_messages:
            for who, body in (("peer", res.peer_body), ("ours", res.ours_body)):
                msg = body.get("message") if isinstance(body, dict) else body
                print(f"      {who} message: {short(msg, 220)}")


def summarize(results: list[Outcome], selected: list[Case]) -> str:
    lines = [
        "| definition | status peer/ours | identical | differences (first) |",
        "|---|---|---|---|",
    ]
    for res in results:
        first = str(res.diffs[0]).replace("|", "\\|") if res.diffs else ""
        more = f" (+{len(res.diffs) - 1})" if len(res.diffs) > 1 else ""
        lines.append(
            f"| {res.case} | {res.peer_status}/{res.ours_status} "
            f"| {'yes' if res.ok else 'no'} | {first[:160]}{more} |"
        )
    return "\n".join(lines)


def main(argv: Iterable[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the definitions")
    pr = sub.add_parser("run", help="post every definition to both servers and diff")
    pr.add_argument("--peer", required=True, help="reference server URL")
    pr.add_argument("--ours", required=True, help="visionflow server URL")
    pr.add_argument("--peer-api-key", default="x")
    pr.add_argument("--ours-api-key", default="", help="none: anonymous (loopback demo)")
    pr.add_argument("--only", nargs="+", help="cases whose name contains one of these")
    pr.add_argument("--seed", type=int, default=7)
    pr.add_argument("--tol-px", type=float, default=0.0)
    pr.add_argument("--tol-conf", type=float, default=1e-4)
    pr.add_argument("--tol-float", type=float, default=1e-6)
    pr.add_argument("--pixel-tol", type=int, default=8, help="per-channel |Δ| allowed")
    pr.add_argument(
        "--pixel-frac",
        type=float,
        default=0.001,
        help="fraction of values allowed beyond --pixel-tol",
    )
    pr.add_argument("--timeout", type=float, default=300.0)
    pr.add_argument("--save", help="folder for the images, raw responses and summary.md")
    pr.add_argument("-v", "--verbose", action="store_true")
    pr.add_argument("--show-messages", action="store_true", help="print error messages")
    pr.add_argument("--max-details", type=int, default=12)
    args = p.parse_args(list(argv) if argv is not None else None)
    handler: Callable[[argparse.Namespace], int] = {"list": cmd_list, "run": cmd_run}[args.cmd]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
