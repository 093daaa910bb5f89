"""Lab 5: an S3 -> Lambda -> DynamoDB pipeline with a dead-letter queue; and lesson 05's "Your turn".

The checks look at the wiring first (role, resource policy, bucket notification, dead-letter
queue), which answers "not yet" at once for an unfinished lab. Then they upload CSV files the
learner has not seen, and a poison file that must end in the dead-letter queue. The retries
before it gets there are skipped with the cloud's virtual clock, which is put back as it was.
"""

from __future__ import annotations

import csv
import io
import json
import random
import time
import uuid
from ...client.connection import admin
from ..catalogue import register
from ..probe import Probe
from ..results import NotYet
from .lab02 import allows, role_documents

FUNCTION = "lab05-ingest"
BUCKET = "lab05-uploads"
TABLE = "lab05-totals"
DEAD_LETTERS = "lab05-dead-letters"
SET_UP = "Run the lab's set-up cell (it makes the bucket, the table, the queue and the role), then this check again."


def totals_of(text: str) -> dict:
    """What lab05-ingest must store for one CSV (header name,amount; whole-number amounts)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    return {"rows": len(rows), "total": sum(int(row["amount"]) for row in rows)}


def _function(probe: Probe) -> dict:
    return probe.function_or_not_yet(FUNCTION, f"There is no function {FUNCTION} yet.", "Deploy it in part 2 of the lab.")


def _arn(probe: Probe, service: str, name: str) -> str:
    if service == "dynamodb":
        try:
            return probe.client("dynamodb").describe_table(TableName=name)["Table"]["TableArn"]
        except Exception:
            raise NotYet(f"There is no table {name}.", SET_UP) from None
    sqs = probe.client("sqs")
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except Exception:
        raise NotYet(f"There is no queue {name}.", SET_UP) from None
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _policy_statements(probe: Probe, function: str) -> list[dict]:
    lam = probe.client("lambda")
    try:
        return json.loads(lam.get_policy(FunctionName=function)["Policy"]).get("Statement", [])
    except lam.exceptions.ResourceNotFoundException:
        return []


def _condition_values(statement: dict, key: str) -> list[str]:
    values: list[str] = []
    for tests in (statement.get("Condition") or {}).values():
        for name, value in tests.items():
            if name.lower() == key.lower():
                values += value if isinstance(value, list) else [value]
    return values


def _service_may_invoke(statements: list[dict], service: str, source_arn: str) -> bool:
    for statement in statements:
        principal = statement.get("Principal")
        service_named = principal == "*" or (isinstance(principal, dict) and service in (
            principal.get("Service") if isinstance(principal.get("Service"), list) else [principal.get("Service")]))
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        sources = _condition_values(statement, "AWS:SourceArn")
        if (statement.get("Effect", "Allow") == "Allow" and service_named
                and any(a in ("lambda:InvokeFunction", "lambda:*") for a in actions)
                and (not sources or source_arn in sources)):
            return True
    return False


# --- lab 5 --------------------------------------------------------------------------------------

@register("lab05.role", "Lab 5, part 1: lab05-role may read uploads, write totals and send dead letters")
def role(probe: Probe) -> str:
    iam = probe.client("iam")
    try:
        documents = role_documents(iam, "lab05-role")
    except iam.exceptions.NoSuchEntityException:
        raise NotYet("There is no role lab05-role.", SET_UP) from None
    needed = [("s3:GetObject", f"arn:aws:s3:::{BUCKET}/incoming/week-1.csv"),
              ("dynamodb:PutItem", _arn(probe, "dynamodb", TABLE)),
              ("sqs:SendMessage", _arn(probe, "sqs", DEAD_LETTERS))]
    missing = [action for action, resource in needed if not allows(documents, action, resource)]
    if missing:
        raise NotYet(f"lab05-role does not allow {', '.join(missing)} on the lab's resources.",
                     "One inline policy with a statement per action, each scoped to the bucket's objects, the "
                     "table's ARN or the queue's ARN.")
    if allows(documents, "s3:DeleteObject", f"arn:aws:s3:::{BUCKET}/incoming/week-1.csv") or \
            allows(documents, "dynamodb:DeleteTable", _arn(probe, "dynamodb", TABLE)):
        raise NotYet("lab05-role allows more than the pipeline needs (deleting objects or tables).",
                     "Grant exactly s3:GetObject, dynamodb:PutItem and sqs:SendMessage.")
    return "lab05-role allows exactly what the pipeline needs."


@register("lab05.trigger", "Lab 5, part 3: S3 may invoke lab05-ingest, for new CSV files under incoming/")
def trigger(probe: Probe) -> str:
    configuration = _function(probe)
    if not _service_may_invoke(_policy_statements(probe, FUNCTION), "s3.amazonaws.com", f"arn:aws:s3:::{BUCKET}"):
        raise NotYet(f"{FUNCTION}'s resource-based policy does not let S3 invoke it for {BUCKET}.",
                     "lam.add_permission(..., Principal='s3.amazonaws.com', SourceArn=<the bucket's ARN>, ...)")
    s3 = probe.client("s3")
    try:
        notification = s3.get_bucket_notification_configuration(Bucket=BUCKET)
    except Exception:
        raise NotYet(f"There is no bucket {BUCKET}.", SET_UP) from None
    targets = [c for c in notification.get("LambdaFunctionConfigurations", [])
               if c["LambdaFunctionArn"].split(":$LATEST")[0] == configuration["FunctionArn"]]
    if not targets:
        raise NotYet(f"{BUCKET} does not notify {FUNCTION}.", "s3.put_bucket_notification_configuration with a "
                     "LambdaFunctionConfigurations entry for the function's ARN.")
    rules = {r["Name"].lower(): r["Value"] for r in
             targets[0].get("Filter", {}).get("Key", {}).get("FilterRules", [])}
    if rules.get("prefix") != "incoming/" or rules.get("suffix") != ".csv":
        raise NotYet(f"The notification's filter is {rules or 'missing'}: the pipeline must only see CSV files "
                     "under incoming/.", "Filter rules: prefix incoming/ and suffix .csv.")
    if not any(event.startswith("s3:ObjectCreated:") for event in targets[0]["Events"]):
        raise NotYet("The notification is not for created objects.", "Events: ['s3:ObjectCreated:*'].")
    dead_letters = (configuration.get("DeadLetterConfig") or {}).get("TargetArn")
    if dead_letters != _arn(probe, "sqs", DEAD_LETTERS):
        raise NotYet(f"{FUNCTION} has no dead-letter queue, or another one.",
                     f"Set DeadLetterConfig={{'TargetArn': <the ARN of {DEAD_LETTERS}>}} on the function.")
    return f"S3 invokes {FUNCTION} for new CSV files under incoming/, and failed events go to {DEAD_LETTERS}."


def _item(probe: Probe, key: str) -> dict | None:
    found = probe.client("dynamodb").get_item(TableName=TABLE, Key={"source": {"S": key}}, ConsistentRead=True)
    item = found.get("Item")
    if item is None:
        return None
    return {name: (int(value["N"]) if "N" in value else value.get("S")) for name, value in item.items()}


def _wait_for_items(probe: Probe, keys: list[str], seconds: float = 60.0) -> dict[str, dict | None]:
    deadline = time.monotonic() + seconds
    found: dict[str, dict | None] = {key: None for key in keys}
    while time.monotonic() < deadline and any(value is None for value in found.values()):
        for key in keys:
            if found[key] is None:
                found[key] = _item(probe, key)
        time.sleep(0.3)
    return found


def _unseen_csv(rng: random.Random) -> str:
    names = ["ada", "grace", "alan", "edsger", "barbara", "ken", "margaret"]
    rows = [f"{rng.choice(names)},{rng.randint(1, 9999)}" for _ in range(rng.randint(2, 9))]
    return "name,amount\n" + "\n".join(rows) + "\n"


@register("lab05.pipeline", "Lab 5, part 4: every CSV uploaded under incoming/ is totalled in lab05-totals")
def pipeline(probe: Probe) -> str:
    trigger(probe)
    s3 = probe.client("s3")
    rng = random.Random()
    run = uuid.uuid4().hex[:8]
    uploads = {f"incoming/check-{run}-{n} {word}.csv": _unseen_csv(rng)
               for n, word in enumerate(["north", "south", "east"])}
    ignored = {f"incoming/check-{run}-notes.txt": "name,amount\nx,1\n", f"archive/check-{run}.csv": "name,amount\nx,1\n"}
    for key, body in {**uploads, **ignored}.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())
    found = _wait_for_items(probe, list(uploads))
    missing = [key for key, item in found.items() if item is None]
    if missing:
        raise NotYet(f"{len(missing)} of {len(uploads)} uploaded CSV files never reached {TABLE} (waited 60 s).",
                     "Upload a CSV under incoming/ yourself and read the function's log: did it run? did it fail?")
    for key, item in found.items():
        wanted = totals_of(uploads[key])
        if item.get("rows") != wanted["rows"] or item.get("total") != wanted["total"]:
            raise NotYet(f"The item for one uploaded file says rows={item.get('rows')}, total={item.get('total')}; "
                         "that is not what the file holds.",
                         "Count the data rows (not the header) and add up the amount column as whole numbers. "
                         "Keys with spaces arrive URL-encoded: decode them with urllib.parse.unquote_plus.")
    stray = [key for key in ignored if _item(probe, key) is not None]
    if stray:
        raise NotYet(f"{TABLE} has an item for {stray[0]}, which is not a CSV under incoming/.",
                     "Filter the notification by prefix and suffix.")
    return f"{len(uploads)} unseen CSV files were totalled; files outside the filter were left alone."


def _clock(method: str, body: dict | None = None) -> dict:
    """The cloud's clock (GET it, or POST a mode or an advance), as lambdalab.clock sets it."""
    return admin(method, "/lambdalab/clock", body=body)


