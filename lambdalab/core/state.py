"""Where a learner's local cloud is: one small file under their home directory.

The cloud writes it when it is ready and removes it when it stops; a notebook reads it to
find a running cloud (after a kernel restart, or from a second notebook) instead of
starting another one. A file whose process is gone is stale and is replaced.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil


def home() -> Path:
    """LAMBDALAB_HOME, else ~/.lambdalab: everything of the learner's lives here."""
    return Path(os.environ.get("LAMBDALAB_HOME") or Path.home() / ".lambdalab")


@dataclass(frozen=True)
class CloudState:
    endpoint: str
    pid: int
    port: int
    access_key_id: str
    secret_access_key: str
    region: str
    account_id: str
    token: str
    started_at: float
    restored: str = ""  # the cloud's one line about the saved account it restored (or set aside)

    def is_alive(self) -> bool:
        try:
            process = psutil.Process(self.pid)
            return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False


def state_path(root: Path | None = None) -> Path:
    return (root or home()) / "cloud.json"


def read(root: Path | None = None) -> CloudState | None:
    path = state_path(root)
    try:
        return CloudState(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write(state: CloudState, root: Path | None = None) -> None:
    path = state_path(root)
    make_private_home(path.parent)
    write_private(path, json.dumps(asdict(state), indent=2).encode())


def make_private_home(root: Path) -> Path:
    """The home (and its parents we make) 0700 from the start; an existing home of ours is closed to others."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        if root.stat().st_mode & 0o077 and root.stat().st_uid == os.getuid():
            os.chmod(root, 0o700)
    except OSError:
        pass
    return root


def write_private(path: Path, data: bytes) -> None:
    """Write a secret atomically, readable by its owner alone from its first byte: a new 0600 file
    (O_EXCL: never one someone else made) renamed over the old one."""
    for _ in range(100):
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"no free temporary name next to {path}")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


def private_empty_file(path: Path) -> Path:
    """An empty file of the owner's alone (0600), made if missing."""
    make_private_home(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    return path


def remove(pid: int, root: Path | None = None) -> None:
    """Remove the state file if it is still this process's."""
    current = read(root)
    if current is not None and current.pid == pid:
        try:
            state_path(root).unlink()
        except FileNotFoundError:
            pass


def running(root: Path | None = None) -> CloudState | None:
    """The live cloud of this home, or None (a stale file is removed)."""
    current = read(root)
    if current is None:
        return None
    if current.is_alive():
        return current
    try:
        state_path(root).unlink()
    except FileNotFoundError:
        pass
    return None
