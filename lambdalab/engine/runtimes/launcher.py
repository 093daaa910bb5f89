"""First code to run in a new execution environment, before the runtime itself.

Run as ``python -I -S launcher.py <runtime command...>`` in the environment's own session and
process group. It ties the environment to the local cloud (it dies with it), applies the
per-environment limits AWS applies, gives the environment a /tmp (and /opt) of its own where
the kernel allows a private mount namespace, then becomes the runtime. It must stay small
and import little: it is on the cold-start path of every function.
"""

import ctypes
import os
import resource
import sys

PR_SET_PDEATHSIG = 1
SIGKILL = 9  # importing signal costs a cold start ~3 ms (it imports enum)
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18


def _die_with_the_cloud(libc):
    libc.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)
    if str(os.getppid()) != os.environ.get("LAMBDALAB_CLOUD_PID", str(os.getppid())):
        os._exit(0)  # the cloud died before we could tie ourselves to it


def _limit_open_files():
    limit = int(os.environ.get("LAMBDALAB_MAX_OPEN_FILES", "1024"))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    new_hard = limit if hard == resource.RLIM_INFINITY else min(hard, limit)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(limit, new_hard), new_hard))


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _paths_under_tmp():
    """Mounting over /tmp would hide whatever the runtime needs from there (a checkout in /tmp)."""
    needed = [os.environ.get("LAMBDA_TASK_ROOT"), os.environ.get("LAMBDALAB_OPT_DIR"), sys.executable,
              sys.prefix, sys.base_prefix, os.path.abspath(__file__)]
    site = os.environ.get("LAMBDALAB_RUNTIME_SITE")
    if site:
        needed.append(site)
        needed += [os.path.realpath(os.path.join(site, name)) for name in os.listdir(site)]
    return any(path and os.path.realpath(path).startswith("/tmp/") for path in needed)


def _private_mounts(libc):
    """Bind the environment's own directories over /tmp and /opt; False if not allowed here."""
    tmp_dir = os.environ.get("LAMBDALAB_TMP_DIR")
    opt_dir = os.environ.get("LAMBDALAB_OPT_DIR")
    if not tmp_dir or os.environ.get("LAMBDALAB_MOUNT_NAMESPACE") != "1" or _paths_under_tmp():
        return False
    uid, gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWNS if uid == 0 else CLONE_NEWNS | CLONE_NEWUSER
    if libc.unshare(flags) != 0:
        return False
    try:
        if uid != 0:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
    except OSError:
        return False
    mount = libc.mount
    mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
    if mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return False
    if mount(tmp_dir.encode(), b"/tmp", None, MS_BIND, None) != 0:
        return False
    if opt_dir and os.path.isdir("/opt"):
        if mount(opt_dir.encode(), b"/opt", None, MS_BIND, None) == 0:
            os.environ["LAMBDALAB_OPT_MOUNTED"] = "1"
    os.environ["LAMBDALAB_TMP_MOUNTED"] = "1"
    return True


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    _die_with_the_cloud(libc)
    _limit_open_files()
    _private_mounts(libc)
    command = sys.argv[1:]
    if command and command[0] == "--python-bootstrap":
        # The Python runtime runs in this very process: one interpreter start, not two.
        # Its cached bytecode is used (runpy would compile the source again, and import more).
        from importlib.machinery import SourceFileLoader
        sys.argv = [command[1]]
        code = SourceFileLoader("__main__", command[1]).get_code("__main__")
        exec(code, {"__name__": "__main__", "__file__": command[1], "__builtins__": __builtins__})
        return
    if not os.environ.get("LAMBDALAB_TMP_MOUNTED") and os.environ.get("LAMBDALAB_TMP_DIR"):
        # No private /tmp here: runtimes other than Python's get theirs through TMPDIR (mktemp, Node's
        # os.tmpdir(), Ruby's Dir.tmpdir, Go's os.TempDir) and Java through {TMPDIR} in its command.
        os.environ["TMPDIR"] = os.environ["LAMBDALAB_TMP_DIR"]
    tmp = "/tmp" if os.environ.get("LAMBDALAB_TMP_MOUNTED") else os.environ.get("TMPDIR", "/tmp")
    command = [argument.replace("{TMPDIR}", tmp) for argument in command]
    while len(command) >= 2 and command[0] == "--setenv":
        # Variables the runtime's language reads (NODE_PATH, GEM_PATH...), set as AWS's images set them.
        name, _, value = command[1].partition("=")
        os.environ[name] = value
        command = command[2:]
    if not command:
        sys.exit("launcher: no runtime command")
    os.chdir(os.environ.get("LAMBDA_TASK_ROOT", "."))
    os.execvp(command[0], command)


main()
