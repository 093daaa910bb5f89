"""Removing what a lesson made, so a lesson can be run again from the top.

Each lesson names everything it creates with its own prefix ("lesson01-"), and calls
``lambdalab.clean_up("lesson01-")`` at the start and in its clean-up section. On AWS you
would delete the same resources with the same boto3 calls; the lessons show those calls.
"""

from __future__ import annotations

from ..client.connection import aws_client


def clean_up(prefix: str) -> list[str]:
    """Delete what is named prefix*: event source mappings and EventBridge rules of it, functions, roles,
    log groups, buckets, tables, queues, topics, Kinesis streams and HTTP APIs; returns what went."""
    if not prefix:
        raise ValueError("clean_up needs a prefix, so that it never deletes everything")
    removed: list[str] = []
    removed += _event_source_mappings(prefix)
    removed += _rules(prefix)
    removed += _functions(prefix)
    removed += _roles(prefix)
    removed += _log_groups(prefix)
    removed += _buckets(prefix)
    removed += _tables(prefix)
    removed += _queues(prefix)
    removed += _topics(prefix)
    removed += _streams(prefix)
    removed += _http_apis(prefix)
    return removed


def _event_source_mappings(prefix: str) -> list[str]:
    """Mappings go before their functions, so no poller is left reading for a deleted function."""
    lam = aws_client("lambda")
    mappings = [m for page in lam.get_paginator("list_event_source_mappings").paginate()
                for m in page["EventSourceMappings"] if m["FunctionArn"].rsplit(":function:", 1)[-1].startswith(prefix)]
    for mapping in mappings:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
    return [f"event source mapping {m['UUID']}" for m in mappings]


def _rules(prefix: str) -> list[str]:
    events = aws_client("events")
    names = [r["Name"] for r in events.list_rules(NamePrefix=prefix).get("Rules", [])]
    for name in names:
        targets = [t["Id"] for t in events.list_targets_by_rule(Rule=name).get("Targets", [])]
        if targets:
            events.remove_targets(Rule=name, Ids=targets)
        events.delete_rule(Name=name)
    return [f"rule {name}" for name in names]


def _topics(prefix: str) -> list[str]:
    sns = aws_client("sns")
    arns = [t["TopicArn"] for page in sns.get_paginator("list_topics").paginate() for t in page["Topics"]
            if t["TopicArn"].rsplit(":", 1)[-1].startswith(prefix)]
    for arn in arns:
        sns.delete_topic(TopicArn=arn)
    return [f"topic {arn.rsplit(':', 1)[-1]}" for arn in arns]


def _streams(prefix: str) -> list[str]:
    kinesis = aws_client("kinesis")
    names = [n for n in kinesis.list_streams().get("StreamNames", []) if n.startswith(prefix)]
    for name in names:
        kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
    return [f"stream {name}" for name in names]


def _http_apis(prefix: str) -> list[str]:
    apis = aws_client("apigatewayv2")
    found = [a for a in apis.get_apis().get("Items", []) if a["Name"].startswith(prefix)]
    for api in found:
        apis.delete_api(ApiId=api["ApiId"])
    return [f"HTTP API {api['Name']}" for api in found]


def _functions(prefix: str) -> list[str]:
    lam = aws_client("lambda")
    names = [f["FunctionName"] for page in lam.get_paginator("list_functions").paginate()
             for f in page["Functions"] if f["FunctionName"].startswith(prefix)]
    for name in names:
        lam.delete_function(FunctionName=name)
    return [f"function {name}" for name in names]


def _roles(prefix: str) -> list[str]:
    iam = aws_client("iam")
    names = [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(prefix)]
    for name in names:
        for policy in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
        for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
        iam.delete_role(RoleName=name)
    return [f"role {name}" for name in names]


def _log_groups(prefix: str) -> list[str]:
    logs = aws_client("logs")
    groups = [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{prefix}")["logGroups"]]
    for group in groups:
        logs.delete_log_group(logGroupName=group)
    return [f"log group {group}" for group in groups]


def _buckets(prefix: str) -> list[str]:
    s3 = aws_client("s3")
    names = [b["Name"] for b in s3.list_buckets().get("Buckets", []) if b["Name"].startswith(prefix)]
    for name in names:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for item in page.get("Contents", []):
                s3.delete_object(Bucket=name, Key=item["Key"])
        s3.delete_bucket(Bucket=name)
    return [f"bucket {name}" for name in names]


def _tables(prefix: str) -> list[str]:
    dynamodb = aws_client("dynamodb")
    names = [t for t in dynamodb.list_tables()["TableNames"] if t.startswith(prefix)]
    for name in names:
        dynamodb.delete_table(TableName=name)
    return [f"table {name}" for name in names]


def _queues(prefix: str) -> list[str]:
    sqs = aws_client("sqs")
    urls = sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
    for url in urls:
        sqs.delete_queue(QueueUrl=url)
    return [f"queue {url.rsplit('/', 1)[-1]}" for url in urls]
