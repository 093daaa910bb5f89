"""The learner's account on disk: it survives a crash (kill -9), a `lambdalab stop` and a reboot.

Mechanism: a snapshot of moto's backends plus the cloud's own records, pickled into one file.

Why a snapshot and not a journal of requests replayed at start: a replay re-runs side effects
(Invoke, SendMessage to a queue a poller drains, ReceiveMessage that bumps receive counts) and
re-mints what was random the first time (function ids, receipt handles, revision ids, access keys),
so the replayed account would differ from the one the learner had. A snapshot of the objects moto
keeps is the account itself: functions with their code (moto keeps the zip in
``LambdaFunction.code_bytes``; the unpacked copies under ``cloud/code`` are a cache the engine
rebuilds), versions, aliases, layers, roles and policies, tables and items, buckets and objects,
queues and messages, topics, streams, rules, log groups, APIs. This is what LocalStack does for its
moto-based services (its ``PickleSerializer`` over moto's ``BackendDict`` s). Restoring a snapshot
runs nothing: no function is invoked, no message delivered; pollers start again on restored
mappings and see what was in the queue when the snapshot was written.

What does not pickle in moto's objects, and what this module does with it (``_Pickler``):
- locks, conditions and events (SQS queues, S3 keys): a fresh one on load;
- ``SpooledTemporaryFile`` (the bytes of an S3 object): its bytes, back in a new spooled file;
- ``WeakValueDictionary`` (Lambda's ARN index): its items, back in a new weak dictionary;
- threads: nothing (None on load);
- moto's ``BackendDict`` / ``AccountSpecificBackend`` registries and AWS's managed IAM policies
  (24 MB of the 25 MB an empty account would take) are written as references to the live ones of
  the restoring process (``persistent_id``), so a role keeps its attached managed policy.

Our own state outside moto (event source mappings, function URLs, API Gateway's index, schedules,
the meter, the invocation history, the clock's offset) is exported by small ``export_state`` /
``restore_state`` methods of those parts and pickled in the same file (one ``pickle.dump``, so
objects shared between parts stay shared).

When: the cloud marks the account dirty after every AWS request and every finished invocation; a
background thread writes at most every ``DEBOUNCE_S`` (0.5 s) while dirty, and once more on a
clean stop. A write is atomic (a 0600 temporary file opened with O_EXCL, fsync, then rename), so
kill -9 at any moment leaves the previous or the next snapshot, never half of one. What happened
in the last half second before a kill -9 can be lost (a message deleted then may be delivered
again after the restart: SQS's at-least-once, as on AWS). Asynchronous events still queued at a
crash are not kept (running them again after a restart could run them twice).

A pickle is code: the file lives in the learner's 0700 home and is 0600, so only the learner (who
can run code as themselves anyway) can write it. A file that does not load (corrupted, or written by
another moto or Lambda Lab version) is set aside as ``account.pickle.broken-<timestamp>`` with one
line saying so; the cloud starts with an empty account, never crashes.
"""

from __future__ import annotations

import collections
import io
import logging
import os
import pickle
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import moto
from moto.backends import get_backend
from moto.core.base_backend import AccountSpecificBackend, BackendDict
from moto.iam.models import AWSManagedPolicy, iam_backends

FILE_NAME = "account.pickle"
FORMAT = 1  # bump when what is stored changes shape
DEBOUNCE_S = 0.5
SAVER_REST = 9  # after a snapshot, rest 9x as long as it took: the saver keeps to ~10% of the cloud's time
MAX_REST_S = 5.0  # ...but a change is on disk within about 5 s, however big the account
log = logging.getLogger("lambdalab.persistence")


class Part(Protocol):
    """A piece of the cloud's own state kept next to moto's (records, triggers, the clock)."""

    def export_state(self) -> Any: ...

    def restore_state(self, saved: Any) -> None: ...


# --- pickling moto's objects ---------------------------------------------------------------------

_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


def _new_lock(kind: str) -> Any:
    return {"lock": threading.Lock, "rlock": threading.RLock, "condition": threading.Condition,
            "event": threading.Event, "semaphore": threading.Semaphore}[kind]()


def _spooled(data: bytes, max_size: int) -> tempfile.SpooledTemporaryFile:
    buffer = tempfile.SpooledTemporaryFile(max_size=max_size)
    buffer.write(data)
    buffer.seek(0)
    return buffer


