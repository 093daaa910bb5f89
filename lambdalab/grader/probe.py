"""What a check uses to look at the learner's cloud: boto3 clients and a few helpers.

Everything goes through :mod:`lambdalab.client` (the cloud's AWS APIs and its /lambdalab/
requests): a check runs in the learner's kernel, never inside the cloud's process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..client.connection import InvokeResult, aws_client, current_cloud, invoke
from ..core.state import CloudState
from .results import NotYet


@dataclass
class Probe:
    state: CloudState

    @classmethod
    def connect(cls) -> "Probe":
        return cls(current_cloud())

    def client(self, service: str) -> Any:
        return aws_client(service, self.state)

    def function(self, name: str) -> dict | None:
        """The function's configuration, or None if there is no such function."""
        lam = self.client("lambda")
        try:
            return lam.get_function_configuration(FunctionName=name)
        except lam.exceptions.ResourceNotFoundException:
            return None

    def function_or_not_yet(self, name: str, message: str, hint: str) -> dict:
        """The function's configuration; a check that needs it says "not yet" when it is missing."""
        configuration = self.function(name)
        if configuration is None:
            raise NotYet(message, hint)
        return configuration

    def invoke(self, name: str, event: Any = None) -> InvokeResult:
        return invoke(name, event, self.state)
