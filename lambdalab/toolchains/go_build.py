"""Building a Go function the way AWS runs Go today: a static binary named ``bootstrap``, deployed
on the provided.al2023 runtime.

The handler imports github.com/aws/aws-lambda-go/lambda as it would for AWS; the go.mod written
here replaces that module with Lambda Lab's stand-in (go/aws-lambda-go: the same package names),
so the build needs no download, and the same main.go builds for AWS with the real module.
"""

from __future__ import annotations

import os
import platform
import subprocess
import tempfile
from pathlib import Path

from .. import toolchains
from .java_build import zip_directory

GO_LAMBDA_MODULE = Path(__file__).resolve().parent / "go" / "aws-lambda-go"
AWS_LAMBDA_GO_VERSION = "v1.47.0"


class GoBuildError(Exception):
    """go build refused the learner's source: the message is the compiler's own output."""


def go_mod(module: str = "example.com/function") -> str:
    return (f"module {module}\n\ngo 1.18\n\nrequire github.com/aws/aws-lambda-go {AWS_LAMBDA_GO_VERSION}\n\n"
            f"replace github.com/aws/aws-lambda-go => {GO_LAMBDA_MODULE}\n")


def build_go_zip(main_go: str, extra_files: dict[str, str] | None = None) -> bytes:
    """Compile main.go into ``bootstrap`` (GOOS=linux, no cgo, -tags lambda.norpc) and zip it."""
    go = toolchains.find_go()
    if go is None:
        raise RuntimeError(f"This needs Go: {toolchains.INSTALL_HINTS['Go']}")
    with tempfile.TemporaryDirectory(prefix="go-build-") as work:
        source = Path(work, "src")
        output = Path(work, "out")
        source.mkdir()
        output.mkdir()
        (source / "main.go").write_text(main_go)
        (source / "go.mod").write_text(go_mod())
        for name, text in (extra_files or {}).items():
            (source / name).write_text(text)
        arch = "arm64" if platform.machine() in ("aarch64", "arm64") else "amd64"
        environment = dict(os.environ, CGO_ENABLED="0", GOOS="linux", GOARCH=arch, GOFLAGS="-mod=mod",
                           GOPROXY="off", GOTOOLCHAIN="local", GOWORK="off")
        done = subprocess.run([str(go.executable), "build", "-tags", "lambda.norpc", "-trimpath",
                               "-o", str(output / "bootstrap"), "."],
                              cwd=source, env=environment, capture_output=True, text=True)
        if done.returncode != 0:
            raise GoBuildError(done.stderr.strip())
        return zip_directory(output, executables=("bootstrap",))
