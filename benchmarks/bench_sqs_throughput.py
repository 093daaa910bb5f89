"""SQS to Lambda through an event source mapping, against the same function invoked directly.

Baseline: the function invoked directly through boto3, one invoke after another (1,000 by
default), each with an SQS-shaped event of BatchSize records, so an invoke carries what a batch
carries. Mapping, twice, 10,000 messages each:
- preloaded (the RATIO): sent while the mapping is disabled, then timed from enabling it until
  the queue is empty: the pollers' own pace (receive, invoke, delete; five batches at a time);
- live: sent (from four threads) while the mapping reads, timed from the first send: sends,
  receives and deletes on the same queue at once, where a lost or doubled message would show.

The function writes the message ids (and ApproximateReceiveCount) of each batch to a file of its
own, so the run can check, afterwards, that no message was lost and none was processed twice.
AWS's rule is at-least-once: a message may be delivered again only after a failure or when its
visibility timeout runs out before the batch is deleted. This run has neither (the function never
fails and the visibility timeout is ten minutes), so any duplicate fails the run.

    .venv/bin/python benchmarks/bench_sqs_throughput.py [--messages 10000] [--batch-size 10]
        [--invokes 1000] [--setting sqs_poller_concurrency=5 ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (Failure, Home, create_function, create_role, run_main, setting_variables,  # noqa: E402
                    start_cloud, write_results)

NAME = "sqs_throughput"
SQS_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
VISIBILITY_TIMEOUT_S = 600
FUNCTION_CODE = """
import os

def handler(event, context):
    lines = [record["messageId"] + " " + record["attributes"]["ApproximateReceiveCount"] for record in event["Records"]]
    with open(os.path.join(os.environ["SEEN_DIR"], context.aws_request_id), "w") as seen:
        seen.write("\\n".join(lines))
    return {"processed": len(lines)}
