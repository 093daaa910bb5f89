"""Lab 2 (execution roles): the reporter's role is trusted by Lambda alone, lets the function do
its job, and nothing more. Also the small exercise of lesson 02 (lesson02.writer).

The role's policies are read through IAM (inline and attached managed ones) and evaluated here,
as IAM evaluates identity policies: an explicit Deny wins, else any Allow, else denied. (The
engine's ``lambdalab.aws.iam.role_allows`` reads moto's backends inside the cloud's process; a
check runs in the notebook's kernel, so it reads the policies through the IAM API instead.) The
function itself is also invoked with objects the learner has not seen. None of the hidden
actions or resources is ever shown: the messages say which kind of access is too broad or missing.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from ..catalogue import register
from ..probe import Probe
from ..results import NotYet

FUNCTION = "lab02-reporter"
ROLE_NAME = "lab02-reporter-role"
BUCKET = "lab02-reports-k7q2"
TABLE = "lab02-results"
LAMBDA_SERVICE = "lambda.amazonaws.com"
LOG_WAIT_S = 5.0


# --- reading a role's policies and evaluating them -----------------------------------------------

def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _document(value: Any) -> dict:
    """boto3 returns policy documents decoded; be lenient with a JSON string too."""
    if isinstance(value, str):
        from urllib.parse import unquote

        try:
            return json.loads(value)
        except ValueError:
            return json.loads(unquote(value))
    return value or {}


def _glob(pattern: str, value: str, ignore_case: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in str(pattern))
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _matches(statement: dict, element: str, value: str, ignore_case: bool) -> bool:
    """Whether Action/NotAction (or Resource/NotResource) of the statement covers value."""
    if element in statement:
        return any(_glob(p, value, ignore_case) for p in _as_list(statement[element]))
    negated = "Not" + element
    if negated in statement:
        return not any(_glob(p, value, ignore_case) for p in _as_list(statement[negated]))
    return False


def allows(documents: list[dict], action: str, resource: str) -> bool:
    """IAM's rule for identity policies: an explicit Deny wins, else any Allow, else implicit deny.

    A statement with a Condition is taken as applying when it allows and as not applying when it
    denies: this errs towards "allowed", so a role is never called tighter than it may be."""
    allowed = False
    for document in documents:
        for statement in _as_list(document.get("Statement")):
            if not isinstance(statement, dict):
                continue
            if not (_matches(statement, "Action", action, True) and _matches(statement, "Resource", resource, False)):
                continue
            effect = statement.get("Effect")
            if effect == "Deny" and not statement.get("Condition"):
                return False
            if effect == "Allow":
                allowed = True
    return allowed


def role_documents(iam: Any, role_name: str) -> list[dict]:
    """The permission policies of a role: its inline policies and the attached managed ones."""
    documents = []
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=role_name):
        for name in page["PolicyNames"]:
            documents.append(_document(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]))
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role_name):
        for attached in page["AttachedPolicies"]:
            policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
            version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
            documents.append(_document(version["PolicyVersion"]["Document"]))
    return documents


def _role_name(probe: Probe, function: str, fallback: str | None) -> str:
    configuration = probe.function(function)
    if configuration is not None:
        return configuration["Role"].rsplit("/", 1)[-1]
    if fallback is None:
        raise NotYet(f"There is no function {function} yet.", "Run the cells above that create it, in order.")
    iam = probe.client("iam")
    try:
        iam.get_role(RoleName=fallback)
    except iam.exceptions.NoSuchEntityException:
        raise NotYet(f"There is no function {function} and no role {fallback} yet.",
                     "Write the policies in the exercise cell, then run the cell that creates the role "
                     "and the function.")
    return fallback


def _wrong(documents: list[dict], cases: list[tuple[str, str]], want: bool) -> bool:
    """True if any (action, resource) case is not decided as wanted."""
    return any(allows(documents, action, resource) != want for action, resource in cases)


# --- lab02.trust -------------------------------------------------------------------------------

def trust_problems(document: dict) -> list[str]:
    """What is wrong with an execution role's trust policy, in the learner's terms; [] if nothing."""
    problems: list[str] = []
    lambda_may_assume = False
    for statement in _as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        actions = _as_list(statement.get("Action"))
        if "NotAction" in statement or "NotPrincipal" in statement:
            problems.append("a statement uses NotAction or NotPrincipal, which trusts far more than Lambda")
            continue
        if principal == "*" or (isinstance(principal, dict) and "*" in _as_list(principal.get("AWS"))):
            problems.append("a statement trusts every principal (\"*\"): anyone could assume this role")
            lambda_may_assume = True
            continue
        if not isinstance(principal, dict):
            problems.append("a statement has no Principal naming who may assume the role")
            continue
        for kind, who in principal.items():
            if kind != "Service":
                problems.append(f"a statement trusts {kind} principals ({', '.join(map(str, _as_list(who)))}), "
                                "not only the Lambda service")
        services = _as_list(principal.get("Service"))
        others = [s for s in services if s != LAMBDA_SERVICE]
        if others:
            problems.append(f"the role is trusted by {', '.join(map(str, others))}; only Lambda runs this function")
        names = [str(a) for a in actions]
        if any("*" in a for a in names):
            problems.append("the Action is a wildcard: the trust policy should allow exactly sts:AssumeRole")
        else:
            extra = [a for a in names if a.lower() not in ("sts:assumerole", "sts:tagsession")]
            if extra:
                problems.append(f"the statement allows {', '.join(extra)} besides sts:AssumeRole")
        if LAMBDA_SERVICE in services and any(_glob(a, "sts:AssumeRole", True) for a in names):
            lambda_may_assume = True
    if not lambda_may_assume:
        problems.insert(0, f"no Allow statement lets {LAMBDA_SERVICE} perform sts:AssumeRole")
    return problems


@register("lab02.trust", "The role trusts lambda.amazonaws.com, and only it")
def trust(probe: Probe) -> str:
    role_name = _role_name(probe, FUNCTION, ROLE_NAME)
    role = probe.client("iam").get_role(RoleName=role_name)["Role"]
    problems = trust_problems(_document(role["AssumeRolePolicyDocument"]))
    if problems:
        raise NotYet(f"The trust policy of {role_name} is not right yet: " + "; ".join(problems) + ".",
                     "An execution role needs one statement: Effect Allow, Principal {\"Service\": "
                     "\"lambda.amazonaws.com\"}, Action sts:AssumeRole. It decides who may assume the role, "
                     "not what the role may do.")
    return f"{role_name} can be assumed by the Lambda service and by nothing else."


# --- lab02.works -------------------------------------------------------------------------------

def _logged(logs: Any, group: str, wanted: dict[str, list[str]], wait_s: float) -> tuple[bool, list[str]]:
    """(any line in the group?, the wanted names none of whose marks appear), waiting up to wait_s."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            events = logs.filter_log_events(logGroupName=group)["events"]
            text = "\n".join(event["message"] for event in events)
        except logs.exceptions.ResourceNotFoundException:
            text = ""
        missing = [name for name, marks in wanted.items() if not any(mark and mark in text for mark in marks)]
        if not missing or time.monotonic() > deadline:
            return bool(text), missing
        time.sleep(0.2)


