"""Clients for the running local cloud, for the library's own views and checks.

Learners use plain ``boto3.client(...)`` after ``lambdalab.start()``; the library does not
rely on the notebook's environment and builds its clients from the state file instead.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from . import control as cloud_client
from ..core.state import CloudState


def current_cloud() -> CloudState:
    """The running cloud, started first if there is none: a view or a check must work right after a
    kernel restart, before the learner has run lambdalab.start() again."""
    return cloud_client.ensure_running()


def aws_client(service: str, state: CloudState | None = None, read_timeout: int = 960) -> Any:
    """A boto3 client for the local cloud from its state file, never the notebook's environment; no retries
    (a retried invoke would run the learner's function twice), and a read timeout above Lambda's 900 s."""
    state = state or current_cloud()
    session = boto3.Session(aws_access_key_id=state.access_key_id, aws_secret_access_key=state.secret_access_key,
                            region_name=state.region)
    return session.client(service, endpoint_url=state.endpoint,
                          config=Config(retries={"max_attempts": 0}, read_timeout=read_timeout))


def admin(method: str, path: str, state: CloudState | None = None, body: object = None) -> Any:
    """One of the cloud's /lambdalab/ requests (its answer, decoded JSON); the running cloud by default."""
    return cloud_client.admin_request(state or current_cloud(), method, path, body=body)


@dataclass
class InvokeResult:
    """An invoke as the console shows it: status, decoded payload, FunctionError, the log tail."""

    status: int
    payload: Any
    function_error: str | None
    log: str
    raw: bytes
    request_id: str

    def error_summary(self) -> str:
        """The function's error in a sentence, without the stack trace (checks quote it to the learner)."""
        document = self.payload if isinstance(self.payload, dict) else {}
        kind = document.get("errorType", self.function_error)
        return f"{kind}: {str(document.get('errorMessage', self.payload))[:300]}"


def invoke(name: str, event: Any = None, state: CloudState | None = None) -> InvokeResult:
    response = aws_client("lambda", state).invoke(FunctionName=name, Payload=json.dumps(event if event is not None else {}),
                                                  LogType="Tail")
    raw = response["Payload"].read()
    try:
        payload = json.loads(raw) if raw else None
    except ValueError:
        payload = raw.decode("utf-8", "replace")
    log = base64.b64decode(response.get("LogResult", "")).decode("utf-8", "replace")
    return InvokeResult(response["StatusCode"], payload, response.get("FunctionError"), log, raw,
                        response["ResponseMetadata"].get("RequestId", ""))
