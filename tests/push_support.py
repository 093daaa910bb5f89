"""Helpers of the push-trigger tests (S3, SNS, EventBridge): a function that logs what it receives,
reading those events back, and resource-based policies. (The event flow, the invocations and the
virtual clock are support.py's, shared by every test.)"""

from __future__ import annotations

import json
from typing import Any

from support import TestCloud, create_function, wait_until

# Logs each event on one line; fails when the event (or any record's message) asks it to.
RECORDER = """
import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
    if "fail" in json.dumps(event):
        raise RuntimeError("asked to fail")
    return {"ok": True}
"""


def create_recorder(lam: Any, name: str, role: str) -> str:
    return create_function(lam, name, RECORDER, role)["FunctionArn"]


def received(aws: TestCloud, function_name: str) -> list[dict]:
    """Every event the function logged, oldest first."""
    logs = aws.client("logs")
    events: list[dict] = []
    arguments: dict[str, Any] = {"logGroupName": f"/aws/lambda/{function_name}", "filterPattern": '"EVENT "'}
    try:
        while True:
            page = logs.filter_log_events(**arguments)
            events += [json.loads(e["message"].split("EVENT ", 1)[1]) for e in page["events"]]
            if not page.get("nextToken"):
                return events
            arguments["nextToken"] = page["nextToken"]
    except logs.exceptions.ResourceNotFoundException:
        return []


def wait_for_events(aws: TestCloud, function_name: str, count: int, timeout_s: float = 60) -> list[dict]:
    """The function's events once it has logged at least `count` of them."""
    return wait_until(lambda: (lambda found: found if len(found) >= count else None)(received(aws, function_name)),
                      timeout_s, 0.2, f"{count} event(s) logged by {function_name}")


def allow(lam: Any, function_name: str, principal: str, source_arn: str, sid: str = "push",
          account: str | None = None) -> None:
    arguments = {"SourceAccount": account} if account else {}
    lam.add_permission(FunctionName=function_name, StatementId=sid, Action="lambda:InvokeFunction",
                       Principal=principal, SourceArn=source_arn, **arguments)