@register("lab02.works", "The reporter reads a report, records it, and logs")
def works(probe: Probe) -> str:
    if probe.function(FUNCTION) is None:
        raise NotYet(f"There is no function {FUNCTION} yet.", "Run the cell that creates the role and the function.")
    s3, dynamodb, logs = probe.client("s3"), probe.client("dynamodb"), probe.client("logs")
    token = uuid.uuid4().hex[:10]
    # Reports the learner has never seen: one at the top of incoming/, one in a folder below it.
    hidden = {f"check-{token}.csv": 4, f"2026/11/check-{token}.csv": 7}
    try:
        for name, lines in hidden.items():
            s3.put_object(Bucket=BUCKET, Key=f"incoming/{name}",
                          Body="".join(f"row {n},{token}\n" for n in range(lines)).encode())
        marks: dict[str, list[str]] = {}
        for name, lines in hidden.items():
            result = probe.invoke(FUNCTION, {"key": name})
            if result.function_error:
                error = result.payload.get("errorType", "an error") if isinstance(result.payload, dict) else "an error"
                raise NotYet(f"The function failed with {error} on a report it was given.",
                             "Invoke it yourself with one of the keys under incoming/ and read the log.")
            answer = result.payload if isinstance(result.payload, dict) else {}
            if answer.get("error"):
                step = answer.get("during", "")
                if step.startswith("s3"):
                    raise NotYet(f"The function could not read a report under incoming/ ({answer['error']}).",
                                 "The role needs s3:GetObject on every object under incoming/ of the reports bucket, "
                                 "including ones in folders below it.")
                raise NotYet(f"The function read the report but could not record it in {TABLE} ({answer['error']}).",
                             f"The role needs dynamodb:PutItem on the table {TABLE}: its ARN is "
                             "arn:aws:dynamodb:<region>:<account>:table/<name>.")
            if answer.get("lines") != lines:
                raise NotYet("The function's answer did not hold the report's line count.",
                             "Use the reporter's code as the lab gives it.")
            item = dynamodb.get_item(TableName=TABLE, Key={"report": {"S": f"incoming/{name}"}}).get("Item")
            if not item or item.get("lines", {}).get("N") != str(lines):
                raise NotYet(f"The function said it worked, but no item for the report appeared in {TABLE}.",
                             "Use the reporter's code as the lab gives it.")
            marks[name] = [f"incoming/{name}", f"RequestId: {result.request_id}" if result.request_id else ""]
        any_logs, missing = _logged(logs, f"/aws/lambda/{FUNCTION}", marks, LOG_WAIT_S)
        if not any_logs:
            raise NotYet(f"The function works, but its invocations left no logs in /aws/lambda/{FUNCTION}.",
                         "The role needs logs:CreateLogGroup, logs:CreateLogStream and logs:PutLogEvents "
                         "on the function's log group.")
        if missing:
            raise NotYet("Some of the function's invocations are missing from its log group.",
                         "The role needs logs:CreateLogStream and logs:PutLogEvents too, not only CreateLogGroup.")
    finally:
        for name in hidden:
            try:
                s3.delete_object(Bucket=BUCKET, Key=f"incoming/{name}")
                dynamodb.delete_item(TableName=TABLE, Key={"report": {"S": f"incoming/{name}"}})
            except Exception:
                pass
    return "The reporter read reports it had never seen, recorded each one in the table, and logged every invoke."


