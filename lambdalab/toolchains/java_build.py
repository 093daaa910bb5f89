"""Compiling Java: the runtime's own classes (once per workspace) and a learner's handler.

Our runtime (java/lambdalab/runtime) and the interfaces handlers compile against
(java/com/amazonaws/services/lambda/runtime: AWS's package, class and method names, so the same
source builds for AWS) ship as source. They are compiled with the machine's javac into a
directory keyed by the sources' hash, shared by every environment of the workspace, so a
cold start pays for one JVM start, never for a compile.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tempfile
import threading
import zipfile
from pathlib import Path

from .. import toolchains

JAVA_SOURCES = Path(__file__).resolve().parent / "java"
JAVA_RELEASE = "17"  # the runtime uses records; Lambda's java17, java21 and java25 all run it


class JavaBuildError(Exception):
    """javac refused the learner's source: the message is javac's own output."""


def _sources() -> list[Path]:
    return sorted(JAVA_SOURCES.rglob("*.java"))


def _sources_key(javac: toolchains.Toolchain) -> str:
    digest = hashlib.sha256(javac.version.encode())
    for path in _sources():
        digest.update(str(path.relative_to(JAVA_SOURCES)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


_compiling = threading.Lock()


def compile_in_background(cache_dir: Path) -> None:
    """Compile the runtime now, in a thread, so the first Java cold start does not wait for javac."""
    def compile_quietly() -> None:
        try:
            compiled_runtime(cache_dir)
        except Exception:  # reported again, with javac's output, by the cold start that needs it
            pass

    threading.Thread(target=compile_quietly, name="java-runtime-compile", daemon=True).start()


def compiled_runtime(cache_dir: Path) -> Path | None:
    """The directory of compiled runtime classes (compiled now if needed); None without javac."""
    javac = toolchains.find_javac()
    if javac is None:
        return None
    target = cache_dir / f"java-runtime-{_sources_key(javac)}"
    if target.exists():
        return target
    with _compiling:
        return _compile(javac, cache_dir, target)


def _compile(javac: toolchains.Toolchain, cache_dir: Path, target: Path) -> Path:
    if target.exists():  # compiled by the thread we waited for
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="java-runtime-", dir=cache_dir))
    done = subprocess.run([str(javac.executable), "--release", JAVA_RELEASE, "-nowarn", "-d", str(staging)]
                          + [str(path) for path in _sources()], capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(f"Lambda Lab's Java runtime did not compile:\n{done.stderr}")
    try:
        os.replace(staging, target)
    except OSError:  # another environment compiled it at the same moment: use theirs
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _default_cache() -> Path:
    from ..core.state import home

    return home() / "build-cache"


def handler_classpath(cache_dir: Path | None = None) -> Path:
    """What a handler compiles against (com.amazonaws.services.lambda.runtime.*); needs javac."""
    classes = compiled_runtime(cache_dir or _default_cache())
    if classes is None:
        raise RuntimeError(f"This needs javac: {toolchains.INSTALL_HINTS['javac']}")
    return classes


def build_java_zip(sources: dict[str, str], cache_dir: Path | None = None, release: str = JAVA_RELEASE) -> bytes:
    """Compile {"example/Hello.java": source, ...} and return a deployment package of the classes.

    What `mvn package` or `gradle buildZip` does for AWS: compiled classes at the root of the
    zip (jars a handler depends on would go under lib/).
    """
    classpath = handler_classpath(cache_dir)
    javac = toolchains.find_javac()
    with tempfile.TemporaryDirectory(prefix="java-build-") as work:
        source_dir, class_dir = Path(work, "src"), Path(work, "classes")
        class_dir.mkdir()
        paths = []
        for name, text in sources.items():
            path = source_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            paths.append(str(path))
        done = subprocess.run([str(javac.executable), "--release", release, "-cp", str(classpath),
                               "-d", str(class_dir)] + paths, capture_output=True, text=True)
        if done.returncode != 0:
            raise JavaBuildError(done.stderr.strip())
        return zip_directory(class_dir)


def zip_directory(directory: Path, executables: tuple[str, ...] = ()) -> bytes:
    """A zip of a directory's files, with Unix modes kept (755 for the names in executables)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_dir():
                continue
            name = path.relative_to(directory).as_posix()
            info = zipfile.ZipInfo(name)
            mode = 0o755 if name in executables or os.access(path, os.X_OK) else 0o644
            info.external_attr = (mode & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()
