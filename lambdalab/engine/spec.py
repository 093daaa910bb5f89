"""A frozen snapshot of one function version's configuration, taken at invoke time.

moto's LambdaFunction is mutable and changes under our feet (UpdateFunctionConfiguration);
an execution environment is built from a snapshot, and its fingerprint tells the pool when
the function has changed and warm environments must be replaced, as on AWS.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LayerContent:
    arn: str
    sha256: str
    zip_bytes: bytes = field(repr=False)


@dataclass(frozen=True)
class FunctionSpec:
    account_id: str
    region: str
    name: str
    arn: str
    version: str
    runtime: str
    handler: str
    memory_mb: int
    timeout_s: int
    environment: dict[str, str]
    role_arn: str
    code_sha256: str
    code_zip: bytes = field(repr=False)
    layers: tuple[LayerContent, ...] = ()
    ephemeral_storage_mb: int = 512
    architecture: str = "x86_64"
    package_type: str = "Zip"
    log_group: str = ""
    log_format: str = "Text"
    reserved_concurrency: int | None = None

    @property
    def qualified_arn(self) -> str:
        return f"{self.arn}:{self.version}"

    @property
    def pool_key(self) -> str:
        """Environments are shared by invokes of the same function version."""
        return f"{self.arn}:{self.version}"

    @functools.cached_property
    def fingerprint(self) -> tuple:
        """Changes whenever AWS would start fresh environments: new code or configuration. (Compared,
        never stored: a tuple, which costs a tenth of hashing the JSON on every invoke.)"""
        return (self.runtime, self.handler, self.memory_mb, self.timeout_s,
                tuple(sorted((self.environment or {}).items())), self.role_arn, self.code_sha256,
                tuple(layer.sha256 for layer in self.layers), self.ephemeral_storage_mb, self.architecture,
                self.log_format)
