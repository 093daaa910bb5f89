"""First code to run in a new execution environment, before the runtime itself.

Run as ``python -I -S launcher.py --parent <cloud pid> <runtime command...>`` in the
environment's own session and process group. It ties the environment to the local cloud (it
dies with it), applies the per-environment limits AWS applies, seals the environment where the
engine asked for a sandbox (sandbox.py plans it), then becomes the runtime. It must stay small
and import little: it is on the cold-start path of every function.

In a sandbox three processes stand where AWS has one microVM:

- the launcher, in the cloud's namespaces: the child the engine waits for, whose exit status
  is the runtime's;
- the sandbox's init (pid 1 of a new pid namespace): reaps orphans and, when the runtime ends,
  ends, which makes the kernel kill everything else in the namespace;
- the runtime, in new user, mount, pid, IPC, UTS and network namespaces, under a root of its
  own: the system's directories read-only, its code at /var/task, its own /tmp, /opt and
  /dev/shm, a /proc that shows its own processes, and a loopback with two listening sockets
  the init hands to the engine: the Runtime API at 127.0.0.1:9001 (as on AWS) and the cloud's
  AWS endpoint at its usual address. Nothing else of the machine is reachable.
"""

import _socket  # the C module: the socket module's imports cost every environment time and memory
import ctypes
import json
import os
import resource
import sys

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
SIGKILL = 9  # importing signal costs a cold start ~3 ms (it imports enum)
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2
# statvfs flags -> the mount flags a read-only remount must repeat (the kernel refuses to drop
# a flag that a less privileged user namespace inherited locked).
_LOCKED_FLAGS = ((2, MS_NOSUID), (4, MS_NODEV), (8, MS_NOEXEC), (1024, MS_NOATIME), (2048, MS_NODIRATIME),
                 (4096, MS_RELATIME))
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 1


class SandboxError(Exception):
    """The kernel refused a step of the sandbox: the engine reports it as the environment's failure."""


def _die_with_the_cloud(libc, parent):
    libc.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)
    if parent and os.getppid() != parent:
        os._exit(0)  # the cloud died before we could tie ourselves to it


def _take_secrets():
    """Variables handed over through a pipe, so that they are not in /proc/<pid>/environ (no sandbox)."""
    fd = os.environ.pop("LAMBDALAB_SECRETS_FD", None)
    if fd is None:
        return
    chunks = []
    while True:
        chunk = os.read(int(fd), 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(int(fd))
    os.environ.update(json.loads(b"".join(chunks)))


def _limit_open_files():
    limit = int(os.environ.get("LAMBDALAB_MAX_OPEN_FILES", "1024"))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    new_hard = limit if hard == resource.RLIM_INFINITY else min(hard, limit)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(limit, new_hard), new_hard))


def _limit_processes():
    """AWS allows 1,024 processes and threads. The kernel counts them per user and user namespace,
    so only in a sandbox is this limit the environment's own (outside one it would count every
    process of the learner's; for root it does not apply): elsewhere the watcher counts."""
    limit = int(os.environ.get("LAMBDALAB_MAX_PROCESSES", "1024"))
    try:
        resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))
    except (ValueError, OSError):
        pass


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _check(result, what):
    if result != 0:
        raise SandboxError(f"{what}: {os.strerror(ctypes.get_errno())}")


# --- the sandbox: namespaces, a root of its own, a private loopback ----------------------------

class Mounts:
    def __init__(self, libc):
        self._mount = libc.mount
        self._mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
        self._libc = libc

    def mount(self, source, target, fstype, flags, data=None, what=None):
        result = self._mount(source and source.encode(), target.encode(), fstype and fstype.encode(), flags,
                             data and data.encode())
        _check(result, what or f"mount {source} on {target}")

    def bind(self, source, target, writable=False):
        if os.path.isdir(source):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if not os.path.exists(target):
                open(target, "w").close()
        self.mount(source, target, None, MS_BIND | MS_REC)
        if not writable:
            flags = os.statvfs(source).f_flag
            locked = 0
            for statvfs_flag, mount_flag in _LOCKED_FLAGS:
                if flags & statvfs_flag:
                    locked |= mount_flag
            self.mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | locked,
                       what=f"read-only {source}")


def _enter_namespaces(libc):
    uid, gid = os.geteuid(), os.getegid()
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS),
           "unshare")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")


