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

from ...core.arns import FunctionArn
from ...engine import validation
from ...engine.service import InvokeOutcome
from ...engine.spec import FunctionSpec
from ..services import CloudServices

_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.(\w+)\}")


def integration_target(uri: str | None, stage_variables: dict[str, str] | None = None) -> FunctionArn | None:
    """The function an integration points at: its URI (a function ARN, alone or inside API Gateway's
    arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function arn>/invocations) with the
    stage's ${stageVariables.name} filled in (an unknown one becomes "")."""
    if not uri:
        return None
    return FunctionArn.find_in(_STAGE_VARIABLE.sub(lambda m: (stage_variables or {}).get(m.group(1), ""), uri))


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


def invoke(cloud: CloudServices, spec: FunctionSpec, payload: bytes, timeout_s: float | None = None,
           request_id: str | None = None) -> HttpInvocation:
    """Invoke synchronously; with timeout_s, give up waiting (not the function) after that long."""
    too_large = validation.check_payload(payload, "RequestResponse", cloud.settings)
    if too_large is not None:
        return HttpInvocation(too_large=too_large)
    engine = cloud.engine
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
