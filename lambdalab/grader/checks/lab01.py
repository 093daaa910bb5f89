"""Lesson 01 (Your first function) and Lab 1 (a greeter to a spec).

lesson01.echo is the tutorial's "Your turn"; lab01.role, lab01.function, lab01.greeting and
lab01.logs grade the lab. The hidden events are described to the learner by what kind of
event they are ("an event without a name"), never shown.
"""

from __future__ import annotations

import json
from typing import Any

from ..catalogue import register
from ..probe import Probe
from ..results import NotYet

ROLE = "lab01-greeter-role"
FUNCTION = "lab01-greeter"
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
LAMBDA_PRINCIPAL = "lambda.amazonaws.com"
SPEC = {"Runtime": "python3.12", "Handler": "lambda_function.handler", "MemorySize": 256, "Timeout": 10}

# (what the learner may be told about the event, the event, the name the greeting must use)
GREETING_CASES: list[tuple[str, Any, str]] = [
    ("an event with a one-word name", {"name": "Katherine"}, "Katherine"),
    ("an event whose name has a space in it", {"name": "Grace Hopper"}, "Grace Hopper"),
    ("an event whose name has accented letters", {"name": "Zoë Brontë"}, "Zoë Brontë"),
    ("an event whose name is written in Chinese characters", {"name": "李雷"}, "李雷"),
    ("an event without a \"name\" key", {}, "world"),
    ("an event whose name is the empty string", {"name": ""}, "world"),
    ("an event with a name and other keys besides", {"name": "Alan", "language": "en", "tags": ["a", "b"],
                                                      "nested": {"deep": True}}, "Alan"),
    ("an event with other keys but no name", {"language": "fr", "count": 3}, "world"),
]

LOG_CASES = [GREETING_CASES[i] for i in (0, 2, 4, 5)]

ECHO_FUNCTION = "lesson01-echo"
ECHO_CASES: list[tuple[str, Any]] = [
    ("a JSON object with nested values", {"message": "ping", "count": 3, "nested": {"list": [1, 2, {"ok": True}]}}),
    ("an empty JSON object", {}),
    ("a JSON list", ["alpha", 2, None, {"three": 3.5}]),
    ("a JSON string", "just a string"),
    ("a JSON number", 42),
]


# --- helpers ----------------------------------------------------------------------------------