def _build_root(libc, plan):
    """A fresh root: tmpfs, then only what the plan names, then pivot_root into it."""
    mounts = Mounts(libc)
    root = plan["root"]
    mounts.mount(None, "/", None, MS_REC | MS_PRIVATE, what="make mounts private")
    mounts.mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m", what="root tmpfs")
    # /tmp first: a path the runtime needs may itself be under /tmp (a checkout there).
    mounts.bind(plan["tmp"], root + "/tmp", writable=True)
    for source in plan["system"]:
        if os.path.islink(source):
            os.symlink(os.readlink(source), root + source)
        elif os.path.exists(source):
            mounts.bind(source, root + source)
    for source, target in plan["binds"]:
        if os.path.exists(source):
            mounts.bind(source, root + target)
    os.makedirs(root + "/opt", exist_ok=True)
    os.makedirs(root + "/var/task", exist_ok=True)
    _make_dev(mounts, root, plan["shm_bytes"])
    os.makedirs(root + "/proc", exist_ok=True)
    try:  # while the machine's /proc is still in sight: the kernel allows a new one only then
        mounts.mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except SandboxError:
        pass  # a container that masks parts of /proc forbids a new one: the runtime goes without
    os.chdir(root)
    os.makedirs(root + "/.old", exist_ok=True)
    syscall = SYS_PIVOT_ROOT.get(os.uname().machine)
    if syscall is None:
        raise SandboxError(f"pivot_root: unknown on {os.uname().machine}")
    _check(libc.syscall(syscall, b".", b".old"), "pivot_root")
    os.chdir("/")
    _check(libc.umount2(b"/.old", MNT_DETACH), "detach the old root")
    os.rmdir("/.old")
    mounts.mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, what="read-only root")


def _make_dev(mounts, root, shm_bytes):
    os.makedirs(root + "/dev", exist_ok=True)
    for name in ("null", "zero", "full", "random", "urandom", "tty"):
        if os.path.exists("/dev/" + name):
            mounts.bind("/dev/" + name, root + "/dev/" + name, writable=True)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{root}/dev/{name}")
    os.makedirs(root + "/dev/shm")
    mounts.mount("tmpfs", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
                 f"mode=1777,size={max(int(shm_bytes), 4096)}", what="/dev/shm")


def _loopback_up():
    import fcntl
    import struct

    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))
    finally:
        sock.close()


def _listen(port):
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


def _reraise_status(status):
    """Exit as the runtime did: the engine reads the same code or signal from us."""
    if os.WIFSIGNALED(status):
        os.kill(os.getpid(), os.WTERMSIG(status))
        os._exit(128 + os.WTERMSIG(status))
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def _sandbox(libc, plan, control_fd):
    """Returns in the runtime process, inside the sandbox; the other two never return."""
    control = _socket.socket(fileno=control_fd)
    try:
        _enter_namespaces(libc)
    except (OSError, SandboxError) as error:
        control.sendall(json.dumps({"error": f"sandbox: {error}"}).encode())
        os._exit(70)
    status_read, status_write = os.pipe()
    init = os.fork()
    if init:  # the launcher: waits for the sandbox, exits as its runtime did
        control.close()
        os.close(status_write)
        status = os.read(status_read, 32)
        os.waitpid(init, 0)
        _reraise_status(int(status) if status else 9)
    os.close(status_read)
    libc.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)
    try:
        _build_root(libc, plan)
        _loopback_up()
        runtime_api, cloud = _listen(9001), _listen(plan["cloud_port"])
    except (OSError, SandboxError) as error:
        control.sendall(json.dumps({"error": f"sandbox: {error}"}).encode())
        os.write(status_write, b"17920")  # exit status 70
        os._exit(70)
    runtime = os.fork()
    if runtime == 0:
        # A process group of its own: freezing between invokes stops the runtime and what it
        # started, not the launcher and init too (three stops and three wake-ups per invoke).
        # Ending the environment still ends it: init's end takes the whole pid namespace along.
        os.setpgid(0, 0)
        control.close()
        runtime_api.close()
        cloud.close()
        os.close(status_write)
        libc.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)
        return
    import array

    fds = array.array("i", [runtime_api.fileno(), cloud.fileno()])
    control.sendmsg([b'{"ok": true}'], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
    control.close()
    runtime_api.close()
    cloud.close()
    _init_loop(runtime, status_write)


def _init_loop(runtime, status_write):
    """pid 1 of the sandbox: reap every orphan; when the runtime ends, end everything."""
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        except InterruptedError:
            continue
        if pid == runtime:
            os.write(status_write, str(status).encode())
            os._exit(0)


def _seal(libc):
    plan_text = os.environ.pop("LAMBDALAB_SANDBOX_PLAN", None)
    control_fd = os.environ.pop("LAMBDALAB_SANDBOX_FD", None)
    if plan_text is None or control_fd is None:
        # No sandbox: orphans of the runtime's children stay its own, so they stay counted and ended.
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        return False
    _sandbox(libc, json.loads(plan_text), int(control_fd))
    return True


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    command = sys.argv[1:]
    parent = 0
    if len(command) >= 2 and command[0] == "--parent":
        parent, command = int(command[1]), command[2:]
    _die_with_the_cloud(libc, parent)
    _take_secrets()
    _limit_open_files()
    if _seal(libc):
        _limit_processes()
        os.chdir(os.environ.get("LAMBDA_TASK_ROOT", "/"))
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
