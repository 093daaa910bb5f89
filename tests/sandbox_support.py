"""Helpers of the sandbox tests: what this machine allows, other users, and the attacks' plumbing.

The sandbox has two paths (LAMBDALAB_SANDBOX=namespaces or process-group), and which one a
learner gets depends on the kernel and the container around it, so the tests run on both and
say plainly why a path is skipped. Attacks here are fenced to the test's own cloud: on code
without a sandbox, an attacker polling every port of the machine would steal the events of
other clouds' tests running in parallel (pytest-xdist), and break them.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import uuid
from collections.abc import Callable

import psutil

from support import ROOT, TestCloud, create_function, invoke_json

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
SANDBOX_FLAGS = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET
NAMESPACES = "namespaces"
PROCESS_GROUP = "process-group"
MODES = (NAMESPACES, PROCESS_GROUP)
TEST_USER = "lambdalab-tester"  # created by tests/install-test-tools.sh when it runs as root

_PROBE = (
    "import ctypes, os, sys\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    f"if libc.unshare({SANDBOX_FLAGS}) != 0:\n"
    "    sys.exit('unshare(CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNS|CLONE_NEWNET) refused: ' + os.strerror(ctypes.get_errno()))\n"
)


def namespaces_refused(preexec_fn: Callable[[], None] | None = None, python: str | None = None) -> str | None:
    """Why this machine (or this user, through preexec_fn) cannot have the sandbox's namespaces;
    None when it can. Probed in a child, so the test process itself stays as it is."""
    result = subprocess.run([python or sys.executable, "-I", "-S", "-c", _PROBE], capture_output=True, text=True,
                            preexec_fn=preexec_fn, timeout=60)
    if result.returncode == 0:
        return None
    return (result.stderr.strip().splitlines() or [f"probe exited with {result.returncode}"])[-1]


def drop_privileges(uid: int, gid: int) -> Callable[[], None]:
    """A preexec_fn that becomes uid/gid for good (groups too), as another local user would be."""
    def drop() -> None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    return drop


def other_user() -> tuple[pwd.struct_passwd | None, str]:
    """A second local user the tests may become: the CI test user, else nobody; with the reason if none."""
    if os.geteuid() != 0:
        return None, "becoming another user needs root (these tests run as uid %d)" % os.geteuid()
    for name in (TEST_USER, "nobody"):
        try:
            return pwd.getpwnam(name), ""
        except KeyError:
            continue
    return None, f"neither {TEST_USER} nor nobody exists on this machine"


def runs_as(user: pwd.struct_passwd, argv: list[str], env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd="/",
                          preexec_fn=drop_privileges(user.pw_uid, user.pw_gid))


def python_for(user: pwd.struct_passwd, needs_packages: bool) -> tuple[list[str], dict[str, str], str]:
    """An interpreter user can run: (argv prefix, extra environment, reason if none).

    The venv's python is the first choice; when it links to an interpreter the user cannot reach
    (pyenv under /root, which is 0700), the machine's python of the same X.Y with the venv's
    site-packages on PYTHONPATH runs the same code."""
    venv_site = [p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix)]
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [([sys.executable], {}), ([f"/usr/bin/{version}"], {"PYTHONPATH": os.pathsep.join(venv_site)}),
                  ([f"/usr/local/bin/{version}"], {"PYTHONPATH": os.pathsep.join(venv_site)})]
    check = "import lambdalab, boto3, moto, psutil" if needs_packages else "import json, urllib.request"
    reasons = []
    for argv, extra in candidates:
        if not os.path.exists(argv[0]):
            continue
        path = os.pathsep.join(filter(None, [str(ROOT), str(ROOT / "tests"), extra.get("PYTHONPATH")]))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": path, "HOME": "/nonexistent"}
        try:
            result = runs_as(user, argv + ["-c", check], env=env)
        except (OSError, subprocess.SubprocessError) as error:
            reasons.append(f"{argv[0]}: {error}")
            continue
        if result.returncode == 0:
            return argv, {"PYTHONPATH": path}, ""
        reasons.append(f"{argv[0]}: {(result.stderr.strip().splitlines() or ['failed'])[-1]}")
    return [], {}, f"no Python that {user.pw_name} can run with the checkout ({'; '.join(reasons)})"


# --- what an attacker can see from outside: the cloud's own listening ports --------------------

def cloud_ports(cloud: TestCloud) -> list[int]:
    """Every TCP port the cloud listens on: its endpoint and, without a sandbox, each Runtime API."""
    ports = set()
    for connection in psutil.Process(cloud.state["pid"]).net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN:
            ports.add(connection.laddr.port)
    return sorted(ports)


def endpoint_port(cloud: TestCloud) -> int:
    return int(cloud.endpoint.rsplit(":", 1)[1].strip("/"))


def processes_with(marker: str) -> list[psutil.Process]:
    """Processes anywhere on the machine whose command line carries marker (however they escaped)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            if process.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if marker in " ".join(process.info["cmdline"] or []):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def kill_all(processes: list[psutil.Process]) -> None:
    """The test's own clean-up: an escaped daemon must not outlive the test run on this machine."""
    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


def new_marker(prefix: str = "lambdalab-hostile") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def host_shm_entries(marker: str) -> list[str]:
    try:
        return [name for name in os.listdir("/dev/shm") if marker in name]
    except FileNotFoundError:
        return []


def remove_host_shm(marker: str) -> None:
    for name in host_shm_entries(marker):
        try:
            os.unlink(os.path.join("/dev/shm", name))
        except OSError:
            pass


def assert_cloud_still_serves(cloud: TestCloud, lam: object, role: str) -> None:
    """After an attack: the cloud is alive, a plain function in it answers, nothing is left running."""
    assert cloud.process.poll() is None, "the cloud died"
    name = f"plain-{uuid.uuid4().hex[:8]}"
    create_function(lam, name, "def handler(event, context):\n    return {'ok': event['n'] + 1}\n", role)
    response, body = invoke_json(lam, name, {"n": 41})
    assert "FunctionError" not in response, body
    assert body == {"ok": 42}


def text_of(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=str)
