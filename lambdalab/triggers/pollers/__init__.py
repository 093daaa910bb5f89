"""Lambda's pollers: what reads a queue or a stream for an event source mapping and invokes its function.

On AWS an event source mapping is a resource of Lambda's own, and the pollers behind it are
Lambda's, not the queue's: they receive a batch, invoke the function synchronously, and decide
from the answer what becomes of the batch (deleted, left to reappear, retried, split, skipped).
One poller runs per mapping, for the mapping's whole life; disabling it only stops it reading.

- mapping.py: the mapping's configuration, as the API reports it
- validation.py: CreateEventSourceMapping's and UpdateEventSourceMapping's checks, in AWS's words
- base.py: the poller's loop, its wake-ups on the cloud clock, and its busy check
- sqs_queue.py: moto's SQS made safe for a poller (locks, the cloud clock, wake-ups, redrive)
- sqs.py: the SQS poller and its event
- stream_sources.py: Kinesis and DynamoDB Streams as a poller reads them, and their events
- streams.py: the stream poller: per shard, in order, retries, bisection, skipping
- batch_responses.py: ReportBatchItemFailures answers
- failure_destinations.py: the on-failure record of a stream batch that was given up on
"""
