"""The account survives a crash (kill -9), a clean stop and a restart; reset empties what is kept;
a corrupted saved account is set aside with one line, never a crash.

Each test starts clouds of its own on a home of its own (the module's shared cloud would not do:
these tests kill and restart it)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from support import (TestCloud, advance, create_function, create_role, flow, invocations, invoke_json, make_queue,
                     pending_timers, start_cloud, use_virtual_clock, wait_until)

CODE = "def handler(event, context):\n    return {'echo': event, 'from': 'saved'}\n"
SQS_READ = {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}


def account_file(home: Path) -> Path:
    return home / "account.pickle"


def wait_saved(cloud: TestCloud) -> None:
    """The debounced writer has written everything so far (no change is pending)."""
    wait_until(lambda: not cloud.admin("GET", "/lambdalab/account")["pending"], timeout_s=20,
               what="the account written to disk")


def kill_hard(cloud: TestCloud) -> None:
    cloud.process.send_signal(signal.SIGKILL)
    cloud.process.wait(timeout=10)


def build_account(cloud: TestCloud) -> dict:
    """A small account of every kind: what must come back."""
    iam, lam = cloud.client("iam"), cloud.client("lambda")
    role = create_role(iam, inline=SQS_READ)
    create_function(lam, "saved-fn", CODE, role)
    lam.publish_version(FunctionName="saved-fn")
    lam.create_alias(FunctionName="saved-fn", Name="live", FunctionVersion="1")
    ddb = cloud.client("dynamodb")
    ddb.create_table(TableName="saved-table", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    for index in range(3):
        ddb.put_item(TableName="saved-table", Item={"id": {"S": f"item-{index}"}})
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="saved-bucket")
    s3.put_object(Bucket="saved-bucket", Key="hello.txt", Body=b"hello, disk")
    sqs = cloud.client("sqs")
    url, arn = make_queue(sqs, "saved-queue")
    for index in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=f"message {index}")
    mapping = lam.create_event_source_mapping(FunctionName="saved-fn", EventSourceArn=arn, Enabled=False)
    invoke_json(lam, "saved-fn", {"n": 1})
    return {"role": role, "queue_url": url, "mapping": mapping["UUID"]}


def assert_account_back(cloud: TestCloud, built: dict) -> None:
    lam = cloud.client("lambda")
    assert lam.get_function(FunctionName="saved-fn")["Configuration"]["Role"] == built["role"]
    assert lam.get_alias(FunctionName="saved-fn", Name="live")["FunctionVersion"] == "1"
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="saved-fn")["Versions"]] == ["$LATEST", "1"]
    _, answer = invoke_json(lam, "saved-fn", {"n": 2})
    assert answer == {"echo": {"n": 2}, "from": "saved"}
    _, answer = invoke_json(lam, "saved-fn", {"n": 3}, Qualifier="live")
    assert answer["from"] == "saved"
    assert cloud.client("iam").get_role(RoleName="lambda-role")["Role"]["Arn"] == built["role"]
    assert cloud.client("dynamodb").scan(TableName="saved-table")["Count"] == 3
    assert cloud.client("s3").get_object(Bucket="saved-bucket", Key="hello.txt")["Body"].read() == b"hello, disk"
    attributes = cloud.client("sqs").get_queue_attributes(QueueUrl=built["queue_url"],
                                                         AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "2"
    mapping = lam.get_event_source_mapping(UUID=built["mapping"])
    assert mapping["State"] == "Disabled" and mapping["FunctionArn"].endswith(":saved-fn")
    invoked = [record for record in cloud.admin("GET", "/lambdalab/invocations")
               if record["function_name"] == "saved-fn"]
    assert len(invoked) >= 3  # the one before the restart is in the history too


def test_the_account_survives_kill_9(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = start_cloud(home)
    try:
        built = build_account(first)
        wait_saved(first)
        keys = first.state["access_key_id"]
        kill_hard(first)
    finally:
        first.stop()
    assert os.stat(account_file(home)).st_mode & 0o777 == 0o600
    second = start_cloud(home)
    try:
        assert second.state["access_key_id"] == keys  # the kernel's keys still work
        message = second.state["restored"]
        assert message.startswith("Restored your account: 1 function, 1 role, 1 table (3 items), "
                                  "1 queue (2 messages), 1 bucket (1 object)"), message
        assert "1 event source mapping" in message
        assert message in (home / "cloud.log").read_text()
        assert_account_back(second, built)
    finally:
        second.stop()


def test_a_clean_stop_keeps_the_account_and_reset_empties_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = start_cloud(home)
    try:
        lam = first.client("lambda")
        role = create_role(first.client("iam"))
        create_function(lam, "kept", CODE, role)
        invoke_json(lam, "kept", {})
    finally:
        first.stop()  # SIGTERM: the last write happens on the way out, no waiting for the debounce
    second = start_cloud(home)
    try:
        assert second.state["restored"].startswith("Restored your account: 1 function, 1 role")
        assert second.client("lambda").get_function(FunctionName="kept")
        bill = [record for record in second.admin("GET", "/lambdalab/invocations") if record["function_name"] == "kept"]
        assert len(bill) == 1
        second.reset()
        assert not account_file(home).exists() or "kept" not in account_file(home).read_bytes().decode("latin-1")
    finally:
        second.stop()
    third = start_cloud(home)
    try:
        assert third.client("lambda").list_functions()["Functions"] == []
        assert not third.client("iam").list_roles()["Roles"]
        assert "kept" not in third.state["restored"]
    finally:
        third.stop()


def test_a_corrupted_saved_account_is_set_aside(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    account_file(home).write_bytes(b"\x80\x05 this is not a pickle")
    cloud = start_cloud(home)
    try:
        message = cloud.state["restored"]
        assert "could not be read" in message and "set aside as account.pickle.broken-" in message
        assert len(message.splitlines()) == 1
        assert list(home.glob("account.pickle.broken-*"))
        assert cloud.client("lambda").list_functions()["Functions"] == []  # the cloud works, empty
    finally:
        cloud.stop()


def test_the_notebook_shows_what_was_restored(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """lambdalab.start() prints the cloud's line when it started a cloud that restored an account."""
    import lambdalab
    from lambdalab.client import control

    home = tmp_path / "home"
    monkeypatch.setenv("LAMBDALAB_HOME", str(home))
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_CONFIG_FILE",
                 "AWS_SHARED_CREDENTIALS_FILE", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    current = lambdalab.start(quiet=True)
    try:
        import boto3

        boto3.client("sqs", endpoint_url=current.endpoint).create_queue(QueueName="remembered")
    finally:
        control.stop(home)
    lambdalab.start()
    try:
        said = capsys.readouterr().out
        assert "Restored your account: 1 queue (0 messages)." in said
        lambdalab.start()
        assert "Restored" not in capsys.readouterr().out  # said once, by the start that started it
    finally:
        control.stop(home)
        boto3.DEFAULT_SESSION = None
    assert json.loads((home / "credentials.json").read_text())["access_key_id"] == current.access_key_id


