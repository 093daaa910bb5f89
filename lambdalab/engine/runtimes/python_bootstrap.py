"""The Python runtime: polls the Runtime API and runs the handler, as AWS's runtime does.

It runs inside the execution environment (started by launcher.py), imports nothing from
lambdalab, and keeps its own imports few, because it is on every cold start. Error shapes,
log format and the context object follow AWS's Python runtime interface client.
"""

import json
import os
import _socket as socket  # the C module is all a client needs; the socket module's imports cost 0.4 MB
import sys
import time

RUNTIME_API = os.environ["AWS_LAMBDA_RUNTIME_API"]  # host:port, and a secret path without a sandbox
_request_id_for_logs = None


# --- Runtime API client: one keep-alive connection, as small as HTTP/1.1 allows ---------

class RuntimeClient:
    def __init__(self, address):
        host_port, slash, secret = address.partition("/")
        host, _, port = host_port.rpartition(":")
        self._address = (host, int(port))
        self._host = host_port
        self._prefix = slash + secret
        self._sock = None
        self._buffer = b""

    def _connect(self):
        # A plain connect: create_connection resolves the name and loads the idna codec.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.connect(self._address)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = b""

    def request(self, method, path, body=b"", headers=None):
        if self._sock is None:
            self._connect()
        lines = [f"{method} {self._prefix}/2018-06-01{path} HTTP/1.1", f"Host: {self._host}",
                 f"Content-Length: {len(body)}"]
        for key, value in (headers or {}).items():
            lines.append(f"{key}: {value}")
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        return self._read_response()

    def _read_until(self, marker):
        while marker not in self._buffer:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("Runtime API closed the connection")
            self._buffer += chunk
        head, _, self._buffer = self._buffer.partition(marker)
        return head

    def _read_response(self):
        head = self._read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self._buffer) < length:
            chunk = self._sock.recv(max(65536, length - len(self._buffer)))
            if not chunk:
                raise ConnectionError("Runtime API closed the connection")
            self._buffer += chunk
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return status, headers, body


# --- What the handler sees -------------------------------------------------------------

class CognitoIdentity:
    def __init__(self, document):
        self.cognito_identity_id = document.get("cognitoIdentityId")
        self.cognito_identity_pool_id = document.get("cognitoIdentityPoolId")


class Client:
    def __init__(self, document):
        self.installation_id = document.get("installation_id")
        self.app_title = document.get("app_title")
        self.app_version_name = document.get("app_version_name")
        self.app_version_code = document.get("app_version_code")
        self.app_package_name = document.get("app_package_name")


class ClientContext:
    def __init__(self, document):
        self.client = Client(document.get("client") or {}) if document.get("client") else None
        self.custom = document.get("custom")
        self.env = document.get("env")


class LambdaContext:
    def __init__(self, request_id, deadline_ms, invoked_arn, client_context, identity):
        self.aws_request_id = request_id
        self._deadline_ms = deadline_ms
        self.invoked_function_arn = invoked_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.client_context = ClientContext(json.loads(client_context)) if client_context else None
        self.identity = CognitoIdentity(json.loads(identity) if identity else {})

    def get_remaining_time_in_millis(self):
        return max(int(self._deadline_ms - time.time() * 1000), 0)

    def log(self, message):
        sys.stdout.write(message)
        sys.stdout.flush()

    def __repr__(self):
        return (f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name={self.log_group_name},"
                f"log_stream_name={self.log_stream_name},function_name={self.function_name},"
                f"memory_limit_in_mb={self.memory_limit_in_mb},function_version={self.function_version},"
                f"invoked_function_arn={self.invoked_function_arn},client_context={self.client_context},"
                f"identity={self.identity}])")


# --- Failures, shaped as AWS's Python runtime shapes them ------------------------------

class Fault(Exception):
    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


def _error_document(error_type, message, trace):
    return {"errorMessage": message, "errorType": error_type, "requestId": _request_id_for_logs or "",
            "stackTrace": trace}


