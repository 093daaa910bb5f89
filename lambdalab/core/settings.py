"""Every number the emulator enforces, in one place.

The values follow ../shared/aws-lambda-facts.md. Several of them changed over the years
(the course notes predate the changes) or were never documented by AWS; those are settings,
so an instructor can bring back a historical limit or tune an undocumented one. Each field
can be set through an environment variable ``LAMBDALAB_<FIELD NAME IN CAPITALS>`` read by the
local cloud when it starts.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    # Function configuration quotas (CreateFunction / UpdateFunctionConfiguration).
    memory_min_mb: int = 128
    memory_max_mb: int = 10_240
    timeout_max_s: int = 900
    environment_max_bytes: int = 4 * 1024
    ephemeral_storage_min_mb: int = 512
    ephemeral_storage_max_mb: int = 10_240
    layers_max: int = 5
    zip_max_bytes: int = 50 * MB
    unzipped_max_bytes: int = 250 * MB

    # Invoke payloads.
    sync_payload_max_bytes: int = 6_291_456
    # 1 MB since Oct 2025; 262144 brings back the 256 KB limit of the course notes.
    async_payload_max_bytes: int = 1_048_576

    # Concurrency.
    account_concurrency: int = 1_000
    unreserved_concurrency_min: int = 100

    # Execution environments.
    init_timeout_s: float = 10.0
    # AWS reclaims idle environments after an undocumented time (5 to 60 minutes measured).
    idle_lifetime_s: float = 15 * 60
    max_processes: int = 1_024
    max_open_files: int = 1_024
    # Output kept per invocation; AWS keeps everything, a laptop should not.
    max_log_bytes_per_invoke: int = 1 * MB
    # How often a busy environment's memory, processes and deadline are looked at.
    watch_interval_s: float = 0.005
    # How often a busy environment's /tmp is measured (walking a directory costs more).
    tmp_watch_interval_s: float = 0.2
    freeze_idle_environments: bool = True
    # Each environment sealed in namespaces of its own (engine/sandbox.py): "auto" where the kernel
    # allows them, else process groups; "namespaces" insists; "process-group" never seals.
    sandbox: str = "auto"
    # A served cloud keeps its account on disk (cloud/persistence.py) and restores it when it starts again.
    keep_account: bool = True

    # CPU share (engine/cpu_share.py): CPU time in proportion to memory, 1 vCPU per 1,769 MB.
    cpu_share: bool = True
    memory_mb_per_vcpu: int = 1_769
    # The share is granted per period, as cgroups' cpu.max does: a 128 MB function runs
    # 128/1769 of each period at most (3.6 ms of 50 ms), then is stopped until its time comes back.
    cpu_share_period_s: float = 0.05
    # AWS does not document the CPU of the Init phase; measurements show it is not throttled.
    cpu_share_during_init: bool = False

    # Billing (REPORT's Billed Duration, the meter, lambdalab.bill()).
    # Since 1 Aug 2025 the INIT phase of on-demand zip functions on managed runtimes is billed;
    # False brings back the rule before, when only custom runtimes (provided.*) had it billed.
    bill_init_phase: bool = True
    # Billed duration is rounded UP to this many ms: 1 since Dec 2020, 100 before.
    billing_granularity_ms: int = 1

    # Event source mappings (triggers/pollers/). AWS starts an SQS mapping with 5 concurrent
    # batches and scales up from there; a laptop stays at this many (fewer with MaximumConcurrency).
    sqs_poller_concurrency: int = 5
    # AWS does not document the pause before a failed stream batch is retried: here 1 s, doubling to this.
    stream_retry_max_delay_s: float = 60.0

    # Function URLs: since Oct 2025 a URL's caller also needs lambda:InvokeFunction (AddPermission
    # with InvokedViaFunctionUrl); False brings back the rule before, lambda:InvokeFunctionUrl alone.
    function_url_requires_invoke_function: bool = True

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        """Read overrides from LAMBDALAB_* variables, converting to each field's type."""
        environ = dict(os.environ if environ is None else environ)
        overrides: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            raw = environ.get(f"LAMBDALAB_{field.name.upper()}")
            if raw is None:
                continue
            default = field.default
            if isinstance(default, str):
                overrides[field.name] = raw.strip()
            elif isinstance(default, bool):
                overrides[field.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                overrides[field.name] = int(raw)
            else:
                overrides[field.name] = float(raw)
        return dataclasses.replace(cls(), **overrides)

