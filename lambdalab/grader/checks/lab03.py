"""Lab 3 (Ephemeral state): a visit counter that stays right across cold starts and concurrency.

The learner's function lab03-counter takes {"page": "..."}, counts the visit in the DynamoDB
table lab03-visits and answers {"page": ..., "visits": n}. The checks use pages of their own,
never shown, and delete their items afterwards. lab03.survives_cold_starts changes an
environment variable to force new execution environments and puts the configuration back;
lab03.concurrent fires invokes from several threads at once: a count kept in a global variable
(one per environment) fails both.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import uuid
from typing import Any
from urllib.parse import unquote

from ...client.connection import admin
from ..catalogue import register
from ..probe import Probe
from ..results import NotYet

TABLE = "lab03-visits"
FUNCTION = "lab03-counter"
ROLE = "lab03-role"
ACTION = "dynamodb:UpdateItem"
CHECK_VARIABLE = "LAB03_CHECK_RUN"
THREADS = 5
INVOKES_PER_THREAD = 4

ATOMIC_HINT = ("Let DynamoDB do the counting: table.update_item(Key={\"page\": page}, UpdateExpression=\"ADD visits "
               ":one\", ExpressionAttributeValues={\":one\": 1}, ReturnValues=\"UPDATED_NEW\"), then return the new "
               "value from response[\"Attributes\"]. Keep nothing of the count in a variable of your own.")


# --- helpers ----------------------------------------------------------------------------------

def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _hidden_page(kind: str) -> str:
    return f"lab03-check-{kind}-{uuid.uuid4().hex[:10]}"


def _function_or_not_yet(probe: Probe) -> dict:
    configuration = probe.function(FUNCTION)
    if configuration is None:
        raise NotYet(f"There is no function called {FUNCTION} yet.",
                     "Run the cell that deploys your handler (it calls create_function), then check again.")
    return configuration


def _table_or_not_yet(probe: Probe) -> dict:
    dynamodb = probe.client("dynamodb")
    try:
        table = dynamodb.describe_table(TableName=TABLE)["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        raise NotYet(f"There is no DynamoDB table called {TABLE}.",
                     "Run the set-up cell that calls create_table, then check again.") from None
    keys = [(k["AttributeName"], k["KeyType"]) for k in table.get("KeySchema", [])]
    if keys != [("page", "HASH")]:
        raise NotYet(f"{TABLE} should have one key, the partition key \"page\" (a string).",
                     "Delete the table and run the set-up cell that creates it again.")
    return table


def _document(raw: Any) -> dict:
    if isinstance(raw, str):
        try:
            raw = json.loads(unquote(raw))
        except ValueError:
            return {}
    return raw if isinstance(raw, dict) else {}


def _role_documents(probe: Probe, role_name: str) -> list[dict]:
    """The role's inline policies and the default versions of its attached ones."""
    iam = probe.client("iam")
    documents = []
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        documents.append(_document(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]))
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        try:
            policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
            version = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"])
            documents.append(_document(version["PolicyVersion"]["Document"]))
        except Exception:
            continue
    return documents


def _matches(patterns: Any, value: str, case_sensitive: bool) -> bool:
    for pattern in _as_list(patterns):
        if not isinstance(pattern, str):
            continue
        if case_sensitive and fnmatch.fnmatchcase(value, pattern):
            return True
        if not case_sensitive and fnmatch.fnmatchcase(value.lower(), pattern.lower()):
            return True
    return False


def _allows(documents: list[dict], action: str, resource: str) -> bool:
    """IAM's rule for identity policies: some Allow matches and no Deny does."""
    allowed = False
    for document in documents:
        for statement in _as_list(document.get("Statement", [])):
            if not isinstance(statement, dict):
                continue
            if "Action" in statement:
                action_matches = _matches(statement["Action"], action, case_sensitive=False)
            else:
                action_matches = "NotAction" in statement and not _matches(statement["NotAction"], action, False)
            if "Resource" in statement:
                resource_matches = _matches(statement["Resource"], resource, case_sensitive=True)
            else:
                resource_matches = "NotResource" in statement and not _matches(statement["NotResource"], resource, True)
            if not (action_matches and resource_matches):
                continue
            if statement.get("Effect") == "Deny":
                return False
            if statement.get("Effect") == "Allow":
                allowed = True
    return allowed