"""
SENDERS = 4


def sqs_event(batch_size: int, number: int) -> bytes:
    """An SQS event of batch_size records, as the mapping would send (for the direct invokes)."""
    record = {"receiptHandle": "direct", "body": "x" * 40, "md5OfBody": "", "eventSource": "aws:sqs",
              "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:direct", "awsRegion": "us-east-1",
              "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0", "SenderId": "direct",
                             "ApproximateFirstReceiveTimestamp": "0"}, "messageAttributes": {}}
    return json.dumps({"Records": [{**record, "messageId": f"direct-{number}-{n}"} for n in range(batch_size)]}).encode()


def seen_batches(seen_dir: Path) -> list[list[tuple[str, int]]]:
    batches = []
    for path in seen_dir.iterdir():
        lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
        batches.append([(message_id, int(count)) for message_id, count in lines])
    return batches


def baseline(lam: object, invokes: int, batch_size: int) -> float:
    started = time.perf_counter()
    for number in range(invokes):
        response = lam.invoke(FunctionName="worker", Payload=sqs_event(batch_size, number))
        body = response["Payload"].read()
        if response.get("FunctionError"):
            raise Failure(f"a direct invoke failed: {body[:300]!r}")
    return time.perf_counter() - started


def send_all(cloud: object, url: str, messages: int) -> list[str]:
    """Send `messages` messages in batches of ten from a few threads; the ids SQS gave them."""
    ids: list[str] = []
    lock = threading.Lock()
    errors: list[str] = []

    def sender(start: int) -> None:
        sqs = cloud.client("sqs")
        for first in range(start * 10, messages, SENDERS * 10):
            entries = [{"Id": str(n), "MessageBody": f"message {n}"} for n in range(first, min(first + 10, messages))]
            answer = sqs.send_message_batch(QueueUrl=url, Entries=entries)
            if answer.get("Failed"):
                errors.append(str(answer["Failed"][:1]))
            with lock:
                ids.extend(entry["MessageId"] for entry in answer.get("Successful", []))

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors or len(ids) != messages:
        raise Failure(f"sending failed: {len(ids)} of {messages} sent; {errors[:1]}")
    return ids


@dataclass
class Phase:
    """One timed run through a mapping: its messages and how long they took to be processed."""

    name: str
    sent: list[str]
    seconds: float
    send_s: float
    batch_sizes: Counter = field(default_factory=Counter)

    @property
    def messages_per_s(self) -> float:
        return len(self.sent) / self.seconds

    @property
    def batches_per_s(self) -> float:
        return sum(self.batch_sizes.values()) / self.seconds


def new_mapping(lam: object, sqs: object, queue: str, batch_size: int, enabled: bool) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=queue, Attributes={"VisibilityTimeout": str(VISIBILITY_TIMEOUT_S)})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    window = {"MaximumBatchingWindowInSeconds": 1} if batch_size > 10 else {}
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="worker", BatchSize=batch_size,
                                           Enabled=enabled, **window)["UUID"]
    return url, uuid


def wait_until_drained(sqs: object, url: str, messages: int) -> None:
    """A message leaves the queue only once its batch (and the function's file of it) is done."""
    deadline = time.monotonic() + max(600.0, messages / 5)
    while True:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        left = int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
        if left == 0:
            return
        if time.monotonic() > deadline:
            raise Failure(f"{left} messages are still in the queue")
        time.sleep(0.1)


def preloaded(cloud: object, lam: object, sqs: object, messages: int, batch_size: int) -> Phase:
    """Messages sent while the mapping is disabled, then timed from enabling it: the pollers' own pace."""
    url, uuid = new_mapping(lam, sqs, "preloaded", batch_size, enabled=False)
    send_started = time.perf_counter()
    sent = send_all(cloud, url, messages)
    send_s = time.perf_counter() - send_started
    started = time.perf_counter()
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    wait_until_drained(sqs, url, messages)
    return Phase("preloaded", sent, time.perf_counter() - started, send_s)


def live(cloud: object, lam: object, sqs: object, messages: int, batch_size: int) -> Phase:
    """Messages sent while the mapping reads: from the first send to the last message processed."""
    url, _ = new_mapping(lam, sqs, "live", batch_size, enabled=True)
    started = time.perf_counter()
    sent = send_all(cloud, url, messages)
    send_s = time.perf_counter() - started
    wait_until_drained(sqs, url, messages)
    return Phase("live", sent, time.perf_counter() - started, send_s)


def check(phase: Phase, batches: list[list[tuple[str, int]]]) -> None:
    """Every message of the phase processed exactly once; its batches' sizes recorded."""
    wanted = set(phase.sent)
    mine = [batch for batch in batches if batch and batch[0][0] in wanted]
    counts = Counter(message_id for batch in mine for message_id, _ in batch)
    lost = wanted - set(counts)
    duplicates = [message_id for message_id, n in counts.items() if n > 1]
    redelivered = [message_id for batch in mine for message_id, receives in batch if receives > 1]
    if lost:
        raise Failure(f"{phase.name}: {len(lost)} messages lost")
    if duplicates or redelivered:
        raise Failure(f"{phase.name}: {len(duplicates)} messages processed more than once ({len(redelivered)} "
                      "received again) in a run without failures or visibility expiries: AWS would not deliver them twice")
    phase.batch_sizes = Counter(len(batch) for batch in mine)


def run(home: Home, messages: int, batch_size: int, invokes: int, settings: dict[str, str]) -> None:
    seen_dir = home.sub("seen")
    seen_dir.mkdir(parents=True)
    cloud = start_cloud(home.sub("cloud"), settings)
    try:
        lam, sqs = cloud.client("lambda"), cloud.client("sqs")
        role = create_role(cloud.client("iam"), managed=(BASIC_EXECUTION, SQS_EXECUTION))
        create_function(lam, "worker", FUNCTION_CODE, role, Timeout=60,
                        Environment={"Variables": {"SEEN_DIR": str(seen_dir)}})
        lam.invoke(FunctionName="worker", Payload=sqs_event(batch_size, -1))  # warm
        baseline_s = baseline(lam, invokes, batch_size)
        phases = [preloaded(cloud, lam, sqs, messages, batch_size), live(cloud, lam, sqs, messages, batch_size)]
    finally:
        cloud.stop()
    batches = seen_batches(seen_dir)
    for phase in phases:
        check(phase, batches)

    invokes_per_s = invokes / baseline_s
    print(f"SQS -> Lambda through an event source mapping: {messages:,} messages, BatchSize {batch_size}")
    print(f"  baseline: {invokes:,} direct invokes, one after another, each with a {batch_size}-record SQS event: "
          f"{baseline_s:.1f} s = {invokes_per_s:.1f} invokes/s")
    for phase in phases:
        how = ("sent first (mapping disabled) in {:.1f} s, timed from enabling it" if phase.name == "preloaded"
               else "sent while the mapping reads ({:.1f} s of sending), timed from the first send").format(phase.send_s)
        print(f"  {phase.name + ':':11} {phase.messages_per_s:7.1f} messages/s, {phase.batches_per_s:6.1f} batches/s "
              f"({messages:,} in {phase.seconds:.1f} s; {how}; batch sizes {dict(sorted(phase.batch_sizes.items()))})")
    print("  checked: every message reached the function exactly once (AWS delivers at least once: again only "
          "after a failure or a visibility timeout expiry, and this run had neither)")
    main_phase = phases[0]
    ratio = main_phase.messages_per_s / invokes_per_s
    print(f"RESULT messages_per_s={main_phase.messages_per_s:.1f} live_messages_per_s={phases[1].messages_per_s:.1f} "
          f"invokes_per_s={invokes_per_s:.1f} RATIO messages/s / invokes/s = {ratio:.2f} "
          f"(batches/s / invokes/s = {main_phase.batches_per_s / invokes_per_s:.2f})")
    path = write_results(NAME, {
        "messages": messages, "batch_size": batch_size, "invokes": invokes, "settings": settings,
        "baseline_s": baseline_s, "invokes_per_s": invokes_per_s, "ratio_messages_per_invoke_rate": ratio,
        "phases": {phase.name: {"seconds": phase.seconds, "send_s": phase.send_s,
                                "messages_per_s": phase.messages_per_s, "batches_per_s": phase.batches_per_s,
                                "batch_sizes": {str(size): n for size, n in sorted(phase.batch_sizes.items())}}
                   for phase in phases},
        "lost": 0, "duplicates": 0})
    print(f"(results in {path})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--invokes", type=int, default=1_000)
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    settings = setting_variables(args.setting)
    return run_main(NAME, lambda home: run(home, args.messages, args.batch_size, args.invokes, settings))


if __name__ == "__main__":
    sys.exit(main())