def _dead_letter_for(probe: Probe, key: str, seconds: float = 30.0) -> dict | None:
    sqs = probe.client("sqs")
    url = sqs.get_queue_url(QueueName=DEAD_LETTERS)["QueueUrl"]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                           VisibilityTimeout=0, MessageAttributeNames=["All"]).get("Messages", []):
            if key in message["Body"] or key.replace(" ", "+") in message["Body"]:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                return message
        time.sleep(0.3)
    return None


@register("lab05.dead_letters", "Lab 5, part 5: a file the function cannot read ends in the dead-letter queue")
def dead_letters(probe: Probe) -> str:
    trigger(probe)
    key = f"incoming/check-{uuid.uuid4().hex[:8]}-broken.csv"
    was_virtual = _clock("GET")["virtual"]
    if not was_virtual:
        _clock("POST", {"mode": "virtual"})
    try:
        probe.client("s3").put_object(Bucket=BUCKET, Key=key, Body=b"name,amount\nada,12\ngrace,twelve\n")
        for _ in range(4):  # the first attempt, then the retries Lambda makes about 1 and 2 minutes later
            _clock("POST", {"advance_s": 120})
            message = _dead_letter_for(probe, key, seconds=2.0)
            if message is not None:
                break
        else:
            message = _dead_letter_for(probe, key, seconds=10.0)
    finally:
        if not was_virtual:
            _clock("POST", {"mode": "real"})
    if message is None:
        if _item(probe, key) is not None:
            raise NotYet("A CSV with an amount that is not a number was stored as if it were fine.",
                         "Let the error happen (int('twelve') raises): a failed invoke is what sends the event on "
                         "to the dead-letter queue.")
        raise NotYet(f"A CSV the function cannot total never reached {DEAD_LETTERS}.",
                     "Lambda writes to the dead-letter queue with the function's role: does it allow "
                     "sqs:SendMessage on the queue? Is DeadLetterConfig set?")
    attributes = {name: value.get("StringValue") for name, value in message.get("MessageAttributes", {}).items()}
    return (f"The broken file's event reached {DEAD_LETTERS} after Lambda's retries"
            + (f" (ErrorCode {attributes['ErrorCode']})." if attributes.get("ErrorCode") else "."))


