"""Amazon Resource Names, parsed once: every part of the cloud that is handed an ARN reads it here.

Triggers, destinations, pollers and the HTTP front door all name functions, queues, topics and
buses by ARN. One parser means one set of rules (seven or eight parts for a function, a
qualifier only after the name) instead of a hand-written ``split(":")`` in every module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A function ARN inside other text, e.g. an API Gateway integration URI:
# arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/<function arn>/invocations
_FUNCTION_ARN_IN_TEXT = re.compile(r"arn:aws[\w-]*:lambda:(?P<region>[\w-]+):(?P<account>\d{12}):function:"
                                   r"(?P<name>[\w-]+)(?::(?P<qualifier>[\w$-]+))?")


@dataclass(frozen=True)
class Arn:
    """Any ARN: arn:<partition>:<service>:<region>:<account>:<resource>."""

    service: str
    region: str
    account_id: str
    resource: str
    partition: str = "aws"

    @classmethod
    def parse(cls, text: str) -> "Arn | None":
        parts = text.split(":", 5) if isinstance(text, str) else []
        if len(parts) != 6 or parts[0] != "arn":
            return None
        return cls(parts[2], parts[3], parts[4], parts[5], parts[1])

    @property
    def name(self) -> str:
        """The queue, topic, function, bus, rule or bucket name."""
        if self.service == "lambda" and self.resource.startswith("function:"):
            return self.resource.split(":")[1]
        if self.service == "events":
            return self.resource.split("/", 1)[-1]
        return self.resource

    @property
    def flow_name(self) -> str:
        """How the event flow names the resource: "sqs:failed-orders", "lambda:audit", "events:default"."""
        return f"{self.service}:{self.name}"

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account_id}:{self.resource}"


@dataclass(frozen=True)
class FunctionArn:
    """A function, a version or an alias: arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]."""

    account_id: str
    region: str
    name: str
    qualifier: str | None = None

    @classmethod
    def parse(cls, text: str) -> "FunctionArn | None":
        parts = text.split(":") if isinstance(text, str) else []
        if len(parts) not in (7, 8) or parts[0] != "arn" or parts[2] != "lambda" or parts[5] != "function":
            return None
        if not parts[6] or (len(parts) == 8 and not parts[7]):
            return None
        return cls(parts[4], parts[3], parts[6], parts[7] if len(parts) == 8 else None)

    @classmethod
    def find_in(cls, text: str | None) -> "FunctionArn | None":
        """The first function ARN inside a longer string (an integration URI), if there is one."""
        found = _FUNCTION_ARN_IN_TEXT.search(text or "")
        if found is None:
            return None
        return cls(found["account"], found["region"], found["name"], found["qualifier"])

    @property
    def unqualified(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.name}"

    @property
    def flow_name(self) -> str:
        return f"lambda:{self.name}"

    def __str__(self) -> str:
        return self.unqualified + (f":{self.qualifier}" if self.qualifier else "")


def function_arn(region: str, account_id: str, name: str, qualifier: str | None = None) -> str:
    """The ARN AWS gives a function (or, with a qualifier, one of its versions or aliases)."""
    return str(FunctionArn(account_id, region, name, qualifier))