def _spooled_bytes(buffer: tempfile.SpooledTemporaryFile) -> bytes:
    position = buffer.tell()
    buffer.seek(0)
    data = buffer.read()
    buffer.seek(position)
    return data


def _weak_values(items: dict) -> weakref.WeakValueDictionary:
    return weakref.WeakValueDictionary(items)


def _plain_factory(factory: Callable[[], Any]) -> type:
    """moto's `defaultdict(lambda: {})`: a lambda does not pickle, the type it makes does."""
    made = factory()
    if type(made) in (dict, list, set) and not made:
        return type(made)
    raise pickle.PicklingError(f"a defaultdict whose factory makes {made!r}")


def _default_dict(factory: type, items: dict) -> collections.defaultdict:
    return collections.defaultdict(factory, items)


def _none() -> None:
    return None


_REFERENCED = (BackendDict, AccountSpecificBackend, AWSManagedPolicy)
_PLAIN_TYPES: set[type] = {str, int, float, bool, bytes, dict, list, tuple, set, type(None)}
_referenced_types: dict[type, bool] = {}  # pickling asks for every object: decided once per type


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        kind = type(obj)
        referenced = _referenced_types.get(kind)
        if referenced is None:
            referenced = _referenced_types[kind] = issubclass(kind, _REFERENCED)
        if not referenced:
            return None
        if isinstance(obj, BackendDict):
            return ("backend-dict", obj.service_name)
        if isinstance(obj, AccountSpecificBackend):
            return ("account-backend", obj.service_name, obj.account_id)
        return ("aws-policy", obj.arn)

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind in _PLAIN_TYPES:
            return NotImplemented
        if kind is _LOCK_TYPES[0]:
            return _new_lock, ("lock",)
        if kind is _LOCK_TYPES[1]:
            return _new_lock, ("rlock",)
        if kind is threading.Condition:
            return _new_lock, ("condition",)
        if kind is threading.Event:
            return _new_lock, ("event",)
        if kind in (threading.Semaphore, threading.BoundedSemaphore):
            return _new_lock, ("semaphore",)
        if isinstance(obj, threading.Thread):
            return _none, ()
        if kind is tempfile.SpooledTemporaryFile:
            return _spooled, (_spooled_bytes(obj), obj._max_size)
        if kind is weakref.WeakValueDictionary:
            return _weak_values, (dict(obj.items()),)
        if kind is collections.defaultdict:
            if getattr(obj.default_factory, "__name__", "") == "<lambda>":
                return _default_dict, (_plain_factory(obj.default_factory), dict(obj))
            return NotImplemented
        _PLAIN_TYPES.add(kind)  # none of the above, whatever the instance: pickled as pickle does
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        if pid[0] == "backend-dict":
            return get_backend(pid[1])
        if pid[0] == "account-backend":
            return get_backend(pid[1])[pid[2]]
        if pid[0] == "aws-policy":
            return _aws_policy(pid[1])
        raise pickle.UnpicklingError(f"unknown reference {pid!r}")


def _aws_policy(arn: str) -> Any:
    """AWS's managed policies are made afresh by every IAM backend: the restored role gets today's."""
    for account_backends in list(iam_backends.values()):
        for backend in list(account_backends.values()):
            policy = backend.managed_policies.get(arn)
            if policy is not None:
                return policy
    from moto.core import DEFAULT_ACCOUNT_ID

    return iam_backends[DEFAULT_ACCOUNT_ID]["aws"].managed_policies.get(arn)


def dumps(document: Any) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(document)
    return buffer.getvalue()


def loads(data: bytes) -> Any:
    return _Unpickler(io.BytesIO(data)).load()


# --- moto's backends ------------------------------------------------------------------------------

def moto_state() -> dict[str, dict[str, dict[str, Any]]]:
    """{service: {account: {region: backend}}} of every moto backend in use."""
    state: dict[str, dict[str, dict[str, Any]]] = {}
    for backend_dict in list(BackendDict._instances):
        accounts = {account: {region: backend for region, backend in list(dict.items(regions))
                              if _worth_keeping(backend_dict.service_name, region, backend)}
                    for account, regions in list(dict.items(backend_dict))}
        accounts = {account: regions for account, regions in accounts.items() if regions}
        if accounts:
            state[backend_dict.service_name] = accounts
    return state