FAILING = "def handler(event, context):\n    raise RuntimeError('not yet')\n"


def test_a_retry_waiting_at_the_crash_still_runs_and_the_event_flow_is_kept(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = start_cloud(home)
    try:
        use_virtual_clock(first)
        lam = first.client("lambda")
        create_function(lam, "flaky", FAILING, create_role(first.client("iam")))
        request_id = lam.invoke(FunctionName="flaky", InvocationType="Event", Payload=b'{"n": 1}')[
            "ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
        wait_until(lambda: len(invocations(first, "flaky")) == 1, what="the first attempt")
        wait_until(lambda: any("flaky" in name for name in pending_timers(first)), what="the retry booked")
        steps_before = [step["sequence"] for step in flow(first)]
        wait_saved(first)
        kill_hard(first)
    finally:
        first.stop()
    second = start_cloud(home)
    try:
        assert "1 asynchronous event still to run" in second.state["restored"]
        assert [step["sequence"] for step in flow(second)][:len(steps_before)] == steps_before
        advance(second, 61)  # the first retry is one minute after the first attempt
        wait_until(lambda: len(invocations(second, "flaky")) == 2, what="the retry after the restart")
        assert {record["request_id"] for record in invocations(second, "flaky")} == {request_id}
    finally:
        second.stop()
