"""Path templates of routes and resources: "/items/{id}", "/files/{proxy+}".

API Gateway picks the most specific match: a literal segment beats a {variable}, which beats a
greedy {variable+} (allowed only last, matching one or more segments). The same rules serve an
HTTP API's route keys and a REST API's resource paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote


@dataclass(frozen=True)
class PathMatch:
    parameters: dict[str, str]
    specificity: tuple[int, ...]  # compare: bigger is more specific


def match(template: str, raw_path: str) -> PathMatch | None:
    """The parameters of `raw_path` under `template`, or None if it does not match."""
    pattern = [part for part in template.split("/") if part]
    segments = [part for part in raw_path.split("/") if part]
    parameters: dict[str, str] = {}
    ranks: list[int] = []
    for index, part in enumerate(pattern):
        if part.startswith("{") and part.endswith("+}"):
            if index != len(pattern) - 1 or index >= len(segments):
                return None
            parameters[part[1:-2]] = unquote("/".join(segments[index:]))
            ranks.append(0)
            return PathMatch(parameters, tuple(ranks))
        if index >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            parameters[part[1:-1]] = unquote(segments[index])
            ranks.append(1)
        elif part == unquote(segments[index]):
            ranks.append(2)
        else:
            return None
    if len(segments) != len(pattern):
        return None
    return PathMatch(parameters, tuple(ranks) + (3,))  # a whole match beats a greedy one of the same prefix