def _worth_keeping(service: str, region: str, backend: Any) -> bool:
    """IAM makes a backend per partition (aws-cn, aws-us-gov, ...) when it checks a request, each with its
    own 1,582 AWS managed policies: those the learner never put anything in are left out (300 KB each)."""
    if service != "iam" or region == "aws":
        return True
    return bool(backend.users or backend.roles or backend.groups or backend.access_keys)


def restore_moto(state: dict[str, dict[str, dict[str, Any]]]) -> None:
    """Put the saved backends in place of this process's (fresh) ones."""
    for service, accounts in state.items():
        backend_dict = get_backend(service)
        for account, regions in accounts.items():
            account_backends = backend_dict[account]
            for region, backend in regions.items():
                dict.__setitem__(account_backends, region, backend)


# --- the file ------------------------------------------------------------------------------------

@dataclass
class Snapshot:
    """What one file holds."""

    moto: dict[str, Any]
    parts: dict[str, Any]
    saved_at: float = field(default_factory=time.time)
    format: int = FORMAT
    moto_version: str = moto.__version__


class AccountFile:
    """The snapshot file: written atomically and privately, read with care."""

    def __init__(self, root: Path) -> None:
        self.path = root / FILE_NAME

    def write(self, data: bytes) -> None:
        descriptor, temporary = _private_temporary(self.path)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            _unlink(Path(temporary))
            raise

    def read(self) -> tuple[Snapshot | None, str | None]:
        """(the snapshot, None), (None, None) when there is none, or (None, a message) when it was
        unreadable and has been set aside."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None, None
        try:
            snapshot = loads(data)
            if not isinstance(snapshot, Snapshot) or snapshot.format != FORMAT:
                raise ValueError("not a snapshot of this version of Lambda Lab")
            if snapshot.moto_version != moto.__version__:
                raise ValueError(f"written with moto {snapshot.moto_version}, this is moto {moto.__version__}")
            return snapshot, None
        except Exception as error:  # anything a broken pickle raises: never a crash
            aside = self.set_aside()
            return None, (f"Lambda Lab: your saved account could not be read ({type(error).__name__}: "
                          f"{str(error)[:200]}); it was set aside as {aside.name} and the account starts empty.")

    def set_aside(self) -> Path:
        aside = self.path.with_name(f"{self.path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(self.path, aside)
        return aside

    def clear(self) -> None:
        _unlink(self.path)


def _private_temporary(path: Path) -> tuple[int, str]:
    """A new 0600 file next to path, created with O_EXCL (never someone else's file, never readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    for _ in range(100):
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        try:
            return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), str(temporary)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name next to {path}")


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


# --- what was restored, in one line ----------------------------------------------------------------

def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def summary(state: dict[str, dict[str, dict[str, Any]]], parts: dict[str, Any] | None = None) -> str:
    """"Restored your account: 3 functions, 2 roles, 1 table (12 items), ..." (only what there is)."""
    def backends(service: str) -> list[Any]:
        return [backend for regions in state.get(service, {}).values() for backend in regions.values()]

    said = []
    functions = sum(len(b._lambdas._functions) for b in backends("lambda") if hasattr(b, "_lambdas"))
    if functions:
        said.append(_plural(functions, "function"))
    roles = sum(len(b.roles) for b in backends("iam"))
    if roles:
        said.append(_plural(roles, "role"))
    tables = [table for b in backends("dynamodb") for table in b.tables.values()]
    if tables:
        items = sum(len(table) for table in tables)
        said.append(f"{_plural(len(tables), 'table')} ({_plural(items, 'item')})")
    queues = [queue for b in backends("sqs") for queue in b.queues.values()]
    if queues:
        messages = sum(len(queue._messages) for queue in queues)
        said.append(f"{_plural(len(queues), 'queue')} ({_plural(messages, 'message')})")
    buckets = [bucket for b in backends("s3") for bucket in b.buckets.values()]
    if buckets:
        objects = sum(len(list(bucket.keys.keys())) for bucket in buckets)
        said.append(f"{_plural(len(buckets), 'bucket')} ({_plural(objects, 'object')})")
    topics = sum(len(b.topics) for b in backends("sns"))
    if topics:
        said.append(_plural(topics, "topic"))
    mappings = len((parts or {}).get("event_source_mappings") or [])
    if mappings:
        said.append(_plural(mappings, "event source mapping"))
    queued = len((parts or {}).get("async-events") or [])
    if queued:
        said.append(_plural(queued, "asynchronous event") + " still to run")
    return "Restored your account: " + (", ".join(said) if said else "nothing to restore yet") + "."


