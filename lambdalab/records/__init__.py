"""What invocations leave behind: log streams in CloudWatch Logs (and later metrics and bills)."""