def _failure(payload: Any, page: str) -> NotYet:
    """A NotYet for an invoke that ended in a function error; never repeats the hidden page."""
    error_type = str(payload.get("errorType", "an error")) if isinstance(payload, dict) else "an error"
    message = str(payload.get("errorMessage", "")) if isinstance(payload, dict) else str(payload or "")
    shown = message.replace(page, "<page>")
    if len(shown) > 300:
        shown = shown[:300] + "..."
    detail = f" ({error_type}: {shown})" if shown else f" ({error_type})"
    if error_type == "NotImplementedError":
        return NotYet(f"{FUNCTION}'s handler still raises NotImplementedError.",
                      "Write the handler's body in place of `raise NotImplementedError()`, run the cell that deploys "
                      "it, and check again.")
    if "AccessDenied" in message:
        return NotYet(f"{FUNCTION} may not update {TABLE}{detail}.",
                      f"Give {ROLE} an inline policy allowing {ACTION} (put_role_policy) and check lab03.table. "
                      "This local cloud compares DynamoDB permissions with \"*\" only, so allow the action on "
                      "Resource \"*\" here (on AWS you would name the table's ARN).")
    if error_type == "Runtime.MarshalError" or "Decimal" in message:
        return NotYet(f"{FUNCTION} could not return its answer as JSON{detail}.",
                      "DynamoDB gives numbers back as decimal.Decimal, which JSON cannot encode: return "
                      "int(response[\"Attributes\"][\"visits\"]).")
    if error_type == "KeyError":
        return NotYet(f"{FUNCTION} failed{detail}.",
                      "The event looks like {\"page\": \"home\"}: read the page with event[\"page\"]; the new count "
                      "is in response[\"Attributes\"] when you ask for ReturnValues=\"UPDATED_NEW\".")
    if "ResourceNotFoundException" in message:
        return NotYet(f"{FUNCTION} did not find its table{detail}.",
                      f"Use the table {TABLE} (its name is in the environment variable TABLE_NAME).")
    return NotYet(f"{FUNCTION} failed{detail}.",
                  "Invoke it yourself with an event like {\"page\": \"home\"} and read errorType, errorMessage and "
                  "stackTrace in the response.")


def _visits(probe: Probe, page: str) -> tuple[Any, bool]:
    """Invoke for one visit of page: (the visits answered, whether it was a cold start)."""
    result = probe.invoke(FUNCTION, {"page": page})
    if result.function_error:
        raise _failure(result.payload, page)
    payload = result.payload
    if not isinstance(payload, dict) or "visits" not in payload or payload.get("page") != page:
        raise NotYet(f"{FUNCTION} answered something else than {{\"page\": <the page>, \"visits\": <a number>}}.",
                     "Return a dict with the page of the event and the page's new count, e.g. "
                     "{\"page\": \"home\", \"visits\": 3}.")
    visits = payload["visits"]
    if isinstance(visits, bool) or not isinstance(visits, int):
        raise NotYet(f"{FUNCTION} answered visits as {type(visits).__name__} {visits!r}, not as a whole number.",
                     "Return int(...) of the count DynamoDB gives back.")
    return visits, "Init Duration" in result.log


def _forget(probe: Probe, pages: list[str]) -> None:
    """Remove the check's own items from the learner's table."""
    dynamodb = probe.client("dynamodb")
    for page in pages:
        try:
            dynamodb.delete_item(TableName=TABLE, Key={"page": {"S": page}})
        except Exception:
            pass


def _wait_updated(probe: Probe) -> None:
    probe.client("lambda").get_waiter("function_updated_v2").wait(
        FunctionName=FUNCTION, WaiterConfig={"Delay": 1, "MaxAttempts": 60})


def _environments(probe: Probe) -> dict[str, int]:
    """Invokes served so far by each live environment of the function."""
    try:
        listed = admin("GET", "/lambdalab/environments", probe.state)
    except Exception:
        return {}
    return {e["id"]: e["invokes"] for e in listed if e.get("function") == FUNCTION}


# --- lab 3 ------------------------------------------------------------------------------------

@register("lab03.table", "Lab 3: the table exists and the role may update it")
def table(probe: Probe) -> str:
    described = _table_or_not_yet(probe)
    configuration = probe.function(FUNCTION)
    role_name = configuration["Role"].rsplit("/", 1)[-1] if configuration else ROLE
    iam = probe.client("iam")
    try:
        iam.get_role(RoleName=role_name)
    except iam.exceptions.NoSuchEntityException:
        raise NotYet(f"There is no role called {role_name}.", "Run the set-up cell that creates the role.") from None
    if not _allows(_role_documents(probe, role_name), ACTION, described["TableArn"]):
        raise NotYet(f"{role_name} may not call {ACTION} on {TABLE}: the function's counting would be refused "
                     "(AccessDeniedException).",
                     f"Give the role an inline policy: iam.put_role_policy(RoleName=\"{role_name}\", PolicyName=..., "
                     f"PolicyDocument=json.dumps(...)) with a statement that allows \"{ACTION}\". This local cloud "
                     "compares DynamoDB permissions with Resource \"*\" only, so use \"*\" here (on AWS: the "
                     "table's ARN).")
    return f"{TABLE} exists and {role_name} may call {ACTION} on it."


