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
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".cloud.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(asdict(state), indent=2))
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


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