# --- lab02.least_privilege ------------------------------------------------------------------------

def _reporter_cases(region: str, account: str) -> tuple[dict[str, list], list[tuple[str, list, str]]]:
    """What the reporter needs (must be allowed), and groups of what it must not be able to do."""
    group = f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{FUNCTION}"
    stream = f"{group}:log-stream:2026/11/27/[$LATEST]{uuid.uuid4().hex}"
    table = f"arn:aws:dynamodb:{region}:{account}:table/{TABLE}"
    objects = f"arn:aws:s3:::{BUCKET}"
    needed = {
        "write its logs (logs:CreateLogGroup, logs:CreateLogStream, logs:PutLogEvents on its log group)": [
            ("logs:CreateLogGroup", f"{group}:*"), ("logs:CreateLogStream", stream), ("logs:PutLogEvents", stream)],
        "read every report under incoming/, in folders below it too (s3:GetObject)": [
            ("s3:GetObject", f"{objects}/incoming/monday.csv"), ("s3:GetObject", f"{objects}/incoming/a/b/c.csv")],
        f"record results in {TABLE} (dynamodb:PutItem)": [("dynamodb:PutItem", table)],
    }
    refused = [
        ("s3:GetObject reaches objects outside incoming/ (other folders, the top of the bucket, "
         "look-alike prefixes, or other buckets)", [
            ("s3:GetObject", f"{objects}/private/salaries.csv"), ("s3:GetObject", f"{objects}/summary.csv"),
            ("s3:GetObject", f"{objects}/incoming-old/monday.csv"), ("s3:GetObject", f"{objects}/incomings.csv"),
            ("s3:GetObject", "arn:aws:s3:::lab02-archive/incoming/monday.csv"),
            ("s3:GetObject", "arn:aws:s3:::another-teams-bucket/incoming/x.csv")],
         "Name the bucket and the folder in the Resource, ending with a slash before the star: "
         "arn:aws:s3:::<bucket>/incoming/*."),
        ("the role allows S3 actions besides s3:GetObject (the function only reads objects)", [
            ("s3:PutObject", f"{objects}/incoming/monday.csv"), ("s3:DeleteObject", f"{objects}/incoming/monday.csv"),
            ("s3:PutObjectAcl", f"{objects}/incoming/monday.csv"),
            ("s3:GetObjectAcl", f"{objects}/incoming/monday.csv"),
            ("s3:ListBucket", objects), ("s3:DeleteBucket", objects), ("s3:PutBucketPolicy", objects),
            ("s3:ListAllMyBuckets", "*")],
         "List the one action the function calls instead of a wildcard such as s3:* or s3:Get*."),
        ("the role allows DynamoDB actions besides dynamodb:PutItem (the function only writes items)", [
            ("dynamodb:DeleteItem", table), ("dynamodb:GetItem", table), ("dynamodb:Scan", table),
            ("dynamodb:UpdateItem", table), ("dynamodb:DeleteTable", table), ("dynamodb:ListTables", "*")],
         "List dynamodb:PutItem alone instead of a wildcard such as dynamodb:*."),
        (f"dynamodb:PutItem reaches tables other than {TABLE}", [
            ("dynamodb:PutItem", f"arn:aws:dynamodb:{region}:{account}:table/lab02-audit"),
            ("dynamodb:PutItem", f"arn:aws:dynamodb:{region}:{account}:table/{TABLE}-archive"),
            ("dynamodb:PutItem", f"arn:aws:dynamodb:{region}:999999999999:table/{TABLE}")],
         "Use the table's full ARN as the Resource, without a star: arn:aws:dynamodb:<region>:<account>:table/<name>."),
        ("the role allows CloudWatch Logs actions besides the three that write logs", [
            ("logs:DeleteLogGroup", f"{group}:*"), ("logs:GetLogEvents", f"{group}:*"),
            ("logs:PutRetentionPolicy", f"{group}:*"), ("logs:DescribeLogGroups", "*")],
         "Allow exactly logs:CreateLogGroup, logs:CreateLogStream and logs:PutLogEvents."),
        ("the role allows actions in services the function never calls (it uses only logs, s3 and dynamodb)", [
            ("iam:PassRole", "*"), ("iam:CreateUser", f"arn:aws:iam::{account}:user/intruder"),
            ("iam:AttachRolePolicy", f"arn:aws:iam::{account}:role/{ROLE_NAME}"),
            ("lambda:UpdateFunctionCode", f"arn:aws:lambda:{region}:{account}:function:{FUNCTION}"),
            ("lambda:InvokeFunction", f"arn:aws:lambda:{region}:{account}:function:other"),
            ("sts:AssumeRole", f"arn:aws:iam::{account}:role/admin"), ("sqs:SendMessage", "*"),
            ("ec2:RunInstances", "*"), ("kms:Decrypt", "*"), ("secretsmanager:GetSecretValue", "*")],
         "Write one statement per service the function uses, and no Action \"*\" or NotAction."),
    ]
    return needed, refused