def _exception_document(exc):
    import traceback
    trace = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
    return _error_document(type(exc).__name__, str(exc), trace)


def _log_error(document):
    lines = [f"[ERROR] {document['errorType']}: {document['errorMessage']}"]
    if document.get("stackTrace"):
        lines.append("Traceback (most recent call last):")
        lines.extend(entry.rstrip("\n") for entry in document["stackTrace"])
    # AWS keeps a multi-line error in one log event by joining with a carriage return.
    sys.stdout.write("\r".join(lines) + "\n")
    sys.stdout.flush()


# --- Loading the handler ---------------------------------------------------------------

def _python_paths():
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    opt = "/opt" if os.environ.get("LAMBDALAB_OPT_MOUNTED") else os.environ.get("LAMBDALAB_OPT_DIR", "/opt")
    # The function's Python (python3.12 reads /opt/python/lib/python3.12/site-packages), not the local one.
    runtime = os.environ.get("AWS_EXECUTION_ENV", "").replace("AWS_Lambda_", "", 1)
    version = runtime if runtime.startswith("python") else f"python{sys.version_info.major}.{sys.version_info.minor}"
    paths = [task_root, f"{opt}/python", f"{opt}/python/lib/{version}/site-packages"]
    runtime_site = os.environ.get("LAMBDALAB_RUNTIME_SITE")
    if runtime_site:
        paths.append(runtime_site)  # the SDK the Python runtime ships with: boto3 and its dependencies
    sys.path[:0] = paths


def _load_handler(handler_name):
    try:
        module_path, function_name = handler_name.rsplit(".", 1)
    except ValueError as exc:
        raise Fault("Runtime.MalformedHandlerName", f"Bad handler '{handler_name}': {exc}")
    module_name = module_path.replace("/", ".")
    import importlib
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {(exc.text or "").strip()}\n']
        raise Fault("Runtime.UserCodeSyntaxError",
                    f"Syntax error in module '{module_name}': {exc.msg} ({os.path.basename(exc.filename or '')}, line {exc.lineno})",
                    trace)
    except ImportError as exc:
        raise Fault("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}")
    except Exception as exc:  # an error in the module's own init code
        document = _exception_document(exc)
        raise Fault(document["errorType"], document["errorMessage"], document["stackTrace"])
    try:
        return getattr(module, function_name)
    except AttributeError:
        raise Fault("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")


# --- Logging as on AWS: the root logger writes tab-separated lines with the request id -----

def _install_logging(logging):
    class RequestIdFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _request_id_for_logs or ""
            return True

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
        "%Y-%m-%dT%H:%M:%S"))
    handler.formatter.converter = time.gmtime
    handler.terminator = ""
    handler.addFilter(RequestIdFilter())
    logging.getLogger().addHandler(handler)


class _SetUpLoggingWhenImported:
    """AWS's runtime gives the root logger its handler before the function runs. Importing logging
    costs an environment 1.2 MB (a fifth of a simple one, which counts with 1,000 of them), so the
    handler is added the moment the function or a library first imports logging: the same to them."""

    def __init__(self, loader):
        self._loader = loader

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name != "logging":
            return None
        sys.meta_path.remove(cls)
        import importlib.util
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = cls(spec.loader)
        return spec

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _install_logging(module)


# --- Fallback for machines without private mount namespaces: map /tmp in Python --------

