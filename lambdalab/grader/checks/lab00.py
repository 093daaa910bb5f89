"""Lesson 00 (Welcome): the warm-up check, proof that the local cloud and boto3 work."""

from __future__ import annotations

from ..catalogue import register
from ..probe import Probe
from ..results import NotYet

FUNCTION = "lesson00-hello"


@register("lab00.ready", "Welcome: your local cloud runs and lesson00-hello answers")
def ready(probe: Probe) -> str:
    lam = probe.client("lambda")
    lam.list_functions()  # the Lambda API answers at all
    if probe.function(FUNCTION) is None:
        raise NotYet(f"There is no function called {FUNCTION} in your local cloud yet.",
                     "Run the cell under 'Your first function, in one cell' (it creates the function), "
                     "then run this check again.")
    result = probe.invoke(FUNCTION, {"name": "Lambda Lab"})
    if result.function_error:
        kind = result.payload.get("errorType", "an error") if isinstance(result.payload, dict) else "an error"
        raise NotYet(f"{FUNCTION} exists, but it failed when invoked ({kind}).",
                     "Run the cell that creates it again: it deletes the function and makes it afresh.")
    return f"Your local cloud is running and {FUNCTION} answered. You are ready for lesson 01."
