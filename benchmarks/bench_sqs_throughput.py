"""SQS to Lambda through an event source mapping, against the same function invoked directly.

Baseline: the function invoked directly through boto3, one invoke after another (1,000 by
default), each with an SQS-shaped event of BatchSize records, so an invoke carries what a batch
carries. Mapping: 10,000 messages sent to a queue while its mapping is disabled, then the
mapping is enabled and timed until the function has seen every message and the queue is empty:
the pollers' own pace (receive, invoke, delete; five batches at a time), not the sender's.

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

        url = sqs.create_queue(QueueName="bench", Attributes={"VisibilityTimeout": str(VISIBILITY_TIMEOUT_S)})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        window = {"MaximumBatchingWindowInSeconds": 1} if batch_size > 10 else {}
        uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="worker", BatchSize=batch_size,
                                               Enabled=False, **window)["UUID"]
        send_started = time.perf_counter()
        sent = send_all(cloud, url, messages)
        send_s = time.perf_counter() - send_started

        started = time.perf_counter()
        lam.update_event_source_mapping(UUID=uuid, Enabled=True)
        deadline = time.monotonic() + max(600.0, messages / 5)
        while True:  # a message leaves the queue only once its batch, and the function's file, are done
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            left = int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
            if left == 0:
                break
            if time.monotonic() > deadline:
                raise Failure(f"after {time.perf_counter() - started:.0f} s, {left} messages are still in the queue")
            time.sleep(0.1)
        mapping_s = time.perf_counter() - started
    finally:
        cloud.stop()

    batches = [batch for batch in seen_batches(seen_dir) if batch and not batch[0][0].startswith("direct-")]
    counts = Counter(message_id for batch in batches for message_id, _ in batch)
    duplicates = {message_id: n for message_id, n in counts.items() if n > 1}
    redelivered = [message_id for batch in batches for message_id, receives in batch if receives > 1]
    lost = set(sent) - set(counts)
    if lost:
        raise Failure(f"{len(lost)} messages lost")
    if duplicates or redelivered:
        raise Failure(f"{len(duplicates)} messages processed more than once ({len(redelivered)} received again) in a "
                      "run without failures or visibility expiries: AWS would not deliver them twice")

    invokes_per_s = invokes / baseline_s
    messages_per_s = messages / mapping_s
    batches_per_s = len(batches) / mapping_s
    sizes = Counter(len(batch) for batch in batches)
    ratio = messages_per_s / invokes_per_s
    print(f"SQS -> Lambda through an event source mapping: {messages:,} messages, BatchSize {batch_size}")
    print(f"  baseline: {invokes:,} direct invokes, one after another, each with a {batch_size}-record SQS event: "
          f"{baseline_s:.1f} s = {invokes_per_s:.1f} invokes/s")
    print(f"  (sent {messages:,} messages with the mapping disabled in {send_s:.1f} s, {SENDERS} senders)")
    print(f"  mapping:  {messages:,} messages in {mapping_s:.1f} s = {messages_per_s:.1f} messages/s, "
          f"{len(batches):,} batches = {batches_per_s:.1f} batches/s (sizes {dict(sorted(sizes.items()))})")
    print(f"  checked: every message reached the function exactly once (AWS delivers at least once: again only "
          f"after a failure or a visibility timeout expiry, and this run had neither)")
    print(f"RESULT messages_per_s={messages_per_s:.1f} invokes_per_s={invokes_per_s:.1f} "
          f"batches_per_s={batches_per_s:.1f} RATIO messages/s / invokes/s = {ratio:.2f} "
          f"(batches/s / invokes/s = {batches_per_s / invokes_per_s:.2f})")
    path = write_results(NAME, {
        "messages": messages, "batch_size": batch_size, "invokes": invokes, "settings": settings,
        "baseline_s": baseline_s, "send_s": send_s, "mapping_s": mapping_s, "batches": len(batches),
        "batch_sizes": {str(size): n for size, n in sorted(sizes.items())},
        "invokes_per_s": invokes_per_s, "messages_per_s": messages_per_s, "batches_per_s": batches_per_s,
        "ratio_messages_per_invoke_rate": ratio, "lost": 0, "duplicates": 0})
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
