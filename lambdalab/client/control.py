"""Finding, starting and steering the learner's local cloud from a notebook or a terminal.

The cloud runs in a background process of its own, so a kernel restart loses nothing:
the next ``start()`` finds it through the state file and connects.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from ..core import state

START_TIMEOUT_S = 60.0


class CloudError(Exception):
    """The local cloud could not be started or reached; the message says what to do."""


NOT_RUNNING = "No local cloud is running: call lambdalab.start() first."


def running_cloud(root: Path | None = None) -> state.CloudState:
    """The running cloud of this home; CloudError if there is none.

    For what only makes sense against a cloud the learner started (reset, the clock, an address):
    starting one behind their back would answer about an empty account. Everything that asks this
    question asks it here, so the learner always reads the same sentence.
    """
    current = state.running(root)
    if current is None:
        raise CloudError(NOT_RUNNING)
    return current


def ensure_running(root: Path | None = None) -> state.CloudState:
    """The running cloud of this home, started in the background first if there is none."""
    return start_or_find(root)[0]


def start_or_find(root: Path | None = None) -> tuple[state.CloudState, bool]:
    """(the running cloud of this home, True if this call started it).

    "Is one running? Else start one and wait until it is ready" is one step under an exclusive lock on
    the home's start.lock: concurrent callers (three kernels, a terminal) all get the one cloud the first
    of them started, instead of each starting its own. The lock is the kernel's (flock): a caller that
    dies holding it releases it."""
    root = root or state.home()
    current = state.running(root)
    if current is not None:
        return current, False
    state.make_private_home(root)
    with _start_lock(root):
        current = state.running(root)
        if current is not None:
            return current, False
        return _start_background(root), True


@contextlib.contextmanager
def _start_lock(root: Path) -> Iterator[None]:
    descriptor = os.open(root / "start.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # a cloud starts in seconds: the waiters wait that long
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _start_background(root: Path) -> state.CloudState:
    state.make_private_home(root)
    log_path = state.private_empty_file(root / "cloud.log")
    environment = dict(os.environ, LAMBDALAB_HOME=str(root))
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "lambdalab", "serve", "--port", "0", "--quiet"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=environment,
            start_new_session=True,  # outlives the kernel that started it
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        current = state.read(root)
        if current is not None and current.pid == process.pid:
            return current
        if process.poll() is not None:
            raise CloudError(f"The local cloud stopped while starting (exit code {process.returncode}); "
                             f"its log is {log_path}")
        time.sleep(0.05)
    process.kill()
    raise CloudError(f"The local cloud did not start within {START_TIMEOUT_S:.0f} s; its log is {log_path}")


def aws_environment(current: state.CloudState) -> dict[str, str]:
    """What boto3 and the AWS CLI need to reach the local cloud and nothing else."""
    root = state.home()
    return {
        "AWS_ENDPOINT_URL": current.endpoint,
        "AWS_ACCESS_KEY_ID": current.access_key_id,
        "AWS_SECRET_ACCESS_KEY": current.secret_access_key,
        "AWS_DEFAULT_REGION": current.region,
        "AWS_REGION": current.region,
        # Never read a real account's files by accident: point the SDK at empty ones.
        "AWS_CONFIG_FILE": str(_empty_file(root / "aws-config")),
        "AWS_SHARED_CREDENTIALS_FILE": str(_empty_file(root / "aws-credentials")),
    }


def _empty_file(path: Path) -> Path:
    return state.private_empty_file(path)


def admin_request(current: state.CloudState, method: str, path: str, timeout: float = 60.0,
                  body: object = None) -> object:
    """One of the cloud's own /lambdalab/ requests; an error answer raises CloudError with its message."""
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    request = urllib.request.Request(f"{current.endpoint}{path}", method=method, data=data,
                                     headers={"X-Lambdalab-Token": current.token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read()).get("message", str(error))
        except ValueError:
            message = str(error)
        raise CloudError(message) from None


def stop(root: Path | None = None, timeout_s: float = 10.0) -> bool:
    """End the running cloud; True if there was one."""
    current = state.running(root)
    if current is None:
        return False
    try:
        os.kill(current.pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and current.is_alive():
        time.sleep(0.05)
    if current.is_alive():
        os.kill(current.pid, signal.SIGKILL)
    state.remove(current.pid, root)
    return True