# --- lesson 05, Your turn -----------------------------------------------------------------------

@register("lesson05.hourly", "Lesson 05, Your turn: an hourly schedule for lesson05-nightly-report")
def hourly(probe: Probe) -> str:
    events = probe.client("events")
    try:
        rule = events.describe_rule(Name="lesson05-hourly")
    except events.exceptions.ResourceNotFoundException:
        raise NotYet("There is no rule lesson05-hourly.", "events.put_rule(Name='lesson05-hourly', "
                     "ScheduleExpression=...)") from None
    if rule.get("ScheduleExpression", "").replace(" ", "") not in ("rate(1hour)", "rate(60minutes)", "cron(0****?*)"):
        raise NotYet(f"lesson05-hourly's schedule is {rule.get('ScheduleExpression')!r}: that is not once an hour.",
                     "rate(1 hour): singular unit for 1, plural for more.")
    if rule.get("State") != "ENABLED":
        raise NotYet("lesson05-hourly is disabled.", "events.enable_rule(Name='lesson05-hourly')")
    function = probe.function("lesson05-nightly-report")
    if function is None:
        raise NotYet("There is no function lesson05-nightly-report.", "Run section 5 of the lesson first.")
    targets = events.list_targets_by_rule(Rule="lesson05-hourly").get("Targets", [])
    if not any(t["Arn"].split(":$LATEST")[0] == function["FunctionArn"] for t in targets):
        raise NotYet("lesson05-hourly has no target lesson05-nightly-report.", "events.put_targets(...)")
    if not _service_may_invoke(_policy_statements(probe, "lesson05-nightly-report"), "events.amazonaws.com",
                               rule["Arn"]):
        raise NotYet("EventBridge may not invoke lesson05-nightly-report for lesson05-hourly.",
                     "lam.add_permission with Principal 'events.amazonaws.com' and the new rule's ARN as SourceArn.")
    return "lesson05-hourly runs the report every hour, with the permission EventBridge needs."