def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _hidden_strings(value: Any) -> list[str]:
    """Every non-empty string value inside an event: what a message must not repeat."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, dict):
        return [s for item in value.values() for s in _hidden_strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _hidden_strings(item)]
    return []


def _safe(text: str, event: Any) -> str | None:
    """text if it gives nothing of the hidden event away, else None."""
    return None if any(secret in text for secret in _hidden_strings(event)) else text


def _failure(function: str, description: str, event: Any, payload: Any) -> NotYet:
    """A NotYet for an invoke that ended in a function error."""
    error_type = payload.get("errorType", "an error") if isinstance(payload, dict) else "an error"
    if error_type == "NotImplementedError":
        return NotYet(f"{function}'s handler still raises NotImplementedError.",
                      "Write the handler's body in place of `raise NotImplementedError()`, deploy it "
                      "(run the cell that calls update_function_code) and check again.")
    message = payload.get("errorMessage", "") if isinstance(payload, dict) else ""
    shown = _safe(str(message), event)
    detail = f" ({error_type}: {shown})" if shown else f" ({error_type})"
    return NotYet(f"For {description}, {function} failed{detail}.",
                  "Invoke it yourself with a similar event and read errorType, errorMessage and stackTrace "
                  "in the response.")


def _function_or_not_yet(probe: Probe, function: str, where: str) -> dict:
    return probe.function_or_not_yet(function, f"There is no function called {function} yet.",
                                     f"Create it first ({where}), then check again.")


# --- lesson 01: Your turn -------------------------------------------------------------------

@register("lesson01.echo", "Lesson 01, Your turn: a function that answers with its event")
def echo(probe: Probe) -> str:
    _function_or_not_yet(probe, ECHO_FUNCTION, "run the cell of the Your turn section")
    for description, event in ECHO_CASES:
        result = probe.invoke(ECHO_FUNCTION, event)
        if result.function_error:
            raise _failure(ECHO_FUNCTION, description, event, result.payload)
        if result.payload != event:
            raise NotYet(f"For {description}, {ECHO_FUNCTION} answered with something other than the event it "
                         "received.",
                         "An event can be any JSON value, not only an object: return the `event` argument "
                         "itself, unchanged.")
    return f"{ECHO_FUNCTION} answers every kind of JSON event with the event itself."


# --- lab 1 ------------------------------------------------------------------------------------

def _trust_allows_lambda(document: Any) -> bool:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return False
    if not isinstance(document, dict):
        return False
    for statement in _as_list(document.get("Statement", [])):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = [str(a).lower() for a in _as_list(statement.get("Action", []))]
        if not any(a in ("sts:assumerole", "sts:*", "*") for a in actions):
            continue
        principal = statement.get("Principal", {})
        services = _as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
        if LAMBDA_PRINCIPAL in services:
            return True
    return False


@register("lab01.role", "Lab 1, part 1: an execution role Lambda can assume, allowed to write logs")
def role(probe: Probe) -> str:
    iam = probe.client("iam")
    try:
        found = iam.get_role(RoleName=ROLE)["Role"]
    except iam.exceptions.NoSuchEntityException:
        raise NotYet(f"There is no IAM role called {ROLE} yet.",
                     "Create it with iam.create_role(RoleName=..., AssumeRolePolicyDocument=json.dumps(trust_policy)).")
    if not _trust_allows_lambda(found.get("AssumeRolePolicyDocument")):
        raise NotYet(f"The trust policy of {ROLE} does not let Lambda assume the role.",
                     'It needs a statement with "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"} '
                     'and "Action": "sts:AssumeRole". iam.update_assume_role_policy changes it in place.')
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]]
    if BASIC_EXECUTION not in attached:
        raise NotYet(f"{ROLE} does not have the managed policy AWSLambdaBasicExecutionRole attached, so a function "
                     "using it could not write its logs.",
                     f"Attach it with iam.attach_role_policy(RoleName=..., PolicyArn=\"{BASIC_EXECUTION}\").")
    return f"{ROLE} can be assumed by Lambda and lets your function write its logs."


@register("lab01.function", "Lab 1, part 2: lab01-greeter exists, configured as the spec says")
def function(probe: Probe) -> str:
    configuration = _function_or_not_yet(probe, FUNCTION, "Part 2: lam.create_function")
    wrong = [f"{key} is {configuration.get(key)!r}, the spec says {wanted!r}"
             for key, wanted in SPEC.items() if configuration.get(key) != wanted]
    role_arn = configuration.get("Role", "")
    if not role_arn.endswith(f":role/{ROLE}"):
        wrong.append(f"its role is {role_arn.rsplit('/', 1)[-1] or 'missing'}, the spec says {ROLE}")
    if configuration.get("PackageType", "Zip") != "Zip":
        wrong.append("it is packaged as a container image, the spec says a .zip package")
    if wrong:
        raise NotYet(f"{FUNCTION} is not configured as the spec says: " + "; ".join(wrong) + ".",
                     "lam.update_function_configuration(FunctionName=..., MemorySize=..., Timeout=..., Handler=..., "
                     "Runtime=..., Role=...) changes the settings without creating the function again.")
    if configuration.get("State", "Active") != "Active":
        raise NotYet(f"{FUNCTION} is {configuration.get('State')}, not Active yet.",
                     "Wait a moment (lam.get_waiter(\"function_active_v2\")) and check again.")
    return f"{FUNCTION} exists: python3.12, lambda_function.handler, 256 MB, 10 s, role {ROLE}."


@register("lab01.greeting", "Lab 1, part 3: lab01-greeter greets by name, or greets the world")
def greeting(probe: Probe) -> str:
    _function_or_not_yet(probe, FUNCTION, "Part 2")
    for description, event, name in GREETING_CASES:
        result = probe.invoke(FUNCTION, event)
        if result.function_error:
            raise _failure(FUNCTION, description, event, result.payload)
        payload = result.payload
        if not isinstance(payload, dict):
            raise NotYet(f"For {description}, {FUNCTION} returned a JSON {_json_kind(payload)}, not an object "
                         "like {\"greeting\": \"...\"}.",
                         "Return a Python dict: Lambda turns it into a JSON object.")
        if "greeting" not in payload:
            raise NotYet(f"For {description}, {FUNCTION} returned an object without a \"greeting\" key.",
                         "Return {\"greeting\": ...}, spelt exactly so.")
        if set(payload) != {"greeting"}:
            extra = _safe(", ".join(sorted(str(k) for k in payload if k != "greeting")), event)
            raise NotYet(f"For {description}, {FUNCTION} returned keys besides \"greeting\""
                         + (f" ({extra})." if extra else "."),
                         "The spec asks for an object with exactly one key, greeting.")
        expected = f"Hello, {name}!"
        if payload["greeting"] != expected:
            raise NotYet(_wrong_greeting(description, event, name, payload["greeting"]),
                         "Compare with the spec character by character: \"Hello\", a comma and one space, the name "
                         "exactly as it came, then \"!\". A missing or empty name means \"world\".")
    return f"{FUNCTION} greeted every hidden event as the spec says ({len(GREETING_CASES)} events)."


@register("lab01.logs", "Lab 1, part 4: lab01-greeter logs one line \"greeted <name>\" per invoke")
def logs(probe: Probe) -> str:
    _function_or_not_yet(probe, FUNCTION, "Part 2")
    for description, event, name in LOG_CASES:
        result = probe.invoke(FUNCTION, event)
        if result.function_error:
            raise _failure(FUNCTION, description, event, result.payload)
        lines = _function_lines(result.log)
        wanted = f"greeted {name}"
        matching = [line for line in lines if line.split("\t")[-1].strip() == wanted]
        if not lines:
            raise NotYet(f"For {description}, {FUNCTION} wrote nothing to its log between START and END.",
                         "print(...) in the handler writes a line to the log. (logging.info(...) writes nothing "
                         "unless the root logger's level is set to INFO.) Deploy the new code, then check again.")
        if not matching:
            raise NotYet(f"For {description}, no line of the log reads exactly \"greeted <name>\" with the name "
                         "the greeting used.",
                         "One line: the word greeted, one space, the name the greeting used (world when there is "
                         "none), nothing else. Invoke with LogType=\"Tail\" to read what your function logs.")
        if len(matching) > 1:
            raise NotYet(f"For {description}, {FUNCTION} logged the \"greeted\" line {len(matching)} times for one "
                         "invoke; the spec asks for exactly one.",
                         "Print it once per invoke, in the handler (not at the top of the module).")
    return f"{FUNCTION} logged one \"greeted <name>\" line for each hidden event."


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "list"}.get(type(value), "value")


def _wrong_greeting(description: str, event: Any, name: str, got: Any) -> str:
    if not isinstance(got, str):
        return f"For {description}, the greeting was a JSON {_json_kind(got)}, not a string."
    if name != "world" and got == "Hello, world!":
        return f"For {description}, {FUNCTION} greeted the world although the event had a name."
    shown = _safe(got, event)
    if name == "world":
        return (f"For {description}, the greeting was {json.dumps(shown, ensure_ascii=False)}, not \"Hello, world!\"."
                if shown is not None else f"For {description}, the greeting was not \"Hello, world!\".")
    return f"For {description}, the greeting was not \"Hello, <name>!\" with the event's name."


def _function_lines(log: str) -> list[str]:
    """The lines the function itself wrote during the invoke: between START and END."""
    lines, inside = [], False
    for line in log.splitlines():
        if line.startswith("START RequestId: "):
            inside, lines = True, []
        elif line.startswith("END RequestId: "):
            inside = False
        elif inside and line.strip():
            lines.append(line)
    return lines