@register("lab02.least_privilege", "The role allows what the reporter needs and nothing more")
def least_privilege(probe: Probe) -> str:
    role_name = _role_name(probe, FUNCTION, ROLE_NAME)
    documents = role_documents(probe.client("iam"), role_name)
    if not documents:
        raise NotYet(f"The role {role_name} has no permission policies, so the function may do nothing at all.",
                     "Put your inline policy on the role with iam.put_role_policy.")
    needed, refused = _reporter_cases(probe.state.region, probe.state.account_id)
    narrow = [what for what, cases in needed.items() if _wrong(documents, cases, want=True)]
    if narrow:
        raise NotYet("Too narrow: the role does not let the function " + "; nor ".join(narrow) + ".",
                     "Start from what the function's code calls: one statement per service, "
                     "each naming the actions and the resources it uses.")
    broad = [(what, hint) for what, cases, hint in refused if _wrong(documents, cases, want=False)]
    if broad:
        raise NotYet("Too broad: " + "; ".join(what for what, _ in broad) + ".", " ".join(hint for _, hint in broad))
    return (f"{role_name} lets the reporter write its logs, read incoming/ and record results in {TABLE}, "
            "and refuses everything else that was tried.")


# --- lesson02.writer (the small exercise of notebooks/02-execution-roles.ipynb) --------------------

