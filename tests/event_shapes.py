"""Compare an event our triggers made with AWS's samples: the same keys, the same types, at every level.

Values differ (bucket names, ids, times); the shape must not. Lists are compared by their
first item; a None in the sample (AWS sends null for some optional fields) accepts anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parent / "events"


def sample(name: str) -> Any:
    """A sample by file name, e.g. "aws-docs/s3-notification.json" or "sam-templates/sqs-Sqs.json"."""
    return json.loads((SAMPLES / name).read_text())


def shape_differences(made: Any, expected: Any, path: str = "$", ignore: set[str] | frozenset = frozenset()) -> list[str]:
    """Every place where `made` does not have the shape of `expected`; empty when they match."""
    if path in ignore or expected is None:
        return []
    if isinstance(expected, dict):
        if not isinstance(made, dict):
            return [f"{path}: expected an object, got {type(made).__name__}"]
        problems = [f"{path}.{key}: missing" for key in expected if key not in made and f"{path}.{key}" not in ignore]
        problems += [f"{path}.{key}: not in AWS's event" for key in made if key not in expected
                     and f"{path}.{key}" not in ignore]
        for key in expected:
            if key in made:
                problems += shape_differences(made[key], expected[key], f"{path}.{key}", ignore)
        return problems
    if isinstance(expected, list):
        if not isinstance(made, list):
            return [f"{path}: expected a list, got {type(made).__name__}"]
        if expected and made:
            return shape_differences(made[0], expected[0], f"{path}[0]", ignore)
        return []
    if isinstance(expected, bool) or isinstance(made, bool):
        return [] if type(expected) is type(made) else [f"{path}: expected {type(expected).__name__}, got {type(made).__name__}"]
    if isinstance(expected, (int, float)) and isinstance(made, (int, float)):
        return []
    if made is None:
        return [f"{path}: null where AWS sends {type(expected).__name__}"]
    if type(made) is not type(expected):
        return [f"{path}: expected {type(expected).__name__}, got {type(made).__name__}"]
    return []


def assert_same_shape(made: Any, sample_name: str, ignore: set[str] | frozenset = frozenset()) -> None:
    problems = shape_differences(made, sample(sample_name), ignore=ignore)
    assert not problems, f"event differs from {sample_name}:\n" + "\n".join(problems)
