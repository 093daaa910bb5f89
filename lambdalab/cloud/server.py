"""The local cloud process: moto's server on 127.0.0.1 with the Lambda engine inside.

Run in the foreground by ``lambdalab serve``, or in the background by ``lambdalab.start()``.
Besides AWS's APIs it answers a few requests of its own under /lambdalab/ (status, reset,
the environments and invocations the console views draw), guarded by a token from the
state file so that only the learner's own tools can use them.
"""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import os
import resource
import secrets
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable

# moto reads these when its backends are created: set them before importing moto.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
for _name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
    os.environ.pop(_name, None)

import moto.settings  # noqa: E402
from moto.moto_api._internal.models import moto_api_backend  # noqa: E402
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app  # noqa: E402
from werkzeug.serving import BaseWSGIServer, make_server  # noqa: E402

from .. import triggers  # noqa: E402
from ..aws import accounts, iam, lambda_api, moto_glue  # noqa: E402
from ..aws.logs_sink import CloudWatchLogsSink  # noqa: E402
from ..aws.metrics_sink import LambdaMetrics  # noqa: E402
from ..core import settings as settings_module  # noqa: E402
from ..core import state  # noqa: E402
from ..core.admin import AdminError, AdminRequest, AdminRoutes  # noqa: E402
from ..core.clock import CloudClock  # noqa: E402
from ..engine.service import LambdaEngine  # noqa: E402
from ..engine.sinks import EngineSinks  # noqa: E402
from ..engine.spec import FunctionSpec  # noqa: E402
from ..records.flow import FlowLog  # noqa: E402
from ..records.invocations import InvocationHistory  # noqa: E402
from ..records.meter import Meter  # noqa: E402
from ..triggers.async_invoke import AsyncInvokeQueue  # noqa: E402
from ..triggers.http import routes as http_routes  # noqa: E402
from ..triggers.http.front_door import FrontDoor  # noqa: E402
from ..triggers.services import CloudServices  # noqa: E402
from . import persistence  # noqa: E402
from .gate import Gate  # noqa: E402
from .routes import bill as bill_routes  # noqa: E402
from .routes import clock as clock_routes  # noqa: E402
from .routes import flow as flow_routes  # noqa: E402

HOST = "127.0.0.1"
# A thousand invokes at once (the account's concurrency) must queue for accept(), not be dropped:
# werkzeug listens with a backlog of 128. The kernel caps this at net.core.somaxconn.
LISTEN_BACKLOG = 4096


