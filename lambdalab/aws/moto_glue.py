"""What every adapter needs to put Lambda Lab in front of moto: one way to wrap a moto method,
AWS's errors as moto raises them, and a function's spec read from moto's model.

moto's classes are patched once per process, but a process may run several clouds one after
the other (tests do): :func:`wrap` therefore replaces an earlier Lambda Lab wrapper of the same
method instead of stacking on it, so each cloud's hooks close over that cloud and no module
keeps a global engine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Protocol

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import lambda_backends

from ..core.arns import FunctionArn, function_arn
from ..engine import validation
from ..engine.spec import FunctionSpec, LayerContent

_ORIGINAL = "__lambdalab_original__"


def stop_tracking_model_instances() -> None:
    """moto keeps every model object it ever made (BaseModel.instances_tracked) for its dashboard,
    which the cloud keeps closed: a deleted function, an overwritten S3 object, the AWS managed
    policies of every account a reset emptied, all stayed in memory for the cloud's life (+7 MB a
    reset). Made untracked, they go when nothing else holds them."""
    from moto.core.common_models import BaseModel
    from moto.core.model_instances import reset_model_data

    def untracked(cls: type, *args: Any, **kwargs: Any) -> Any:
        return super(BaseModel, cls).__new__(cls)

    BaseModel.__new__ = untracked  # type: ignore[method-assign]
    reset_model_data()


class ApiException(LambdaClientError):
    """An AWS error with the status AWS uses for it (moto's default is 400)."""

    def __init__(self, error: validation.ApiError) -> None:
        self.code = error.status
        super().__init__(error.code, error.message)


def api_error(code: str, message: str, status: int = 400) -> ApiException:
    return ApiException(validation.ApiError(code, message, status))


def raise_if(error: validation.ApiError | None) -> None:
    if error is not None:
        raise ApiException(error)


def wrap(cls: type, name: str, replacement: Callable[..., Any]) -> None:
    """Put replacement(original, self, *args, **kwargs) in front of moto's method `name`.

    Each module has at most one wrapper of a method: wrapping it again from the same module
    (a new cloud in the same process) puts the new replacement in the old one's place in the
    chain, so the order in which modules wrapped a method never changes."""
    owner = _owner(replacement)
    chain: list[tuple[str, Callable[..., Any]]] = []  # outermost first
    innermost = cls.__dict__.get(name, getattr(cls, name))
    while hasattr(innermost, _ORIGINAL):
        chain.append((innermost.__lambdalab_owner__, innermost.__lambdalab_replacement__))
        innermost = getattr(innermost, _ORIGINAL)
    owners = [who for who, _ in chain]
    if owner in owners:
        chain[owners.index(owner)] = (owner, replacement)
    else:
        chain.insert(0, (owner, replacement))
    method = innermost
    for who, outer in reversed(chain):
        method = _wrapper(name, method, outer, who)
    setattr(cls, name, method)


def moto_original(cls: type, name: str) -> Callable[..., Any]:
    """moto's own method under every Lambda Lab wrapper (for a path that must bypass our hooks)."""
    method = cls.__dict__.get(name, getattr(cls, name))
    while hasattr(method, _ORIGINAL):
        method = getattr(method, _ORIGINAL)
    return method


def _owner(replacement: Callable[..., Any]) -> str:
    function = getattr(replacement, "func", replacement)  # a functools.partial names its function
    return f"{function.__module__}.{function.__qualname__}"


def _wrapper(name: str, original: Callable[..., Any], replacement: Callable[..., Any], owner: str) -> Callable[..., Any]:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return replacement(original, self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = original.__doc__
    setattr(method, _ORIGINAL, original)
    method.__lambdalab_replacement__ = replacement  # type: ignore[attr-defined]
    method.__lambdalab_owner__ = owner  # type: ignore[attr-defined]
    return method


def replace_method(cls: type, name: str, implementation: Callable[..., Any]) -> None:
    """Replace moto's method outright (the Invoke API: moto would run the code in Docker)."""
    setattr(cls, name, implementation)


def json_error(status: int, code: str, message: str, extra: dict | None = None,
               headers: dict | None = None) -> tuple[int, dict[str, str], str]:
    """An AWS JSON error response as moto's response handlers return one."""
    document = {"Type": "User", "message": message, **(extra or {})}
    all_headers = {"x-amzn-errortype": code, "content-type": "application/json", "status": str(status)}
    all_headers.update(headers or {})
    return status, all_headers, json.dumps(document)


# --- functions, as moto keeps them -------------------------------------------------------------

def lambda_backend(account_id: str, region: str) -> Any:
    return lambda_backends[account_id][region]


def find_function(arn: FunctionArn) -> tuple[Any, Any] | None:
    """(moto's Lambda backend, the function or version) or None when there is no such function."""
    try:
        backend = lambda_backend(arn.account_id, arn.region)
        return backend, backend.get_function(arn.name, arn.qualifier)
    except Exception:
        return None


def function_spec(backend: Any, fn: Any) -> FunctionSpec:
    """A frozen snapshot of moto's (mutable) function, as the engine runs it."""
    spec = spec_from_moto(fn, backend.layers_versions_by_arn)
    arn = function_arn(fn.region, fn.account_id, fn.function_name)
    return spec if spec.arn == arn else replace(spec, arn=arn)


@dataclass(frozen=True)
class SpecLoader:
    """Which function, version or alias an event is for; called when the event runs, so it sees the
    configuration of that moment (None once the function is deleted: the event is dropped, as on AWS)."""

    backend: Any = field(repr=False, compare=False)
    function_name: str
    qualifier: str | None = None

    def __call__(self) -> FunctionSpec | None:
        try:
            return function_spec(self.backend, self.backend.get_function(self.function_name, self.qualifier))
        except Exception:
            return None

    @classmethod
    def for_arn(cls, arn: FunctionArn) -> "SpecLoader":
        return cls(lambda_backend(arn.account_id, arn.region), arn.name, arn.qualifier)


class EventQueue(Protocol):
    """Lambda's queue of asynchronous invocations (lambdalab/triggers/async_invoke.py), as the Invoke
    API, push sources and Lambda destinations hand it events."""

    def submit(self, spec_loader: SpecLoader, payload: bytes, *, source: str = "lambda:Invoke") -> str:
        """Queue the event; its request id (the one the function will see) comes back at once."""


def spec_from_moto(fn: Any, layer_lookup: Any) -> FunctionSpec:
    """Build a spec from a moto LambdaFunction; layer_lookup maps a layer version ARN to moto's LayerVersion."""
    layers = []
    for layer in fn.layers or []:
        layer_version = layer_lookup(layer["Arn"])
        if layer_version is not None:
            layers.append(
                LayerContent(
                    arn=layer["Arn"],
                    sha256=layer_version.code_sha_256,
                    zip_bytes=layer_version.code_bytes,
                )
            )
    logging_config = getattr(fn, "logging_config", None) or {}
    reserved = fn.reserved_concurrency
    return FunctionSpec(
        account_id=fn.account_id,
        region=fn.region,
        name=fn.function_name,
        arn=fn.function_arn,
        version=str(fn.version),
        runtime=fn.run_time or "",
        handler=fn.handler or "",
        memory_mb=int(fn.memory_size),
        timeout_s=int(fn.timeout),
        environment=dict(fn.environment_vars or {}),
        role_arn=fn.role,
        code_sha256=getattr(fn, "code_sha_256", ""),
        code_zip=getattr(fn, "code_bytes", b""),
        layers=tuple(layers),
        ephemeral_storage_mb=int(fn.ephemeral_storage),
        architecture=(fn.architectures or ["x86_64"])[0],
        package_type=fn.package_type,
        log_group=logging_config.get("LogGroup") or f"/aws/lambda/{fn.function_name}",
        log_format=logging_config.get("LogFormat", "Text"),
        reserved_concurrency=None if reserved is None else int(reserved),
    )
