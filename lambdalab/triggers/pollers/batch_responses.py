"""Partial batch responses: which items a function with ReportBatchItemFailures says it failed.

The rules are the ones in Lambda's guide ("Implementing partial batch responses"): the batch is
a complete success when the function returns nothing, null, an object without
batchItemFailures, or an empty or null list; it is a complete failure when an itemIdentifier
is empty, null, missing (a misspelt key) or names no item of the batch. Only a valid list
fails just the items it names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class BatchVerdict:
    """failed: the identifiers to retry (empty for a complete success); whole_batch: everything failed."""

    failed: tuple[str, ...] = ()
    whole_batch: bool = False
    reason: str = ""

    @property
    def complete_success(self) -> bool:
        return not self.whole_batch and not self.failed


def read(body: bytes, identifiers: list[str]) -> BatchVerdict:
    """Judge a successful invocation's answer against the batch's identifiers (message ids or sequence numbers)."""
    try:
        answer = json.loads(body) if body and body.strip() else None
    except ValueError:
        return BatchVerdict(whole_batch=True, reason="the response is not valid JSON")
    if not isinstance(answer, dict):
        return BatchVerdict()
    failures = answer.get("batchItemFailures")
    if failures is None or failures == []:
        return BatchVerdict()
    if not isinstance(failures, list):
        return BatchVerdict(whole_batch=True, reason="batchItemFailures is not a list")
    known = set(identifiers)
    failed: list[str] = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or not identifier:
            return BatchVerdict(whole_batch=True, reason="an itemIdentifier is empty, null or missing")
        if identifier not in known:
            return BatchVerdict(whole_batch=True, reason=f"itemIdentifier {identifier} is not in the batch")
        failed.append(identifier)
    return BatchVerdict(failed=tuple(dict.fromkeys(failed)))