def _collect_what_was_kept() -> None:
    """Collect everything, then put what is left out of the collector's sight (gc.freeze): moto's
    models and botocore's are hundreds of thousands of objects that live as long as the cloud, and
    a full collection walking them all stopped it ~140 ms every few hundred invokes. After a reset,
    the frozen objects of the emptied account are freed by thawing and collecting first."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    _give_back_free_memory()


def _give_back_free_memory() -> None:
    """glibc keeps what Python freed in its arenas (one per thread that allocated): without a trim,
    each reset left the cloud ~7 MB larger, though nothing was still in use."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _raise_open_files_limit() -> None:
    """Each environment costs the cloud a few descriptors (its Runtime API, its output, its caller's
    connection): 1,000 of them pass the usual soft limit of 1,024. Environments still get their own 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65_536)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


class LocalCloud:
    """One local AWS account: moto, the engine, the triggers, the records, and the learner's credentials.

    This is the wiring: every part is made here and handed what it needs (the engine its sinks,
    the triggers the cloud's services), so that no part looks another up through a global.
    """

    def __init__(self, port: int = 0, root: Path | None = None,
                 settings: settings_module.Settings | None = None) -> None:
        os.umask(0o077)  # everything the cloud writes (state, code, environments) is the learner's alone
        self.root = root or state.home()
        state.make_private_home(self.root)
        self.settings = settings or settings_module.Settings.from_env()
        moto.settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # IAM is enforced from the first request
        moto_glue.stop_tracking_model_instances()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.token = secrets.token_hex(16)
        self._reset_lock = threading.Lock()
        self._server: BaseWSGIServer = make_server(HOST, port, self._app, threaded=True,
                                                   request_handler=MotoRequestHandler)
        self._server.socket.listen(LISTEN_BACKLOG)
        _raise_open_files_limit()
        self.port = self._server.server_address[1]
        self.endpoint = f"http://{HOST}:{self.port}"
        self.clock = CloudClock()
        self.flow = FlowLog(self.clock)
        self.meter = Meter(self.clock)
        self.history = InvocationHistory()
        sinks = EngineSinks(logs=CloudWatchLogsSink(), credentials=_role_credentials)
        self.engine = LambdaEngine(self.settings, self.root / "cloud", self.endpoint, self.clock, sinks,
                                   serve_cloud=self._serve_from_sandbox)
        print(self.engine.services.sandbox.log_line(), flush=True)
        self.metrics = LambdaMetrics(self.clock, self.engine.concurrency)
        sinks.on_invocation += [self.history.record, self.meter.record, self.metrics.record]
        sinks.on_throttle.append(self.metrics.record_throttle)
        self.events = AsyncInvokeQueue(self.engine, self.clock, self.flow, self.metrics)
        lambda_api.install(self.engine, self.events)
        self.admin_routes = AdminRoutes()
        self.services = CloudServices(engine=self.engine, events=self.events, clock=self.clock, flow=self.flow,
                                      metrics=self.metrics, settings=self.settings, admin_routes=self.admin_routes,
                                      front_door=FrontDoor())
        self.triggers = triggers.install_all(self.services)
        self.account = persistence.AccountStore(self.root, self._kept_on_disk())
        sinks.on_invocation.append(self.account.mark)
        self._moto = persistence.marking(DomainDispatcherApplication(create_backend_app), self.account.mark)
        self._gate = Gate(moto=self._moto, admin=self._admin)
        self.credentials = accounts.create_admin(accounts.load_or_create(self.root / "credentials.json"))
        accounts.save(self.root / "credentials.json", self.credentials)
        self.restored: str | None = None
        self._add_admin_routes()

    def _kept_on_disk(self) -> dict[str, persistence.Part]:
        """What the saved account holds besides moto's backends; the clock first, so that what is
        restored after it books its timers on the restored time."""
        return {"clock": self.clock, "meter": self.meter, "history": self.history, "flow": self.flow,
                **self.triggers.kept_on_disk(), "async-events": self.events}

    def keep_account(self) -> str | None:
        """Load the saved account (if any) and keep saving it from now on: the served cloud's account
        survives a crash, a stop and a reboot. (A cloud in a thread of a test or a benchmark stays
        ephemeral.) The one-line message of what was restored, or of a saved account set aside."""
        self.restored = self.account.restore()
        accounts.create_admin(self.credentials)  # the saved account's learner keeps today's keys
        self.account.start()
        if self.restored:
            logging.getLogger("lambdalab").warning(self.restored)
        return self.restored

    def _add_admin_routes(self) -> None:
        routes = self.admin_routes
        routes.add("GET", "/lambdalab/status", self._status)
        routes.add("POST", "/lambdalab/reset", lambda _: self.reset())
        routes.add("GET", "/lambdalab/environments", self._environments)
        routes.add("GET", "/lambdalab/invocations", lambda _: self.history.as_json())
        routes.add("GET", "/lambdalab/account", lambda _: self.account.describe())
        clock_routes.register(routes, self.clock)
        flow_routes.register(routes, self.flow)
        bill_routes.register(routes, self.meter, self.clock, self.settings)
        http_routes.register(routes, self.services.front_door)

    # --- serving ----------------------------------------------------------------------------

    def cloud_state(self) -> state.CloudState:
        return state.CloudState(
            endpoint=self.endpoint, pid=os.getpid(), port=self.port,
            access_key_id=self.credentials.access_key_id, secret_access_key=self.credentials.secret_access_key,
            region=self.credentials.region, account_id=self.credentials.account_id, token=self.token,
            started_at=time.time(), restored=self.restored or "",
        )

    def serve_forever(self, announce: bool = True) -> None:
        """Serve until SIGTERM or Ctrl-C; the state file exists exactly while we serve."""
        if self.settings.keep_account:
            self.keep_account()
        _collect_what_was_kept()
        state.write(self.cloud_state(), self.root)
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=self._server.shutdown).start())
        if announce:
            print(f"Lambda Lab local cloud at {self.endpoint} (account {self.credentials.account_id}, "
                  f"region {self.credentials.region}); Ctrl-C stops it.", flush=True)
        if self.restored:
            print(self.restored, flush=True)
        threading.Thread(target=self._watch_state_file, name="state-file-watch", daemon=True).start()
        try:
            self._server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.close()

    def _watch_state_file(self, interval_s: float = 2.0) -> None:
        """A cloud whose state file is gone or names another process can no longer be found by
        anyone (its home was deleted, or replaced): it ends instead of running on unseen."""
        while True:
            time.sleep(interval_s)
            current = state.read(self.root)
            if current is None and state.state_path(self.root).exists():
                continue  # there but unreadable now (out of file descriptors, say): not gone
            if current is None or current.pid != os.getpid():
                print("Lambda Lab: the state file of this cloud is gone; stopping.", flush=True)
                self._server.shutdown()
                return

    def _serve_from_sandbox(self, connection: socket.socket) -> None:
        """A sealed function's SDK call, on the door its sandbox handed over: served as any other."""
        self._server.process_request(connection, ("127.0.0.1", 0))

    def start_in_thread(self) -> "LocalCloud":
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                         name="local-cloud", daemon=True).start()
        return self

    def close(self) -> None:
        self.account.stop(final_save=self.account.started)  # before the triggers forget their state
        state.remove(os.getpid(), self.root)
        self.triggers.shutdown()
        self.events.shutdown()
        self.clock.stop()
        self.engine.shutdown()
        self._server.server_close()

    def shutdown(self) -> None:
        self._server.shutdown()
        self.close()

    # --- the account ------------------------------------------------------------------------

    def reset(self) -> dict:
        """Empty the account: every function, role, bucket, log and environment goes."""
        with self._reset_lock:
            return self.account.clear(self._empty)

    def _empty(self) -> dict:
        """Called with the saved account's writes held off: the file goes with the live account."""
        self.triggers.reset()
        self.events.reset()
        self.clock.reset()
        self.engine.reset()
        self.history.clear()
        self.meter.clear()
        self.flow.clear()
        moto_api_backend.reset()
        accounts.create_admin(self.credentials)
        _collect_what_was_kept()  # the emptied account's objects may have been frozen with the cloud's
        return {"reset": True}

    # --- HTTP -------------------------------------------------------------------------------

    def _app(self, environ: dict, start_response: Callable) -> Any:
        """Every request passes the gate (cloud/gate.py): only signed AWS requests and the token's holder get in."""
        return self._gate(environ, start_response)

    def _admin(self, environ: dict, start_response: Callable) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        handler = self.admin_routes.find(environ.get("REQUEST_METHOD", "GET"), path)
        if environ.get("HTTP_X_LAMBDALAB_TOKEN") != self.token:
            status, body = "403 Forbidden", {"message": "missing or wrong X-Lambdalab-Token"}
        elif handler is None:
            status, body = "404 Not Found", {"message": f"no such Lambda Lab request: {path}"}
        else:
            try:
                status, body = "200 OK", handler(AdminRequest.from_environ(environ))
            except AdminError as error:
                status, body = f"{error.status} Error", {"message": error.message}
        data = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def _status(self, _: AdminRequest) -> dict:
        return {"endpoint": self.endpoint, "pid": os.getpid(), "environments": len(self.engine.pool.environments()),
                "sandbox": self.engine.services.sandbox.mode,
                "concurrent_executions": self.engine.concurrency.total()}

    def _environments(self, _: AdminRequest) -> list[dict]:
        now = time.time()
        listed = []
        for environment, busy in self.engine.pool.environments():
            listed.append({
                "id": environment.id, "function": environment.spec.name, "version": environment.spec.version,
                "pid": environment.pid,  # the runtime's, as this machine numbers it (a sandbox numbers it 2)
                "state": "busy" if busy else ("warm" if environment.pid else "cold"),
                "invokes": environment.invokes, "cold_starts": environment.cold_starts,
                "age_s": round(now - environment.created_at, 3),
                "idle_s": round(self.clock.now() - environment.last_used, 3),
                "log_stream": environment.log_stream_name, "memory_mb": environment.spec.memory_mb,
                "max_memory_used_mb": round(environment.max_memory_bytes / 2**20),
            })
        return listed


def _role_credentials(spec: FunctionSpec) -> dict[str, str]:
    """The execution role's temporary credentials, minted by moto's STS, as Lambda hands them over."""
    return iam.assume_for_function(spec.account_id, spec.region, spec.role_arn, spec.name)


def serve(port: int = 0) -> None:
    LocalCloud(port=port).serve_forever()
