"""Lambda's quotas, checked where AWS checks them: at the API, with AWS's own words.

moto accepts a 901 s timeout or a 5 KB environment without a word; a course that teaches
the limits must refuse them exactly as AWS does. Each check returns an ApiError or None.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from ..core.settings import Settings
from .runtimes import SUPPORTED_RUNTIMES

DEPRECATED_RUNTIMES = (
    "python2.7", "python3.6", "python3.7", "python3.8", "python3.9", "nodejs", "nodejs4.3", "nodejs6.10",
    "nodejs8.10", "nodejs10.x", "nodejs12.x", "nodejs14.x", "nodejs16.x", "nodejs18.x", "java8", "java8.al2",
    "dotnetcore1.0", "dotnetcore2.0", "dotnetcore2.1", "dotnetcore3.1", "dotnet6", "dotnet7", "ruby2.5",
    "ruby2.7", "ruby3.2", "go1.x", "provided",
)
RESERVED_ENVIRONMENT_KEYS = (
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
)
# A ZipFile is sent base64-encoded: 50 MB of zip is 69,905,067 bytes of request.
ZIP_REQUEST_LIMIT = 69_905_067


@dataclass(frozen=True)
class ApiError:
    code: str
    message: str
    status: int = 400


def _range_error(value: Any, member: str, low: int | None, high: int | None) -> ApiError | None:
    if high is not None and value > high:
        return ApiError("ValidationException", f"1 validation error detected: Value '{value}' at '{member}' "
                        f"failed to satisfy constraint: Member must have value less than or equal to {high}")
    if low is not None and value < low:
        return ApiError("ValidationException", f"1 validation error detected: Value '{value}' at '{member}' "
                        f"failed to satisfy constraint: Member must have value greater than or equal to {low}")
    return None


def check_configuration(config: dict[str, Any], settings: Settings) -> ApiError | None:
    """Checks shared by CreateFunction and UpdateFunctionConfiguration."""
    checks = []
    if "MemorySize" in config:
        checks.append(_range_error(int(config["MemorySize"]), "memorySize", settings.memory_min_mb,
                                   settings.memory_max_mb))
    if "Timeout" in config:
        checks.append(_range_error(int(config["Timeout"]), "timeout", 1, settings.timeout_max_s))
    storage = (config.get("EphemeralStorage") or {}).get("Size")
    if storage is not None:
        checks.append(_range_error(int(storage), "ephemeralStorage.size", settings.ephemeral_storage_min_mb,
                                   settings.ephemeral_storage_max_mb))
    checks.append(_check_runtime(config.get("Runtime")))
    checks.append(_check_environment(config.get("Environment"), settings))
    if len(config.get("Layers") or []) > settings.layers_max:
        checks.append(ApiError("InvalidParameterValueException",
                               f"Cannot reference more than {settings.layers_max} layers."))
    return next((error for error in checks if error is not None), None)


def _check_runtime(runtime: str | None) -> ApiError | None:
    if runtime is None:
        return None
    if runtime in DEPRECATED_RUNTIMES:
        return ApiError("InvalidParameterValueException",
                        f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS "
                        "Lambda functions. We recommend you use a supported runtime while creating or updating "
                        "functions.")
    if runtime not in SUPPORTED_RUNTIMES:
        allowed = ", ".join(SUPPORTED_RUNTIMES)
        return ApiError("ValidationException", f"1 validation error detected: Value '{runtime}' at 'runtime' "
                        f"failed to satisfy constraint: Member must satisfy enum value set: [{allowed}] or be a "
                        "valid ARN")
    return None


def _check_environment(environment: dict[str, Any] | None, settings: Settings) -> ApiError | None:
    variables = (environment or {}).get("Variables") or {}
    reserved = [key for key in variables if key in RESERVED_ENVIRONMENT_KEYS]
    if reserved:
        return ApiError("InvalidParameterValueException",
                        "Lambda was unable to configure your environment variables because the environment "
                        "variables you have provided contains reserved keys that are currently not supported for "
                        f"modification. Reserved keys used in this request: {', '.join(reserved)}")
    measured = json.dumps(variables, separators=(",", ":"))
    if sum(len(k.encode()) + len(str(v).encode()) for k, v in variables.items()) > settings.environment_max_bytes:
        return ApiError("InvalidParameterValueException",
                        "Lambda was unable to configure your environment variables because the environment "
                        f"variables you have provided exceeded the 4KB limit. String measured: {measured}")
    return None


def check_zip(zip_field: Any, settings: Settings) -> ApiError | None:
    """A ZipFile as boto3 sends it (base64 text) must fit 50 MB zipped and 250 MB unzipped."""
    if zip_field is None:
        return None
    encoded = zip_field.encode() if isinstance(zip_field, str) else zip_field
    if len(encoded) > ZIP_REQUEST_LIMIT * settings.zip_max_bytes // (50 * 1024 * 1024):
        return ApiError("RequestEntityTooLargeException",
                        f"Request must be smaller than {ZIP_REQUEST_LIMIT} bytes for the CreateFunction operation",
                        413)
    try:
        raw = base64.b64decode(encoded)
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
    except (ValueError, zipfile.BadZipFile):
        return ApiError("InvalidParameterValueException",
                        "Could not unzip uploaded file. Please check your file, then try to upload again.")
    return check_unzipped_size(unzipped, settings)


def check_unzipped_size(unzipped: int, settings: Settings) -> ApiError | None:
    if unzipped > settings.unzipped_max_bytes:
        return ApiError("InvalidParameterValueException",
                        f"Unzipped size must be smaller than {settings.unzipped_max_bytes} bytes")
    return None


def check_reserved_concurrency(requested: int, reserved_elsewhere: int, settings: Settings) -> ApiError | None:
    if settings.account_concurrency - reserved_elsewhere - requested < settings.unreserved_concurrency_min:
        return ApiError("InvalidParameterValueException",
                        "Specified ReservedConcurrentExecutions for function decreases account's "
                        f"UnreservedConcurrentExecution below its minimum value of "
                        f"[{settings.unreserved_concurrency_min}].")
    return None


def check_payload(payload: bytes, invocation_type: str, settings: Settings) -> ApiError | None:
    if invocation_type == "Event":
        if len(payload) > settings.async_payload_max_bytes:
            return ApiError("RequestEntityTooLargeException",
                            f"{len(payload)} byte payload is too large for the Event invocation type "
                            f"(limit {settings.async_payload_max_bytes} bytes)", 413)
    elif len(payload) > settings.sync_payload_max_bytes:
        return ApiError("RequestEntityTooLargeException",
                        f"Request must be smaller than {settings.sync_payload_max_bytes} bytes for the "
                        "InvokeFunction operation", 413)
    if payload:
        try:
            json.loads(payload)
        except ValueError as exc:
            return ApiError("InvalidRequestContentException",
                            f"Could not parse request body into json: Could not parse payload into json: {exc}")
    return None
