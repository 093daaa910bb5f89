"""What invocations leave behind: log streams in CloudWatch Logs, AWS/Lambda metrics, the billing meter and its bills."""