def _map_tmp_paths():
    if os.environ.get("LAMBDALAB_TMP_MOUNTED") or not os.environ.get("LAMBDALAB_TMP_DIR"):
        return
    import builtins
    import io
    private = os.environ["LAMBDALAB_TMP_DIR"]
    # When Lambda Lab's home is itself under /tmp, the environment's own directories (its code,
    # layers, the SDK, this private /tmp) are too: those paths are real and must stay as they are.
    own = [private, os.environ.get("LAMBDA_TASK_ROOT"), os.environ.get("LAMBDALAB_OPT_DIR"),
           os.environ.get("LAMBDALAB_RUNTIME_SITE"), sys.prefix, sys.base_prefix]
    keep = tuple(path.rstrip("/") + "/" for path in own if path and path.startswith("/tmp/"))
    keep_bytes = tuple(path.encode() for path in keep)

    shm = os.environ.get("LAMBDALAB_SHM_DIR")

    def mapped(path):
        if isinstance(path, str) and (path == "/tmp" or path.startswith("/tmp/")):
            return path if (path + "/").startswith(keep) else private + path[4:]
        if isinstance(path, bytes) and (path == b"/tmp" or path.startswith(b"/tmp/")):
            return path if (path + b"/").startswith(keep_bytes) else private.encode() + path[4:]
        if shm and isinstance(path, str) and (path == "/dev/shm" or path.startswith("/dev/shm/")):
            return shm + path[8:]  # the machine's /dev/shm would outlive the environment
        if shm and isinstance(path, bytes) and (path == b"/dev/shm" or path.startswith(b"/dev/shm/")):
            return shm.encode() + path[8:]
        return path

    def wrap(function):
        def call(path, *args, **kwargs):
            return function(mapped(os.fspath(path)) if isinstance(path, (str, bytes, os.PathLike)) else path,
                            *args, **kwargs)
        return call

    for name in ("open", "stat", "lstat", "listdir", "scandir", "mkdir", "remove", "unlink", "rmdir",
                 "access", "chdir", "chmod", "utime", "truncate"):
        if hasattr(os, name):
            setattr(os, name, wrap(getattr(os, name)))
    for name in ("rename", "replace"):
        original = getattr(os, name)
        setattr(os, name, lambda src, dst, *a, _f=original, **k: _f(mapped(os.fspath(src)), mapped(os.fspath(dst)), *a, **k))
    builtins.open = io.open = wrap(io.open)
    os.environ["TMPDIR"] = private


# --- The loop ----------------------------------------------------------------------------

def main():
    global _request_id_for_logs
    client = RuntimeClient(RUNTIME_API)
    _map_tmp_paths()
    _python_paths()
    sys.meta_path.insert(0, _SetUpLoggingWhenImported)
    try:
        handler = _load_handler(os.environ["_HANDLER"])
    except Fault as fault:
        document = _error_document(fault.error_type, fault.message, fault.trace)
        document.pop("requestId")
        _log_error(document)
        client.request("POST", "/runtime/init/error", json.dumps(document).encode(),
                       {"Lambda-Runtime-Function-Error-Type": fault.error_type})
        sys.exit(1)
    while True:
        status, headers, body = client.request("GET", "/runtime/invocation/next")
        if status != 200:
            sys.exit(0)
        request_id = headers["lambda-runtime-aws-request-id"]
        _request_id_for_logs = request_id
        os.environ["_X_AMZN_TRACE_ID"] = headers.get("lambda-runtime-trace-id", "")
        context = LambdaContext(request_id, int(headers["lambda-runtime-deadline-ms"]),
                                headers["lambda-runtime-invoked-function-arn"],
                                headers.get("lambda-runtime-client-context"),
                                headers.get("lambda-runtime-cognito-identity"))
        try:
            event = json.loads(body) if body else {}
            result = handler(event, context)
        except Exception as exc:
            document = _exception_document(exc)
            _log_error(document)
            _post_error(client, request_id, document)
            continue
        try:
            payload = json.dumps(result).encode()
        except Exception as exc:
            document = _error_document("Runtime.MarshalError", f"Unable to marshal response: {exc}", [])
            _log_error(document)
            _post_error(client, request_id, document)
            continue
        sys.stdout.flush()
        client.request("POST", f"/runtime/invocation/{request_id}/response", payload)


def _post_error(client, request_id, document):
    sys.stdout.flush()
    client.request("POST", f"/runtime/invocation/{request_id}/error", json.dumps(document).encode(),
                   {"Lambda-Runtime-Function-Error-Type": document["errorType"]})


if __name__ == "__main__":
    main()
