"""EventBridge rules with Lambda targets, end to end through boto3: event patterns on PutEvents,
the function's policy, Input/InputPath/InputTransformer, a target's dead-letter queue, events
put on a bus by a Lambda destination, and schedules (rate and cron) on the virtual clock:
fired in order, stopped by DisableRule, RemoveTargets and DeleteRule, refused when invalid."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError

from event_shapes import assert_same_shape
from push_support import allow, create_recorder, received, wait_for_events
from support import advance, flow, invocations, use_virtual_clock, wait_until

ORDERS = {"source": ["shop.orders"], "detail-type": ["Order Placed"]}
# 2030-01-01T00:00:00Z, a Tuesday
NEW_YEAR_2030 = datetime(2030, 1, 1, tzinfo=timezone.utc).timestamp()


@pytest.fixture
def events(aws):
    return aws.client("events")


@pytest.fixture
def recorder(lam, role) -> str:
    return create_recorder(lam, "recorder", role)


def _rule(events, name: str, target_arn: str, **rule: object) -> str:
    arn = events.put_rule(Name=name, **rule)["RuleArn"]
    events.put_targets(Rule=name, Targets=[{"Id": "target", "Arn": target_arn}])
    return arn


def _order(detail: dict, **entry: object) -> dict:
    return {"Source": "shop.orders", "DetailType": "Order Placed", "Detail": json.dumps(detail), **entry}


def _sqs_queue(aws, name: str) -> tuple[str, str]:
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


# --- event patterns -----------------------------------------------------------------------------

def test_a_matching_event_reaches_the_function_as_eventbridge_sends_it(aws, lam, events, recorder) -> None:
    rule_arn = _rule(events, "orders", recorder, EventPattern=json.dumps(ORDERS))
    allow(lam, "recorder", "events.amazonaws.com", rule_arn)
    answer = events.put_events(Entries=[_order({"id": 7, "total": 12.5}, Resources=["arn:aws:shop:::order/7"]),
                                        {"Source": "shop.payments", "DetailType": "Order Placed", "Detail": "{}"}])
    assert answer["FailedEntryCount"] == 0
    event = wait_for_events(aws, "recorder", 1)[0]
    # EventBridge's envelope is the scheduled event's; the detail is the sender's own document
    assert_same_shape(event, "sam-templates/cloudwatch-ScheduledEvent.json", ignore={"$.version", "$.detail"})
    assert event["version"] == "0"
    assert event["id"] == answer["Entries"][0]["EventId"]
    assert (event["source"], event["detail-type"], event["detail"]) == ("shop.orders", "Order Placed",
                                                                      {"id": 7, "total": 12.5})
    assert (event["account"], event["region"]) == (aws.state["account_id"], "us-east-1")
    assert event["resources"] == ["arn:aws:shop:::order/7"]
    assert event["time"].endswith("Z") and len(event["time"]) == len("2020-02-02T12:34:56Z")
    wait_until(lambda: invocations(aws, "recorder"), what="the invocation")
    assert len(invocations(aws, "recorder")) == 1
    assert [(s["source"], s["target"]) for s in flow(aws, "event")] == [("events:orders", "lambda:recorder")]


def test_an_event_keeps_the_time_it_was_put_with(aws, lam, events, recorder) -> None:
    rule_arn = _rule(events, "orders", recorder, EventPattern=json.dumps(ORDERS))
    allow(lam, "recorder", "events.amazonaws.com", rule_arn)
    events.put_events(Entries=[_order({"id": 1}, Time=datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.utc))])
    assert wait_for_events(aws, "recorder", 1)[0]["time"] == "2031-05-06T07:08:09Z"


def test_an_event_without_time_has_the_clocks_time(aws, lam, events, recorder) -> None:
    rule_arn = _rule(events, "orders", recorder, EventPattern=json.dumps(ORDERS))
    allow(lam, "recorder", "events.amazonaws.com", rule_arn)
    use_virtual_clock(aws, start=NEW_YEAR_2030)
    events.put_events(Entries=[_order({"id": 1})])
    advance(aws, 1)
    assert received(aws, "recorder")[0]["time"] == "2030-01-01T00:00:00Z"


def test_pattern_operators_choose_the_events(aws, lam, events, recorder) -> None:
    pattern = {"source": ["shop.orders"], "detail": {"total": [{"numeric": [">", 100]}],
                                                     "country": [{"anything-but": "FR"}]}}
    rule_arn = _rule(events, "big-orders", recorder, EventPattern=json.dumps(pattern))
    allow(lam, "recorder", "events.amazonaws.com", rule_arn)
    events.put_events(Entries=[_order({"id": 1, "total": 50, "country": "NL"}),
                               _order({"id": 2, "total": 500, "country": "FR"}),
                               _order({"id": 3, "total": 500, "country": "NL"})])
    assert [e["detail"]["id"] for e in wait_for_events(aws, "recorder", 1)] == [3]
    wait_until(lambda: invocations(aws, "recorder"), what="the invocation")
    assert len(flow(aws, "event")) == 1


def test_a_custom_bus_has_rules_of_its_own(aws, lam, events, recorder) -> None:
    events.create_event_bus(Name="shop")
    rule_arn = events.put_rule(Name="shop-orders", EventPattern=json.dumps(ORDERS), EventBusName="shop")["RuleArn"]
    events.put_targets(Rule="shop-orders", EventBusName="shop", Targets=[{"Id": "target", "Arn": recorder}])
    allow(lam, "recorder", "events.amazonaws.com", rule_arn)
    events.put_events(Entries=[_order({"id": 1})])  # the default bus: no rule there
    events.put_events(Entries=[_order({"id": 2}, EventBusName="shop")])
    assert [e["detail"]["id"] for e in wait_for_events(aws, "recorder", 1)] == [2]
    wait_until(lambda: invocations(aws, "recorder"), what="the invocation")
    assert len(invocations(aws, "recorder")) == 1


def test_a_disabled_rule_matches_nothing(aws, lam, events, recorder) -> None:
    rule_arn = _rule(events, "orders", recorder, EventPattern=json.dumps(ORDERS), State="DISABLED")
    allow(lam, "recorder", "events.amazonaws.com", rule_arn)
    events.put_events(Entries=[_order({"id": 1})])
    events.enable_rule(Name="orders")
    events.put_events(Entries=[_order({"id": 2})])
    assert [e["detail"]["id"] for e in wait_for_events(aws, "recorder", 1)] == [2]
    wait_until(lambda: invocations(aws, "recorder"), what="the invocation")
    assert len(flow(aws, "event")) == 1


def test_a_schedule_rule_matches_no_event_on_the_bus(aws, lam, events, recorder) -> None:
    rule_arn = _rule(events, "every-day", recorder, ScheduleExpression="rate(1 day)")
    allow(lam, "recorder", "events.amazonaws.com", rule_arn)
    events.put_events(Entries=[_order({"id": 1})])
    use_virtual_clock(aws)
    advance(aws, 5)
    assert invocations(aws, "recorder") == []


def test_input_input_path_and_input_transformer(aws, lam, events, role) -> None:
    for name in ("constant", "path", "transformed"):
        create_recorder(lam, name, role)
    rule_arn = events.put_rule(Name="orders", EventPattern=json.dumps(ORDERS))["RuleArn"]
    arn = f"arn:aws:lambda:us-east-1:{aws.state['account_id']}:function:"
    events.put_targets(Rule="orders", Targets=[
        {"Id": "constant", "Arn": arn + "constant", "Input": json.dumps({"always": "the same"})},
        {"Id": "path", "Arn": arn + "path", "InputPath": "$.detail"},
        {"Id": "transformed", "Arn": arn + "transformed", "InputTransformer": {
            "InputPathsMap": {"order": "$.detail.id", "kind": "$.detail-type"},
            "InputTemplate": '{"summary": "<kind> number <order>", "order": <order>}'}},
    ])
    for name in ("constant", "path", "transformed"):
        allow(lam, name, "events.amazonaws.com", rule_arn)
    events.put_events(Entries=[_order({"id": 42, "total": 1})])
    assert wait_for_events(aws, "constant", 1)[0] == {"always": "the same"}
    assert wait_for_events(aws, "path", 1)[0] == {"id": 42, "total": 1}
    assert wait_for_events(aws, "transformed", 1)[0] == {"summary": "Order Placed number 42", "order": 42}


# --- failures -----------------------------------------------------------------------------------

def test_without_permission_the_event_goes_to_the_targets_dead_letter_queue(aws, lam, events, recorder) -> None:
    queue_url, queue_arn = _sqs_queue(aws, "undelivered")
    rule_arn = events.put_rule(Name="orders", EventPattern=json.dumps(ORDERS))["RuleArn"]
    events.put_targets(Rule="orders", Targets=[{"Id": "target", "Arn": recorder,
                                                "DeadLetterConfig": {"Arn": queue_arn}}])
    events.put_events(Entries=[_order({"id": 9})])
    dropped = wait_until(lambda: flow(aws, "dropped"), what="the dropped event in the flow")
    assert (dropped[0]["source"], dropped[0]["target"], dropped[0]["ok"]) == ("events:orders", "lambda:recorder", False)
    sqs = aws.client("sqs")
    message = wait_until(lambda: sqs.receive_message(QueueUrl=queue_url, MessageAttributeNames=["All"]).get("Messages"),
                         what="the dead letter")[0]
    assert json.loads(message["Body"])["detail"] == {"id": 9}
    attributes = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == rule_arn
    assert attributes["TARGET_ARN"] == recorder
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
    assert invocations(aws, "recorder") == []


def test_a_permission_for_another_rule_does_not_count(aws, lam, events, recorder) -> None:
    _rule(events, "orders", recorder, EventPattern=json.dumps(ORDERS))
    allow(lam, "recorder", "events.amazonaws.com",
          f"arn:aws:events:us-east-1:{aws.state['account_id']}:rule/another-rule")
    events.put_events(Entries=[_order({"id": 1})])
    wait_until(lambda: flow(aws, "dropped"), what="the dropped event in the flow")
    assert invocations(aws, "recorder") == []


def test_a_failing_function_is_retried_twice_by_the_async_queue(aws, lam, events, recorder) -> None:
    rule_arn = _rule(events, "orders", recorder, EventPattern=json.dumps(ORDERS))
    allow(lam, "recorder", "events.amazonaws.com", rule_arn)
    use_virtual_clock(aws)
    events.put_events(Entries=[_order({"please": "fail"})])
    advance(aws, 1)
    advance(aws, 60)
    advance(aws, 120)
    advance(aws, 3600)
    assert len(invocations(aws, "recorder")) == 3
    assert len({e["id"] for e in received(aws, "recorder")}) == 1


def test_events_a_lambda_destination_puts_on_the_bus_reach_rules(aws, lam, iam, events, recorder) -> None:
    from support import create_function, create_role

    bus_arn = f"arn:aws:events:us-east-1:{aws.state['account_id']}:event-bus/default"
    sender_role = create_role(iam, "sender-role", inline={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "events:PutEvents", "Resource": bus_arn}]})
    create_function(lam, "sender", "def handler(event, context):\n    return {'sent': event['n']}\n", sender_role)
    lam.put_function_event_invoke_config(FunctionName="sender",
                                         DestinationConfig={"OnSuccess": {"Destination": bus_arn}})
    pattern = {"source": ["lambda"], "detail-type": ["Lambda Function Invocation Result - Success"]}
    rule_arn = _rule(events, "successes", recorder, EventPattern=json.dumps(pattern))
    allow(lam, "recorder", "events.amazonaws.com", rule_arn)
    lam.invoke(FunctionName="sender", InvocationType="Event", Payload=json.dumps({"n": 5}))
    event = wait_for_events(aws, "recorder", 1)[0]
    assert (event["source"], event["detail-type"]) == ("lambda", "Lambda Function Invocation Result - Success")
    assert event["detail"]["responsePayload"] == {"sent": 5}
    assert event["detail"]["requestContext"]["condition"] == "Success"


# --- schedules ----------------------------------------------------------------------------------

def _runs(aws, name: str = "recorder") -> list[str]:
    return [e["time"] for e in received(aws, name)]


def test_a_rate_schedule_fires_one_period_after_creation(aws, lam, events, recorder) -> None:
    use_virtual_clock(aws, start=NEW_YEAR_2030)
    rule_arn = _rule(events, "every-5", recorder, ScheduleExpression="rate(5 minutes)")
    allow(lam, "recorder", "events.amazonaws.com", rule_arn)
    advance(aws, 299)
    assert invocations(aws, "recorder") == []
    report = advance(aws, 15 * 60 - 299)
    assert [f["name"] for f in report["fired"]].count("schedule every-5") == 3
    assert _runs(aws) == ["2030-01-01T00:05:00Z", "2030-01-01T00:10:00Z", "2030-01-01T00:15:00Z"]
    event = received(aws, "recorder")[0]
    assert_same_shape(event, "sam-templates/cloudwatch-ScheduledEvent.json", ignore={"$.version"})
    # AWS's docs sample writes detail-type as "detailType" and leaves out version; EventBridge sends both as here.
    assert_same_shape(event, "aws-docs/cloudwatch-scheduled.json", ignore={"$.version", "$.detail-type",
                                                                           "$.detailType"})
    assert (event["detail-type"], event["source"], event["resources"], event["detail"]) == (
        "Scheduled Event", "aws.events", [rule_arn], {})


def test_a_cron_schedule_fires_at_its_minutes(aws, lam, events, recorder) -> None:
    use_virtual_clock(aws, start=NEW_YEAR_2030)
    rule_arn = _rule(events, "noon", recorder, ScheduleExpression="cron(0 12 * * ? *)")
    allow(lam, "recorder", "events.amazonaws.com", rule_arn)
    advance(aws, 3 * 86_400)
    assert _runs(aws) == ["2030-01-01T12:00:00Z", "2030-01-02T12:00:00Z", "2030-01-03T12:00:00Z"]


def test_cron_days_of_the_week_count_from_sunday_as_one(aws, lam, events, recorder) -> None:
    use_virtual_clock(aws, start=NEW_YEAR_2030)
    rule_arn = _rule(events, "weekdays", recorder, ScheduleExpression="cron(30 8 ? * 2-6 *)")  # MON-FRI
    allow(lam, "recorder", "events.amazonaws.com", rule_arn)
    advance(aws, 7 * 86_400)
    days = [datetime.fromisoformat(t.replace("Z", "+00:00")).strftime("%a %H:%M") for t in _runs(aws)]
    assert days == ["Tue 08:30", "Wed 08:30", "Thu 08:30", "Fri 08:30", "Mon 08:30"]


@pytest.mark.parametrize("expression", ["rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "rate(1 week)",
                                        "cron(0 12 * * *)", "cron(0 12 * * * *)", "cron(0 12 ? * ? *)",
                                        "cron(0 25 * * ? *)", "cron(0 12 ? * 8 *)", "every day"])
def test_invalid_schedule_expressions_are_refused(aws, events, expression) -> None:
    with pytest.raises(ClientError) as refused:
        events.put_rule(Name="bad", ScheduleExpression=expression)
    error = refused.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("ValidationException", "Parameter ScheduleExpression is not valid.")
    assert events.list_rules()["Rules"] == []


def test_disable_enable_remove_targets_and_delete_stop_a_schedule(aws, lam, events, recorder) -> None:
    use_virtual_clock(aws, start=NEW_YEAR_2030)
    rule_arn = _rule(events, "minutely", recorder, ScheduleExpression="rate(1 minute)")
    allow(lam, "recorder", "events.amazonaws.com", rule_arn)
    advance(aws, 120)
    assert len(invocations(aws, "recorder")) == 2
    events.disable_rule(Name="minutely")
    advance(aws, 600)
    assert len(invocations(aws, "recorder")) == 2
    events.enable_rule(Name="minutely")
    advance(aws, 120)
    assert len(invocations(aws, "recorder")) == 4
    events.remove_targets(Rule="minutely", Ids=["target"])
    advance(aws, 600)
    assert len(invocations(aws, "recorder")) == 4
    events.delete_rule(Name="minutely")
    pending = aws.admin("GET", "/lambdalab/clock")["pending"]
    assert not [timer for timer in pending if timer["name"] == "schedule minutely"]


def test_a_schedule_can_feed_a_queue(aws, events) -> None:
    queue_url, queue_arn = _sqs_queue(aws, "ticks")
    use_virtual_clock(aws, start=NEW_YEAR_2030)
    events.put_rule(Name="tick", ScheduleExpression="rate(1 hour)")
    events.put_targets(Rule="tick", Targets=[{"Id": "queue", "Arn": queue_arn}])
    advance(aws, 2 * 3600)
    sqs = aws.client("sqs")
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]]
    assert sorted(b["time"] for b in bodies) == ["2030-01-01T01:00:00Z", "2030-01-01T02:00:00Z"]
    assert {b["detail-type"] for b in bodies} == {"Scheduled Event"}


def test_a_day_of_a_minutely_schedule_runs_every_minute_in_order(aws, lam, events, recorder) -> None:
    """The issue's clock test: one day of rate(1 minute) is 1,440 invocations, in order, on one advance.
    (How long it takes is measured in benchmarks/bench_schedule_day.py, never asserted here.)"""
    use_virtual_clock(aws, start=NEW_YEAR_2030)
    rule_arn = _rule(events, "minutely", recorder, ScheduleExpression="rate(1 minute)")
    allow(lam, "recorder", "events.amazonaws.com", rule_arn)
    report = advance(aws, 86_400)
    fired = [f["at"] for f in report["fired"] if f["name"] == "schedule minutely"]
    assert fired == [NEW_YEAR_2030 + 60 * n for n in range(1, 1_441)]
    assert len(invocations(aws, "recorder")) == 1_440
    times = _runs(aws)
    expected = [datetime.fromtimestamp(NEW_YEAR_2030 + 60 * n, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                for n in range(1, 1_441)]
    assert times == expected  # every minute once, and the function saw them in order