# --- the saver -------------------------------------------------------------------------------------

class AccountStore:
    """Snapshots the account to disk when it changed (debounced, in a thread), restores it at start."""

    def __init__(self, root: Path, parts: dict[str, Part], debounce_s: float = DEBOUNCE_S) -> None:
        self.file = AccountFile(root)
        self.parts = parts
        self.debounce_s = debounce_s
        self._rest_s = 0.0
        self._dirty = threading.Event()
        self._stopped = threading.Event()
        self._write_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._paused = 0
        self.saves = 0
        self.last_error: str | None = None
        self.restored: str | None = None
        self.restore_ms: float | None = None

    # --- restoring ---------------------------------------------------------------------------------

    def restore(self) -> str | None:
        """Load the saved account into moto and the parts; the one-line message to show, or None."""
        started = time.perf_counter()
        snapshot, problem = self.file.read()
        if snapshot is None:
            return problem
        try:
            restore_moto(snapshot.moto)
            for name, part in self.parts.items():
                if name in snapshot.parts:
                    part.restore_state(snapshot.parts[name])
        except Exception as error:
            log.exception("restoring the saved account failed")
            aside = self.file.set_aside()
            return (f"Lambda Lab: your saved account could not be restored ({type(error).__name__}: "
                    f"{str(error)[:200]}); it was set aside as {aside.name}.")
        message = self.restored = summary(snapshot.moto, snapshot.parts)
        self.restore_ms = 1000 * (time.perf_counter() - started)
        log.info("%s (%.0f ms)", message, self.restore_ms)
        return message

    # --- saving ------------------------------------------------------------------------------------

    def mark(self, *_: Any) -> None:
        """Something changed: a write follows within debounce_s. Cheap: callable from any hook."""
        self._dirty.set()

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> "AccountStore":
        self._thread = threading.Thread(target=self._run, name="account-saver", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stopped.is_set():
            if not self._dirty.wait(timeout=1.0):
                continue
            if self._stopped.wait(max(self.debounce_s, self._rest_s)):
                return
            self._dirty.clear()
            began = time.perf_counter()
            if not self.save():
                self._dirty.set()  # try again next round
            # A snapshot holds the interpreter while it pickles: under a steady stream of changes
            # (invokes add log lines) the saver rests SAVER_REST times as long as it worked, so it
            # keeps to a small share of the cloud's time however big the account grows.
            self._rest_s = min(MAX_REST_S, SAVER_REST * (time.perf_counter() - began))

    def describe(self) -> dict[str, Any]:
        """GET /lambdalab/account: is everything so far on disk? (pending: a change not yet written)."""
        return {"kept": self.started, "pending": self._dirty.is_set() or self._write_lock.locked(),
                "saves": self.saves, "file": str(self.file.path), "restored": self.restored,
                "restore_ms": self.restore_ms, "size_bytes": _size(self.file.path)}

    def save(self) -> bool:
        """Write a snapshot now; False if moto's objects changed under us (the next round retries)."""
        with self._write_lock:
            if self._paused:
                return True
            try:
                data = dumps(Snapshot(moto=moto_state(), parts={name: part.export_state()
                                                                for name, part in self.parts.items()}))
            except RuntimeError as error:  # "dictionary changed size during iteration": a request raced us
                self.last_error = str(error)
                return False
            self.file.write(data)
            self.saves += 1
            return True

    def stop(self, final_save: bool = True) -> None:
        """A clean stop: the thread ends and the account is written one last time."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if final_save:
            for _ in range(5):
                if self.save():
                    break

    def clear(self, while_emptying: Callable[[], Any]) -> Any:
        """Empty the saved account along with the live one (reset): nothing is written in between."""
        with self._write_lock:
            self._paused += 1
        try:
            result = while_emptying()
            with self._write_lock:
                self.file.clear()
                self._dirty.clear()
            return result
        finally:
            with self._write_lock:
                self._paused -= 1
            self.mark()  # the empty account (its learner user) is written, too


def marking(app: Callable, mark: Callable[[], None]) -> Callable:
    """moto's WSGI app, marking the account dirty after each AWS request (reads included: cheaper to
    write a snapshot too many than to tell, for every protocol, which actions change nothing)."""
    def wrapped(environ: dict, start_response: Callable) -> Any:
        try:
            return app(environ, start_response)
        finally:
            mark()

    return wrapped
