"""Counting concurrent executions, as Lambda's account and reserved limits do.

A function with reserved concurrency R may run at most R at once and has them guaranteed;
every other function shares what is left of the account limit.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Throttle:
    """Why an invoke was refused; becomes TooManyRequestsException with this Reason."""

    reason: str

    @property
    def message(self) -> str:
        return "Rate Exceeded."


RESERVED_LIMIT = Throttle("ReservedFunctionConcurrentInvocationLimitExceeded")
ACCOUNT_LIMIT = Throttle("ConcurrentInvocationLimitExceeded")


class ConcurrencyCounter:
    def __init__(self, account_limit: int) -> None:
        self.account_limit = account_limit
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}
        self._reserved: dict[str, int] = {}
        self.peak = 0

    def set_reserved(self, function_arn: str, reserved: int | None) -> None:
        with self._lock:
            if reserved is None:
                self._reserved.pop(function_arn, None)
            else:
                self._reserved[function_arn] = reserved

    def clear_reserved(self) -> None:
        """The account was emptied: no function holds a reservation any more."""
        with self._lock:
            self._reserved.clear()

    def acquire(self, function_arn: str, reserved: int | None) -> Throttle | None:
        """Take one slot for function_arn, or say why not. Reserved comes from the function's config."""
        with self._lock:
            if reserved is None:
                self._reserved.pop(function_arn, None)
            else:
                self._reserved[function_arn] = reserved
            running = self._running.get(function_arn, 0)
            if reserved is not None:
                if running >= reserved:
                    return RESERVED_LIMIT
            else:
                unreserved_pool = self.account_limit - sum(self._reserved.values())
                unreserved_running = sum(
                    count for arn, count in self._running.items() if arn not in self._reserved
                )
                if unreserved_running >= unreserved_pool:
                    return ACCOUNT_LIMIT
            self._running[function_arn] = running + 1
            self.peak = max(self.peak, self.total())
            return None

    def release(self, function_arn: str) -> None:
        with self._lock:
            remaining = self._running.get(function_arn, 0) - 1
            if remaining > 0:
                self._running[function_arn] = remaining
            else:
                self._running.pop(function_arn, None)

    def total(self) -> int:
        return sum(self._running.values())

    def running(self, function_arn: str) -> int:
        with self._lock:
            return self._running.get(function_arn, 0)

    def reserved_total(self, excluding: str | None = None) -> int:
        with self._lock:
            return sum(v for arn, v in self._reserved.items() if arn != excluding)
