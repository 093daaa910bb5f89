"""A frozen snapshot of one function version's configuration, taken at invoke time.

moto's LambdaFunction is mutable and changes under our feet (UpdateFunctionConfiguration);
an execution environment is built from a snapshot, and its fingerprint tells the pool when
the function has changed and warm environments must be replaced, as on AWS.
"""

from __future__ import annotations

import functools
import hashlib
import json
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
    def fingerprint(self) -> str:
        """Changes whenever AWS would start fresh environments: new code or configuration."""
        parts: dict[str, Any] = {
            "runtime": self.runtime,
            "handler": self.handler,
            "memory": self.memory_mb,
            "timeout": self.timeout_s,
            "environment": self.environment,
            "role": self.role_arn,
            "code": self.code_sha256,
            "layers": [layer.sha256 for layer in self.layers],
            "storage": self.ephemeral_storage_mb,
            "architecture": self.architecture,
            "log_format": self.log_format,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


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
