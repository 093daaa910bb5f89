"""Running the function behind an HTTP request, with the limits Lambda and API Gateway apply.

The event is refused before the function runs when it passes Lambda's 6 MB synchronous payload
limit. An API Gateway integration waits at most its TimeoutInMillis (29 s for a REST API,
30 s for an HTTP API by default) and then answers the client while the function runs on, as
on AWS; a function URL waits for the function's own timeout. These waits are the client's,
in real time: an HTTP client does not live in the cloud's virtual clock.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from moto.awslambda.models import lambda_backends

from ...aws import lambda_api as moto_hooks
from ...engine import validation
from ...engine.service import InvokeOutcome
from ...core import settings as settings_module

# arn:aws:lambda:us-east-1:123456789012:function:name[:qualifier], alone or inside API Gateway's
# arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/<function arn>/invocations
_FUNCTION_ARN = re.compile(r"arn:aws[\w-]*:lambda:(?P<region>[\w-]+):(?P<account>\d{12}):function:"
                           r"(?P<name>[\w-]+)(?::(?P<qualifier>[\w$-]+))?")
_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.(\w+)\}")


@dataclass(frozen=True)
class LambdaTarget:
    """The function an integration points at."""

    account_id: str
    region: str
    name: str
    qualifier: str | None = None

    @classmethod
    def from_uri(cls, uri: str | None, stage_variables: dict[str, str] | None = None) -> "LambdaTarget | None":
        if not uri:
            return None
        resolved = _STAGE_VARIABLE.sub(lambda m: (stage_variables or {}).get(m.group(1), ""), uri)
        found = _FUNCTION_ARN.search(resolved)
        if found is None:
            return None
        return cls(found["account"], found["region"], found["name"], found["qualifier"])

    @property
    def label(self) -> str:
        return f"lambda:{self.name}"

    def backend(self) -> Any:
        return lambda_backends[self.account_id][self.region]

    def function(self) -> Any | None:
        """moto's function (the version an alias points at), or None if it does not exist."""
        try:
            return self.backend().get_function(self.name, self.qualifier)
        except Exception:
            return None


@dataclass(frozen=True)
class HttpInvocation:
    """How the invoke went: refused for size, still running at the integration timeout, or its outcome."""

    outcome: InvokeOutcome | None = None
    too_large: validation.ApiError | None = None
    integration_timed_out: bool = False

    @property
    def throttled(self) -> bool:
        return self.outcome is not None and self.outcome.throttle is not None

    @property
    def function_failed(self) -> bool:
        return self.outcome is not None and self.outcome.function_error is not None


def invoke(engine: Any, backend: Any, fn: Any, payload: bytes, timeout_s: float | None = None,
           request_id: str | None = None) -> HttpInvocation:
    """Invoke synchronously; with timeout_s, give up waiting (not the function) after that long."""
    too_large = validation.check_payload(payload, "RequestResponse", settings_module.current())
    if too_large is not None:
        return HttpInvocation(too_large=too_large)
    spec = moto_hooks.function_spec(backend, fn)
    if timeout_s is None:
        return HttpInvocation(outcome=engine.invoke(spec, payload, request_id=request_id))
    finished: list[InvokeOutcome] = []
    worker = threading.Thread(target=lambda: finished.append(engine.invoke(spec, payload, request_id=request_id)),
                              name=f"http-invoke-{spec.name}", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if not finished:
        return HttpInvocation(integration_timed_out=True)
    return HttpInvocation(outcome=finished[0])


def outcome_detail(invocation: HttpInvocation, status: int) -> str:
    """A few words for the event flow."""
    if invocation.too_large is not None:
        return f"{status}: event too large"
    if invocation.integration_timed_out:
        return f"{status}: integration timed out"
    if invocation.throttled:
        return f"{status}: throttled"
    if invocation.function_failed:
        return f"{status}: function error"
    return str(status)
