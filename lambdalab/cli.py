"""The ``lambdalab`` command: serve, env, stop, reset, status."""

from __future__ import annotations

import argparse
import json
import shlex
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lambdalab", description="Lambda Lab: AWS Lambda on a local cloud.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the local cloud in the foreground")
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    serve.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    commands.add_parser("start", help="start the local cloud in the background (or find the running one)")
    commands.add_parser("env", help="print export lines that point the AWS CLI and SDKs at the local cloud")
    commands.add_parser("stop", help="end the local cloud")
    commands.add_parser("reset", help="empty the local account")
    commands.add_parser("status", help="say whether a local cloud is running, and where")
    commands.add_parser("progress", help="print the learner's progress through the labs")
    course = commands.add_parser("course", help="authors' tools")
    course.add_argument("action", choices=["build"], help="build: write labs/ from solutions/")
    course.add_argument("--root", default=".", help="the course's folder (holds solutions/ and labs/)")
    grade = commands.add_parser("grade", help="run submitted labs headless and write a gradebook CSV")
    grade.add_argument("folder", help="folder of submitted lab notebooks (searched recursively)")
    grade.add_argument("--output", default="gradebook.csv", help="CSV to write (default: gradebook.csv)")
    args = parser.parse_args(argv)
    return {"serve": _serve, "start": _start, "env": _env, "stop": _stop, "reset": _reset,
            "status": _status, "progress": _progress, "course": _course, "grade": _grade}[args.command](args)


def _serve(args: argparse.Namespace) -> int:
    from .cloud import server
    from .core import state

    running = state.running()
    if running is not None:
        print(f"A local cloud is already running at {running.endpoint} (pid {running.pid}); "
              "`lambdalab stop` ends it.", file=sys.stderr)
        return 1
    server.LocalCloud(port=args.port).serve_forever(announce=not args.quiet)
    return 0


def _start(_: argparse.Namespace) -> int:
    from .client import control as client

    current = client.ensure_running()
    print(f"Local cloud at {current.endpoint} (pid {current.pid}). `eval $(lambdalab env)` points the AWS CLI at it.")
    return 0


def _env(_: argparse.Namespace) -> int:
    from .client import control as client

    current = client.ensure_running()
    for name, value in client.aws_environment(current).items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


def _stop(_: argparse.Namespace) -> int:
    from .client import control as client

    print("Local cloud stopped." if client.stop() else "No local cloud was running.")
    return 0


def _reset(_: argparse.Namespace) -> int:
    import lambdalab

    lambdalab.reset()
    print("The local account is empty.")
    return 0


def _status(_: argparse.Namespace) -> int:
    from .core import state

    current = state.running()
    if current is None:
        print("No local cloud is running.")
        return 1
    print(json.dumps({"endpoint": current.endpoint, "pid": current.pid, "region": current.region}, indent=2))
    return 0


def _progress(_: argparse.Namespace) -> int:
    from .grader import load_progress

    print(load_progress().text())
    return 0


def _course(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .course.build import build_labs

    root = Path(args.root)
    for path in build_labs(root / "solutions", root / "labs"):
        print(f"wrote {path}")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .course.grade import grade_folder

    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"No such folder: {folder}", file=sys.stderr)
        return 2
    grade_folder(folder, Path(args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
