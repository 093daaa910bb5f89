"""Resource-based policies: AddPermission, GetPolicy and RemovePermission answer as AWS does, and
permissions.allows() reads the statements they write as Lambda would."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from lambdalab.triggers.permissions import Caller, allows
from support import create_function

ACCOUNT = "123456789012"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:target"
BUCKET_ARN = "arn:aws:s3:::photos"
CODE = "def handler(event, context):\n    return event\n"


@pytest.fixture
def target(lam, role) -> str:
    return create_function(lam, "target", CODE, role)["FunctionArn"]


def _error(call, **arguments) -> dict:
    with pytest.raises(ClientError) as raised:
        call(**arguments)
    return {**raised.value.response["Error"], "Status": raised.value.response["ResponseMetadata"]["HTTPStatusCode"]}


def _policy(lam, name: str = "target") -> dict:
    return json.loads(lam.get_policy(FunctionName=name)["Policy"])


def _function_with(statements: list[dict], arn: str = FUNCTION_ARN) -> SimpleNamespace:
    """What allows() reads of moto's function: its ARN and its policy's statements."""
    return SimpleNamespace(function_arn=arn, policy=SimpleNamespace(statements=statements))


# --- the API, through boto3 ---------------------------------------------------------------------

def test_add_permission_writes_the_statement_as_aws_does(lam, target, aws) -> None:
    answer = lam.add_permission(FunctionName="target", StatementId="s3-invokes", Action="lambda:InvokeFunction",
                                Principal="s3.amazonaws.com", SourceArn=BUCKET_ARN, SourceAccount=ACCOUNT)
    statement = json.loads(answer["Statement"])
    assert statement == {
        "Sid": "s3-invokes", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": target,
        "Condition": {"StringEquals": {"AWS:SourceAccount": ACCOUNT}, "ArnLike": {"AWS:SourceArn": BUCKET_ARN}},
    }
    policy = _policy(lam)
    assert policy["Version"] == "2012-10-17"
    assert policy["Statement"] == [statement]


def test_an_account_principal_becomes_its_root_arn(lam, target) -> None:
    lam.add_permission(FunctionName="target", StatementId="other-account", Action="lambda:InvokeFunction",
                       Principal="210987654321")
    assert _policy(lam)["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}


def test_function_url_permissions_are_conditions(lam, target) -> None:
    lam.add_permission(FunctionName="target", StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    lam.add_permission(FunctionName="target", StatementId="via-url", Action="lambda:InvokeFunction", Principal="*",
                       InvokedViaFunctionUrl=True)
    url, via_url = _policy(lam)["Statement"]
    assert url["Principal"] == "*"
    assert url["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}
    assert "FunctionUrlAuthType" not in url
    assert via_url["Condition"] == {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}


def test_a_statement_id_twice_is_a_conflict(lam, target) -> None:
    lam.add_permission(FunctionName="target", StatementId="twice", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com")
    error = _error(lam.add_permission, FunctionName="target", StatementId="twice", Action="lambda:InvokeFunction",
                   Principal="sns.amazonaws.com")
    assert error["Code"] == "ResourceConflictException"
    assert error["Status"] == 409
    assert error["Message"] == ("The statement id (twice) provided already exists. Please provide a new statement "
                                "id, or remove the existing statement.")
    assert len(_policy(lam)["Statement"]) == 1


@pytest.mark.parametrize("member, arguments, pattern", [
    ("statementId", {"StatementId": "not valid!"}, "([a-zA-Z0-9-_]+)"),
    ("action", {"Action": "invoke"}, "(lambda:[*]|lambda:[a-zA-Z]+|[*])"),
    ("sourceAccount", {"SourceAccount": "12345"}, r"\d{12}"),
])
def test_add_permission_validates_its_members(lam, target, member, arguments, pattern) -> None:
    request = {"FunctionName": "target", "StatementId": "ok", "Action": "lambda:InvokeFunction",
               "Principal": "s3.amazonaws.com", **arguments}
    error = _error(lam.add_permission, **request)
    assert error["Code"] == "ValidationException"
    value = next(iter(arguments.values()))
    assert error["Message"] == (f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
                                f"constraint: Member must satisfy regular expression pattern: {pattern}")


def test_add_permission_to_a_missing_function(lam, aws) -> None:
    error = _error(lam.add_permission, FunctionName="nobody", StatementId="s", Action="lambda:InvokeFunction",
                   Principal="s3.amazonaws.com")
    assert error["Code"] == "ResourceNotFoundException"
    assert error["Message"] == f"Function not found: arn:aws:lambda:us-east-1:{ACCOUNT}:function:nobody"


def test_a_policy_stops_at_20_kb(lam, target) -> None:
    number = 0
    with pytest.raises(ClientError) as raised:
        while number < 200:
            number += 1
            lam.add_permission(FunctionName="target", StatementId=f"rule-{number:03d}", Action="lambda:InvokeFunction",
                               Principal="events.amazonaws.com",
                               SourceArn=f"arn:aws:events:us-east-1:{ACCOUNT}:rule/{'a-long-rule-name-' * 4}{number}")
    error = raised.value.response["Error"]
    assert error["Code"] == "PolicyLengthExceededException"
    assert error["Message"].startswith("The final policy size (")
    assert error["Message"].endswith(") is bigger than the limit (20480).")
    statements = _policy(lam)["Statement"]
    assert len(statements) == number - 1  # the refused statement was not kept
    assert len(json.dumps({"Version": "2012-10-17", "Id": "default", "Statement": statements},
                          separators=(",", ":"))) <= 20_480


def test_get_policy_of_a_function_without_one(lam, target) -> None:
    error = _error(lam.get_policy, FunctionName="target")
    assert (error["Code"], error["Message"], error["Status"]) == (
        "ResourceNotFoundException", "The resource you requested does not exist.", 404)


def test_remove_permission(lam, target) -> None:
    for sid in ("keep", "drop"):
        lam.add_permission(FunctionName="target", StatementId=sid, Action="lambda:InvokeFunction",
                           Principal="s3.amazonaws.com")
    lam.remove_permission(FunctionName="target", StatementId="drop")
    assert [s["Sid"] for s in _policy(lam)["Statement"]] == ["keep"]
    error = _error(lam.remove_permission, FunctionName="target", StatementId="drop")
    assert (error["Code"], error["Message"], error["Status"]) == (
        "ResourceNotFoundException", "Statement drop is not found in resource policy.", 404)
    lam.remove_permission(FunctionName="target", StatementId="keep")
    error = _error(lam.remove_permission, FunctionName="target", StatementId="keep")
    assert (error["Code"], error["Message"]) == (
        "ResourceNotFoundException", "No policy is associated with the given resource.")
    assert _error(lam.get_policy, FunctionName="target")["Code"] == "ResourceNotFoundException"


def test_remove_permission_checks_the_revision(lam, target) -> None:
    lam.add_permission(FunctionName="target", StatementId="s", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com")
    error = _error(lam.remove_permission, FunctionName="target", StatementId="s", RevisionId="not-the-revision")
    assert error["Code"] == "PreconditionFailedException"
    revision = lam.get_policy(FunctionName="target")["RevisionId"]
    lam.remove_permission(FunctionName="target", StatementId="s", RevisionId=revision)
    assert _error(lam.get_policy, FunctionName="target")["Code"] == "ResourceNotFoundException"


def test_what_get_policy_shows_is_what_allows_reads(lam, target) -> None:
    """The writer (AddPermission) and the reader (allows) agree, statement by statement."""
    lam.add_permission(FunctionName="target", StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=BUCKET_ARN, SourceAccount=ACCOUNT)
    lam.add_permission(FunctionName="target", StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="AWS_IAM")
    fn = _function_with(_policy(lam)["Statement"], target)
    assert allows(fn, Caller("s3.amazonaws.com", source_arn=BUCKET_ARN, source_account=ACCOUNT))
    assert not allows(fn, Caller("s3.amazonaws.com", source_arn="arn:aws:s3:::other", source_account=ACCOUNT))
    assert not allows(fn, Caller("s3.amazonaws.com", source_arn=BUCKET_ARN, source_account="210987654321"))
    assert not allows(fn, Caller("sns.amazonaws.com", source_arn=BUCKET_ARN, source_account=ACCOUNT))
    assert allows(fn, Caller("*", action="lambda:InvokeFunctionUrl", function_url_auth_type="AWS_IAM"))
    assert not allows(fn, Caller("*", action="lambda:InvokeFunctionUrl", function_url_auth_type="NONE"))


# --- the reader, on statements as AWS writes them -----------------------------------------------

def _statement(**fields) -> dict:
    return {"Sid": "s", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "lambda:InvokeFunction", "Resource": FUNCTION_ARN, **fields}


RULE_ARN = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/nightly"


def test_no_policy_allows_nobody() -> None:
    assert not allows(_function_with([]), Caller("events.amazonaws.com", source_arn=RULE_ARN))


def test_a_service_statement_without_conditions_allows_any_source_of_that_service() -> None:
    fn = _function_with([_statement()])
    assert allows(fn, Caller("events.amazonaws.com", source_arn=RULE_ARN, source_account=ACCOUNT))
    assert not allows(fn, Caller("s3.amazonaws.com", source_arn=BUCKET_ARN))


def test_source_arn_conditions_take_wildcards() -> None:
    fn = _function_with([_statement(Condition={"ArnLike": {"AWS:SourceArn": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/night*"}})])
    assert allows(fn, Caller("events.amazonaws.com", source_arn=RULE_ARN))
    assert not allows(fn, Caller("events.amazonaws.com", source_arn=f"arn:aws:events:us-east-1:{ACCOUNT}:rule/daily"))
    assert not allows(fn, Caller("events.amazonaws.com"))  # a condition on a key the caller lacks fails


def test_the_action_must_match() -> None:
    assert not allows(_function_with([_statement(Action="lambda:GetFunction")]), Caller("events.amazonaws.com"))
    assert allows(_function_with([_statement(Action="lambda:*")]), Caller("events.amazonaws.com"))
    assert allows(_function_with([_statement(Action="*")]), Caller("events.amazonaws.com"))


def test_principal_forms() -> None:
    assert allows(_function_with([_statement(Principal="*")]), Caller("events.amazonaws.com"))
    assert allows(_function_with([_statement(Principal={"Service": ["sns.amazonaws.com", "events.amazonaws.com"]})]),
                  Caller("events.amazonaws.com"))
    account_only = _function_with([_statement(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"})])
    assert allows(account_only, Caller(ACCOUNT))
    assert not allows(account_only, Caller("events.amazonaws.com"))


def test_a_deny_wins() -> None:
    fn = _function_with([_statement(), _statement(Sid="no", Effect="Deny")])
    assert not allows(fn, Caller("events.amazonaws.com"))


def test_statements_of_a_version_or_alias_do_not_cover_the_function() -> None:
    fn = _function_with([_statement(Resource=f"{FUNCTION_ARN}:prod")])
    assert not allows(fn, Caller("events.amazonaws.com"))
    assert allows(fn, Caller("events.amazonaws.com"), qualifier="prod")
    assert allows(_function_with([_statement()]), Caller("events.amazonaws.com"), qualifier="$LATEST")


def test_invoked_via_function_url_condition() -> None:
    fn = _function_with([_statement(Principal="*", Condition={"Bool": {"lambda:InvokedViaFunctionUrl": "true"}})])
    assert allows(fn, Caller("*", invoked_via_function_url=True))
    assert not allows(fn, Caller("*", invoked_via_function_url=False))
    assert not allows(fn, Caller("*"))


def test_an_alias_resolved_to_its_version_reads_the_alias_statements() -> None:
    """moto hands an alias's invocation the published version (ARN ...:target:3): its alias's statements count."""
    version = SimpleNamespace(function_arn=f"{FUNCTION_ARN}:3", version="3",
                              policy=SimpleNamespace(statements=[_statement(Resource=f"{FUNCTION_ARN}:prod")]))
    assert allows(version, Caller("events.amazonaws.com"), qualifier="prod")
    assert not allows(version, Caller("events.amazonaws.com"))
