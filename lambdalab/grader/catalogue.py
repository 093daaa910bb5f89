"""The catalogue of checks: ``@register("lab01.hello", "title")`` puts a check function in it.

A check is a plain function registered under an id like "lab01.hello". It receives a
``Probe`` (boto3 clients for the local cloud and a few helpers) and either returns a message
(passed) or raises ``NotYet`` with what is missing and a hint.

The check modules (``lambdalab/grader/checks/labNN.py``) import this module to register
themselves; this module imports none of them. Loading them all and running a check is
:mod:`lambdalab.grader.registry`'s job, one layer up, so there is no import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .probe import Probe

CheckFunction = Callable[[Probe], str | None]


@dataclass(frozen=True)
class Check:
    check_id: str
    title: str
    function: CheckFunction


_CATALOGUE: dict[str, Check] = {}


def register(check_id: str, title: str) -> Callable[[CheckFunction], CheckFunction]:
    """Decorator for check functions in lambdalab/grader/checks/ (or a notebook's own)."""

    def decorate(function: CheckFunction) -> CheckFunction:
        _CATALOGUE[check_id] = Check(check_id, title, function)
        return function

    return decorate


def registered() -> dict[str, Check]:
    """The checks registered so far (the check modules loaded, and any registered in the kernel)."""
    return dict(_CATALOGUE)
