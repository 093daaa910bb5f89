"""Deployment packages on disk: a function's code unpacked once per code hash, layers
merged into an /opt of their own, and each environment's private /tmp."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import threading
import zipfile
from pathlib import Path

from .spec import FunctionSpec, LayerContent


class PackageError(Exception):
    """The zip cannot be unpacked; the message is what AWS would say."""


def unzipped_size(zip_bytes: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        return sum(info.file_size for info in archive.infolist())


def _extract(zip_bytes: bytes, target: Path) -> None:
    """Unzip keeping Unix permission bits (a custom runtime's bootstrap must stay executable), every
    file inside target."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
    except zipfile.BadZipFile as exc:
        raise PackageError(f"Could not unzip uploaded file. Please check your file, then try to upload again. ({exc})")
    root = target.resolve()
    with archive:
        for info in archive.infolist():
            try:
                path = Path(archive.extract(info, target))
            except OSError as exc:  # an entry over a file of the same name (a "link" entry, then "link/x")
                raise PackageError(f"Could not unzip uploaded file: {info.filename!r} ({exc.strerror}).") from None
            if not path.resolve().is_relative_to(root):  # zipfile strips "../" and "/": kept as a guard
                raise PackageError(f"Could not unzip uploaded file: {info.filename!r} points outside the package.")
            # Permission bits only: no setuid, setgid or sticky bit from someone's zip (exec bits stay:
            # a custom runtime's bootstrap must remain executable). A symlink entry is written by
            # zipfile as a plain file holding the link's target, never as a link.
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                path.chmod(mode | stat.S_IRUSR)


class Workspace:
    """Where one local cloud keeps unpacked code, layers and environment directories."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        for name in ("code", "layers", "environments"):
            (root / name).mkdir(parents=True, exist_ok=True)

    def code_dir(self, spec: FunctionSpec) -> Path:
        key = spec.code_sha256 or hashlib.sha256(spec.code_zip).hexdigest()
        return self._unpacked(self.root / "code" / _safe(key), [spec.code_zip])

    def opt_dir(self, layers: tuple[LayerContent, ...]) -> Path:
        """Layers are extracted in order into one directory: later layers win, as on AWS."""
        key = hashlib.sha256("/".join(layer.sha256 for layer in layers).encode()).hexdigest()
        return self._unpacked(self.root / "layers" / key, [layer.zip_bytes for layer in layers])

    def _unpacked(self, target: Path, zips: list[bytes]) -> Path:
        with self._lock:
            if target.exists():
                return target
            staging = target.with_name(target.name + ".partial")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            for zip_bytes in zips:
                if zip_bytes:
                    _extract(zip_bytes, staging)
            os.replace(staging, target)
            return target

    def environment_dir(self, environment_id: str) -> Path:
        path = self.root / "environments" / environment_id
        (path / "tmp").mkdir(parents=True, exist_ok=True)
        return path

    def remove_environment_dir(self, environment_id: str) -> None:
        shutil.rmtree(self.root / "environments" / environment_id, ignore_errors=True)

    def clear(self) -> None:
        with self._lock:
            for name in ("code", "layers", "environments"):
                shutil.rmtree(self.root / name, ignore_errors=True)
                (self.root / name).mkdir(parents=True, exist_ok=True)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)
