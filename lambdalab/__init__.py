"""Lambda Lab: learn AWS Lambda on a local cloud where functions really run.

In a notebook::

    import boto3, lambdalab
    lambdalab.start()              # a local AWS account: no sign-up, no cost, nothing leaves this machine
    lam = boto3.client("lambda")   # plain boto3: this exact code also runs against real AWS
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .client import control as _client
from .core import state as _state

if TYPE_CHECKING:
    from .grader.views import CheckView, ProgressView
    from .widgets import EnvironmentsView, InvokePanel, LogViewer

__all__ = ["start", "reset", "stop", "status", "environments", "invocations", "invoke_panel", "log_viewer",
           "environment_view", "check", "progress", "clean_up", "clock", "bill", "event_flow", "power_tune",
           "pricing_calculator"]

# Imported on first use, so that `import lambdalab` stays light: name -> (module, attribute).
# The learner's functions that show something live with their view (widgets/), next to nothing else.
_LAZY = {
    "clock": ("lambdalab.clock", None),
    "bill": ("lambdalab.widgets.bill", "bill"),
    "event_flow": ("lambdalab.widgets.event_flow", "event_flow"),
    "power_tune": ("lambdalab.widgets.power_tuning", "power_tune"),
    "pricing_calculator": ("lambdalab.widgets.pricing_calculator", "pricing_calculator"),
}


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'lambdalab' has no attribute {name!r}")
    import importlib

    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    return module if attribute is None else getattr(module, attribute)


def start(quiet: bool = False) -> _state.CloudState:
    """Start the local cloud (or find the running one) and point this process's AWS SDK at it."""
    current, started = _client.start_or_find()
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(_client.aws_environment(current))
    _forget_cached_boto3_session()
    if not quiet:
        print(f"Local AWS ready at {current.endpoint} (account {current.account_id}, region {current.region}). "
              "boto3 in this notebook now talks to it.")
        if started and current.restored:
            print(current.restored)
    return current


def _forget_cached_boto3_session() -> None:
    """boto3's default session caches credentials: drop it so the new environment is used."""
    try:
        import boto3
        boto3.DEFAULT_SESSION = None
    except ImportError:
        pass


def reset() -> None:
    """Empty the local account: functions, roles, buckets, logs and environments all go."""
    _client.admin_request(_client.running_cloud(), "POST", "/lambdalab/reset")


def stop() -> bool:
    """End the local cloud (its account is lost); True if one was running."""
    return _client.stop()


def status() -> dict[str, Any]:
    """The running cloud at a glance: endpoint, pid, execution environments alive, invokes running now."""
    return _client.admin_request(_client.running_cloud(), "GET", "/lambdalab/status")  # type: ignore[return-value]


def environments() -> list[dict[str, Any]]:
    """The execution environments alive now: function, state (cold/warm/busy), invokes, age."""
    return _client.admin_request(_client.running_cloud(), "GET", "/lambdalab/environments")  # type: ignore[return-value]


def invocations() -> list[dict[str, Any]]:
    """Every invocation so far, with the figures of its REPORT line."""
    return _client.admin_request(_client.running_cloud(), "GET", "/lambdalab/invocations")  # type: ignore[return-value]


# --- the console, as widgets (imported on first use: `import lambdalab` stays light) -------------

def invoke_panel(function_name: str | None = None, event: object = None) -> InvokePanel:
    """Pick a function, edit a test event, invoke, see the result and the REPORT line."""
    from .widgets import InvokePanel

    return InvokePanel(function_name, event)


def log_viewer(function_name: str, streams: int = 3) -> LogViewer:
    """The function's newest log streams in CloudWatch Logs."""
    from .widgets import LogViewer

    return LogViewer(function_name, streams)


def environment_view(function_name: str | None = None) -> EnvironmentsView:
    """The execution environments alive now, cold, warm or busy."""
    from .widgets import EnvironmentsView

    return EnvironmentsView(function_name)


def check(check_id: str) -> CheckView:
    """Run an exercise's check: passed, or not yet with a hint. Results are kept in your progress."""
    from .grader import check as run

    return run(check_id)


def progress() -> ProgressView:
    """Your progress through the labs."""
    from .grader import progress as show

    return show()


def clean_up(prefix: str) -> list[str]:
    """Delete what a lesson made (everything named prefix*), so it can run again from the top."""
    from .course.cleanup import clean_up as remove

    return remove(prefix)