LESSON_FUNCTION = "lesson02-reader"
LESSON_BUCKET = "lesson02-notes-3c9d"


@register("lesson02.writer", "lesson02-reader may write under reports/ and nowhere else")
def writer(probe: Probe) -> str:
    role_name = _role_name(probe, LESSON_FUNCTION, None)
    documents = role_documents(probe.client("iam"), role_name)
    objects = f"arn:aws:s3:::{LESSON_BUCKET}"
    token = uuid.uuid4().hex[:8]
    if _wrong(documents, [("s3:PutObject", f"{objects}/reports/{token}.txt"),
                          ("s3:PutObject", f"{objects}/reports/2026/{token}.txt")], want=True):
        raise NotYet("The role does not let lesson02-reader write objects under reports/ yet.",
                     "Put an inline policy on the function's role that allows s3:PutObject on the objects "
                     "under reports/ of its bucket, then run the check again.")
    if _wrong(documents, [("s3:PutObject", f"{objects}/notes/{token}.txt"), ("s3:PutObject", f"{objects}/{token}.txt"),
                          ("s3:PutObject", f"{objects}/reports-old/{token}.txt"),
                          ("s3:PutObject", f"arn:aws:s3:::lesson02-archive-3c9d/reports/{token}.txt")], want=False):
        raise NotYet("Too broad: lesson02-reader may now write outside reports/ of its bucket.",
                     "End the Resource with reports/* (the slash matters) and name the bucket.")
    if _wrong(documents, [("s3:DeleteObject", f"{objects}/reports/{token}.txt"), ("s3:PutBucketPolicy", objects),
                          ("s3:GetObject", f"{objects}/secret/plan.txt")], want=False):
        raise NotYet("Too broad: the role now allows more S3 actions than writing objects.",
                     "Grant s3:PutObject alone, not s3:* or s3:Put*.")
    result = probe.invoke(LESSON_FUNCTION, {"action": "put", "key": f"reports/check-{token}.txt", "body": token})
    answer = result.payload if isinstance(result.payload, dict) else {}
    if result.function_error or answer.get("error"):
        refused = answer.get("error", "an error")
        raise NotYet(f"The policy reads well, but the function's write was refused ({refused}).",
                     "Run the cell that puts the policy on the role, then check again.")
    probe.client("s3").delete_object(Bucket=LESSON_BUCKET, Key=f"reports/check-{token}.txt")
    return "lesson02-reader can write under reports/, and still nowhere else."