@register("lab03.counts", "Lab 3: one visit after another, each page counted from 1")
def counts(probe: Probe) -> str:
    _table_or_not_yet(probe)
    _function_or_not_yet(probe)
    first, second = _hidden_page("a"), _hidden_page("b")
    try:
        expected = {first: 0, second: 0}
        for page in (first, second, first, first, second, first):
            expected[page] += 1
            visits, _ = _visits(probe, page)
            if visits != expected[page]:
                raise NotYet(f"On the visit number {expected[page]} of a page never visited before, {FUNCTION} "
                             f"answered visits = {visits}.",
                             "Count each page on its own (the table's key is the page), starting from 1. "
                             + ATOMIC_HINT)
    finally:
        _forget(probe, [first, second])
    return f"{FUNCTION} counts each page on its own, 1, 2, 3..."


@register("lab03.survives_cold_starts", "Lab 3: the count carries on in new execution environments")
def survives_cold_starts(probe: Probe) -> str:
    _table_or_not_yet(probe)
    configuration = _function_or_not_yet(probe)
    lam = probe.client("lambda")
    original = dict((configuration.get("Environment") or {}).get("Variables") or {})
    page = _hidden_page("cold")
    changed = False
    try:
        for expected in (1, 2):
            visits, _ = _visits(probe, page)
            if visits != expected:
                raise NotYet(f"On visit number {expected} of a new page, {FUNCTION} answered visits = {visits}.",
                             "Run lab03.counts first: it says what is wrong with plain counting.")
        for expected in (3, 4):
            _wait_updated(probe)
            variables = dict(original, **{CHECK_VARIABLE: uuid.uuid4().hex[:12]})
            lam.update_function_configuration(FunctionName=FUNCTION, Environment={"Variables": variables})
            changed = True
            _wait_updated(probe)
            visits, cold = _visits(probe, page)
            if not cold:
                raise NotYet("The check could not get a new execution environment for your function.",
                             "Run the check again; if it says the same, restart the local cloud (lambdalab.stop(), "
                             "then lambdalab.start()).")
            if visits != expected:
                raise NotYet(f"After a configuration change, Lambda started a new execution environment and the count "
                             f"of a page went from {expected - 1} to {visits}, not {expected}: the count was kept in "
                             "the old environment, and it ended with it.",
                             "Anything kept in a global variable or in /tmp lives only as long as one environment. "
                             + ATOMIC_HINT)
    finally:
        if changed:
            try:
                _wait_updated(probe)
                lam.update_function_configuration(FunctionName=FUNCTION, Environment={"Variables": original})
                _wait_updated(probe)
            except Exception:
                pass
        _forget(probe, [page])
    return (f"After new execution environments started (two configuration changes, put back since), {FUNCTION} "
            "carried on counting: 1, 2, 3, 4.")


def _burst(probe: Probe, page: str) -> tuple[list[int], int]:
    """THREADS threads, released at once, each visiting page INVOKES_PER_THREAD times: (the answers, how many
    environments served them, 0 if unknown)."""
    answers: list[int] = []
    problems: list[NotYet] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)
    before = _environments(probe)

    def visitor() -> None:
        try:
            start.wait(timeout=30)
        except threading.BrokenBarrierError:
            pass
        for _ in range(INVOKES_PER_THREAD):
            try:
                visits, _ = _visits(probe, page)
            except NotYet as not_yet:
                with lock:
                    problems.append(not_yet)
                return
            except Exception as exc:  # throttled, or the cloud went away: a not-yet with the reason
                with lock:
                    problems.append(NotYet(f"An invoke of {FUNCTION} failed ({type(exc).__name__}: {exc}).",
                                           "Run the check again."))
                return
            with lock:
                answers.append(visits)

    threads = [threading.Thread(target=visitor) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if problems:
        raise problems[0]
    after = _environments(probe)
    return answers, sum(1 for key, invokes in after.items() if invokes > before.get(key, 0))


@register("lab03.concurrent", "Lab 3: invokes running at once in several environments all count")
def concurrent(probe: Probe) -> str:
    _table_or_not_yet(probe)
    _function_or_not_yet(probe)
    total = THREADS * INVOKES_PER_THREAD
    pages: list[str] = []
    try:
        for attempt in range(3):  # the point is several environments at once: try again if only one served
            page = _hidden_page("busy")
            pages.append(page)
            answers, used = _burst(probe, page)
            if used != 1:
                break
        final, _ = _visits(probe, page)
    finally:
        _forget(probe, pages)
    where = f" in {used} execution environments" if used > 1 else ""
    if sorted(answers) != list(range(1, total + 1)) or final != total + 1:
        repeated = sorted({v for v in answers if answers.count(v) > 1})
        shown = f" (the same count came back more than once: {', '.join(map(str, repeated[:5]))})" if repeated else ""
        raise NotYet(f"{total} visits of a new page from {THREADS} threads at once{where} should have answered "
                     f"1 to {total}, each once, and then {total + 1}; {FUNCTION} answered {len(answers)} visits{shown} "
                     f"and then {final}.",
                     "Each environment has its own globals, and a read-then-write (get_item, add 1, put_item) loses "
                     "visits when two environments do it at the same moment. " + ATOMIC_HINT)
    return f"{total} visits from {THREADS} threads at once{where}: every one counted, 1 to {total}, then {total + 1}."
