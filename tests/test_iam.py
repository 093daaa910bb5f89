"""The execution role, as Lambda uses it: trusted, assumed, and obeyed by every SDK call the
function makes. The learner is an administrator; the function is only what its role allows."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from support import BASIC_EXECUTION, LAMBDA_TRUST, create_function, create_role, invoke_json

# A function that makes the SDK calls its event lists and reports each outcome.
PROBE = '''
import json
import os

import boto3
import botocore.exceptions

# Made once, at Init, as AWS advises: six clients made in the handler cost a 128 MB function more
# CPU than its 3 s allow (about 0.25 CPU-seconds at 128/1769 of a vCPU), on AWS as here.
CLIENTS = {service: boto3.client(service) for service in ("s3", "sts", "iam", "lambda", "dynamodb", "logs")}


def handler(event, context):
    results = []
    for service, method, kwargs in event.get("calls", []):
        try:
            answer = getattr(CLIENTS[service], method)(**kwargs)
            answer.pop("ResponseMetadata", None)
            if "Body" in answer:
                answer["Body"] = answer["Body"].read().decode()
            results.append({"ok": json.loads(json.dumps(answer, default=str))})
        except botocore.exceptions.ClientError as error:
            results.append({"error": error.response["Error"]["Code"]})
    return {"results": results, "stream": context.log_stream_name,
            "key_id": os.environ.get("AWS_ACCESS_KEY_ID"), "token": bool(os.environ.get("AWS_SESSION_TOKEN"))}
'''
BUCKET = "lab-data"
KEY = "notes/hello.txt"
CANNOT_ASSUME = "The role defined for the function cannot be assumed by Lambda."
EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def probe(lam, name: str, *calls: tuple[str, str, dict]) -> dict:
    response, body = invoke_json(lam, name, {"calls": [list(call) for call in calls]})
    assert "FunctionError" not in response, body
    return body


def get_object(bucket: str = BUCKET, key: str = KEY) -> tuple[str, str, dict]:
    return ("s3", "get_object", {"Bucket": bucket, "Key": key})


def outcome(result: dict) -> str:
    """'ok' or the error code."""
    return "ok" if "ok" in result else result["error"]


@pytest.fixture
def bucket(aws) -> str:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"hello from S3")
    s3.put_object(Bucket=BUCKET, Key="secret.txt", Body=b"not for you")
    return BUCKET


# --- the role's credentials ---------------------------------------------------------------------

def test_boto3_inside_a_function_uses_the_roles_temporary_credentials(aws, lam, role):
    create_function(lam, "whoami", PROBE, role)
    body = probe(lam, "whoami", ("sts", "get_caller_identity", {}))
    identity = body["results"][0]["ok"]
    account = aws.state["account_id"]
    assert identity["Arn"] == f"arn:aws:sts::{account}:assumed-role/lambda-role/whoami"
    assert identity["Account"] == account
    assert body["key_id"].startswith("ASIA"), "temporary credentials start with ASIA"
    assert body["key_id"] != aws.state["access_key_id"]
    assert body["token"], "temporary credentials come with a session token"
    assert aws.client("sts").get_caller_identity()["Arn"] == f"arn:aws:iam::{account}:user/learner"


def test_each_function_gets_the_credentials_of_its_own_role(aws, lam, iam):
    first = create_role(iam, "first-role")
    second = create_role(iam, "second-role")
    create_function(lam, "uses-first", PROBE, first)
    create_function(lam, "uses-second", PROBE, second)
    arns = [probe(lam, name, ("sts", "get_caller_identity", {}))["results"][0]["ok"]["Arn"]
            for name in ("uses-first", "uses-second")]
    assert arns[0].endswith(":assumed-role/first-role/uses-first")
    assert arns[1].endswith(":assumed-role/second-role/uses-second")


# --- permissions, evaluated when the call is made -------------------------------------------------

def test_s3_is_denied_until_the_role_is_granted_it(aws, lam, iam, bucket):
    role = create_role(iam, "reader-role")  # may write logs, nothing else
    create_function(lam, "reader", PROBE, role)
    denied = probe(lam, "reader", get_object())
    assert outcome(denied["results"][0]) == "AccessDenied"

    iam.put_role_policy(RoleName="reader-role", PolicyName="read-one-object", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/{KEY}"}],
    }))
    allowed = probe(lam, "reader", get_object(), get_object(key="secret.txt"))
    assert allowed["results"][0] == {"ok": allowed["results"][0]["ok"]}
    assert allowed["results"][0]["ok"]["Body"] == "hello from S3"
    assert outcome(allowed["results"][1]) == "AccessDenied", "the grant names one object only"
    # The same warm environment, with the same credentials: IAM looked again at call time.
    assert allowed["stream"] == denied["stream"]
    assert allowed["key_id"] == denied["key_id"]

    iam.delete_role_policy(RoleName="reader-role", PolicyName="read-one-object")
    assert outcome(probe(lam, "reader", get_object())["results"][0]) == "AccessDenied"


def test_an_aws_managed_policy_attached_to_the_role_is_obeyed(aws, lam, iam, bucket):
    role = create_role(iam, "managed-reader", managed=(BASIC_EXECUTION, "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"))
    create_function(lam, "managed-reader", PROBE, role)
    body = probe(lam, "managed-reader", get_object(), ("s3", "put_object", {"Bucket": BUCKET, "Key": "new.txt", "Body": "x"}))
    assert body["results"][0]["ok"]["Body"] == "hello from S3"
    assert outcome(body["results"][1]) == "AccessDenied", "read-only means no PutObject"


def test_an_explicit_deny_wins_over_an_allow(aws, lam, iam, bucket):
    role = create_role(iam, "almost-everything", inline={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/secret.txt"},
    ]})
    create_function(lam, "almost", PROBE, role)
    body = probe(lam, "almost", get_object(), get_object(key="secret.txt"))
    assert body["results"][0]["ok"]["Body"] == "hello from S3"
    assert outcome(body["results"][1]) == "AccessDenied"


def test_the_learner_is_admin_but_the_function_only_has_its_role(aws, lam, iam, bucket):
    learner_s3, learner_ddb = aws.client("s3"), aws.client("dynamodb")
    learner_ddb.create_table(TableName="orders", AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                             KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    assert [b["Name"] for b in learner_s3.list_buckets()["Buckets"]] == [BUCKET]
    assert learner_s3.get_object(Bucket=BUCKET, Key="secret.txt")["Body"].read() == b"not for you"
    assert iam.list_roles()["Roles"] == []
    assert learner_ddb.list_tables()["TableNames"] == ["orders"]

    role = create_role(iam, "logs-only")
    create_function(lam, "powerless", PROBE, role)
    body = probe(lam, "powerless",
                 ("s3", "list_buckets", {}),
                 get_object(key="secret.txt"),
                 ("iam", "list_roles", {}),
                 ("lambda", "list_functions", {}),
                 ("dynamodb", "list_tables", {}),
                 ("dynamodb", "put_item", {"TableName": "orders", "Item": {"id": {"S": "1"}}}))
    codes = [outcome(result) for result in body["results"]]
    # XML services (S3, IAM) say AccessDenied; JSON services (Lambda, DynamoDB) AccessDeniedException.
    assert codes == ["AccessDenied"] * 3 + ["AccessDeniedException"] * 3
    assert learner_ddb.scan(TableName="orders")["Items"] == [], "the denied write must not have happened"


def test_a_grant_of_the_function_reaches_the_learners_own_resources(aws, lam, iam, bucket):
    role = create_role(iam, "lister", inline={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]})
    create_function(lam, "lister", PROBE, role)
    body = probe(lam, "lister", ("s3", "list_buckets", {}))
    assert [b["Name"] for b in body["results"][0]["ok"]["Buckets"]] == [BUCKET], "same account, same buckets"


# --- the trust policy -----------------------------------------------------------------------------

def test_create_function_refuses_a_role_lambda_cannot_assume(lam, iam):
    ec2_role = create_role(iam, "ec2-role", trust=EC2_TRUST)
    with pytest.raises(ClientError) as refused:
        create_function(lam, "untrusted", PROBE, ec2_role)
    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"] == CANNOT_ASSUME
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as missing:
        lam.get_function(FunctionName="untrusted")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_create_function_refuses_a_role_that_does_not_exist(aws, lam):
    with pytest.raises(ClientError) as refused:
        create_function(lam, "orphan", PROBE, f"arn:aws:iam::{aws.state['account_id']}:role/no-such-role")
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert refused.value.response["Error"]["Message"] == CANNOT_ASSUME


def test_a_trust_policy_naming_lambda_among_others_is_accepted(lam, iam):
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": ["edgelambda.amazonaws.com", "lambda.amazonaws.com"]},
         "Action": ["sts:AssumeRole"]}]}
    role = create_role(iam, "shared-role", trust=trust)
    create_function(lam, "trusted", PROBE, role)
    body = probe(lam, "trusted", ("sts", "get_caller_identity", {}))
    assert body["results"][0]["ok"]["Arn"].endswith(":assumed-role/shared-role/trusted")


def test_a_deny_in_the_trust_policy_is_not_trust(lam, iam):
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = create_role(iam, "denying-role", trust=trust)
    with pytest.raises(ClientError) as refused:
        create_function(lam, "denied", PROBE, role)
    assert refused.value.response["Error"]["Message"] == CANNOT_ASSUME


def test_update_function_configuration_checks_the_trust_policy_too(lam, iam, role):
    create_function(lam, "switcher", PROBE, role)
    ec2_role = create_role(iam, "ec2-role", trust=EC2_TRUST)
    with pytest.raises(ClientError) as refused:
        lam.update_function_configuration(FunctionName="switcher", Role=ec2_role)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert refused.value.response["Error"]["Message"] == CANNOT_ASSUME
    assert lam.get_function_configuration(FunctionName="switcher")["Role"] == role

    other = create_role(iam, "other-role")
    lam.update_function_configuration(FunctionName="switcher", Role=other)
    assert lam.get_function_configuration(FunctionName="switcher")["Role"] == other
    arn = probe(lam, "switcher", ("sts", "get_caller_identity", {}))["results"][0]["ok"]["Arn"]
    assert arn.endswith(":assumed-role/other-role/switcher"), "a new role means new credentials"


# --- the managed policy for logs ------------------------------------------------------------------

def test_the_basic_execution_policy_exists_and_grants_exactly_the_logs_actions(iam):
    policy = iam.get_policy(PolicyArn=BASIC_EXECUTION)["Policy"]
    assert policy["PolicyName"] == "AWSLambdaBasicExecutionRole"
    assert policy["Path"] == "/service-role/"
    version = iam.get_policy_version(PolicyArn=BASIC_EXECUTION, VersionId=policy["DefaultVersionId"])
    document = version["PolicyVersion"]["Document"]
    if isinstance(document, str):
        from urllib.parse import unquote
        document = json.loads(unquote(document))
    statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
    actions = set()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        actions |= set([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    assert actions == {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}


def test_the_basic_execution_policy_gives_no_other_permission(aws, lam, iam, bucket):
    role = create_role(iam, "basic-only", managed=(BASIC_EXECUTION,))
    create_function(lam, "basic", PROBE, role)
    body = probe(lam, "basic", ("logs", "describe_log_groups", {}), get_object())
    assert outcome(body["results"][0]) == "AccessDeniedException", "DescribeLogGroups is not in the policy"
    assert outcome(body["results"][1]) == "AccessDenied"
