"""The same small function in every language of the course, for the runtime tests and benchmarks.

Each one counts its invokes in a global (cold vs warm), logs a line, and does what the event's
"action" asks: nothing (answers with its context and reserved environment variables), "fail"
(an unhandled error), "sleep" (for event["seconds"]), "hog" (holds event["mb"] MB of memory).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from support import make_zip

RESERVED = ["_HANDLER", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
            "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "TZ"]
_NAMES_JSON = "[" + ", ".join(f'"{name}"' for name in RESERVED) + "]"

PYTHON = f"""
import os, time
COUNT = 0
print("init")

def handler(event, context):
    global COUNT
    COUNT += 1
    print("handling", event)
    action = event.get("action")
    if action == "fail":
        raise ValueError("asked to fail")
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "hog":
        kept = [bytearray(b"x" * (1 << 20)) for _ in range(event["mb"])]
        return len(kept)
    return {{"count": COUNT, "event": event, "functionName": context.function_name,
            "requestId": context.aws_request_id, "memory": int(context.memory_limit_in_mb),
            "env": {{name: os.environ.get(name) for name in {_NAMES_JSON}}}}}
"""

NODE = f"""
let count = 0;
console.log('init');
exports.handler = async (event, context) => {{
  count += 1;
  console.log('handling', JSON.stringify(event));
  if (event.action === 'fail') throw new Error('asked to fail');
  if (event.action === 'sleep') await new Promise((resolve) => setTimeout(resolve, event.seconds * 1000));
  if (event.action === 'hog') {{
    const kept = [];
    for (let i = 0; i < event.mb; i++) kept.push(Buffer.alloc(1 << 20, 1));
    return kept.length;
  }}
  const env = {{}};
  for (const name of {_NAMES_JSON}) env[name] = process.env[name] ?? null;
  return {{ count, event, functionName: context.functionName, requestId: context.awsRequestId,
           memory: Number(context.memoryLimitInMB), env }};
}};
"""

RUBY = f"""
require 'json'
$count = 0
puts 'init'

def handler(event:, context:)
  $count += 1
  puts "handling #{{event.to_json}}"
  case event['action']
  when 'fail' then raise 'asked to fail'
  when 'sleep' then sleep(event['seconds'])
  when 'hog' then return Array.new(event['mb']) {{ 'x' * (1 << 20) }}.size
  end
  {{ 'count' => $count, 'event' => event, 'functionName' => context.function_name,
    'requestId' => context.aws_request_id, 'memory' => context.memory_limit_in_mb.to_i,
    'env' => {_NAMES_JSON}.to_h {{ |name| [name, ENV[name]] }} }}
end
"""

JAVA = f"""
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

public class Handler implements RequestHandler<Map<String, Object>, Object> {{
    private static int count = 0;
    private static final String[] NAMES = {{{", ".join(f'"{name}"' for name in RESERVED)}}};

    static {{
        System.out.println("init");
    }}

    @Override
    public Object handleRequest(Map<String, Object> event, Context context) {{
        count += 1;
        context.getLogger().log("handling " + event);
        Object action = event.get("action");
        if ("fail".equals(action)) {{
            throw new IllegalStateException("asked to fail");
        }}
        if ("sleep".equals(action)) {{
            try {{
                Thread.sleep(((Number) event.get("seconds")).longValue() * 1000);
            }} catch (InterruptedException e) {{
                Thread.currentThread().interrupt();
            }}
        }}
        if ("hog".equals(action)) {{
            List<byte[]> kept = new ArrayList<>();
            for (int i = 0; i < ((Number) event.get("mb")).intValue(); i++) {{
                byte[] block = new byte[1 << 20];
                java.util.Arrays.fill(block, (byte) 1);
                kept.add(block);
            }}
            return kept.size();
        }}
        Map<String, Object> env = new HashMap<>();
        for (String name : NAMES) {{
            env.put(name, System.getenv(name));
        }}
        Map<String, Object> answer = new HashMap<>();
        answer.put("count", count);
        answer.put("event", event);
        answer.put("functionName", context.getFunctionName());
        answer.put("requestId", context.getAwsRequestId());
        answer.put("memory", context.getMemoryLimitInMB());
        answer.put("env", env);
        return answer;
    }}
}}
"""

GO = f"""package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

var count = 0
var kept [][]byte

func init() {{ fmt.Println("init") }}

func handler(ctx context.Context, event map[string]interface{{}}) (interface{{}}, error) {{
	count++
	fmt.Println("handling", event)
	switch event["action"] {{
	case "fail":
		return nil, errors.New("asked to fail")
	case "sleep":
		time.Sleep(time.Duration(event["seconds"].(float64) * float64(time.Second)))
	case "hog":
		for i := 0; i < int(event["mb"].(float64)); i++ {{
			block := make([]byte, 1<<20)
			for j := range block {{
				block[j] = 1
			}}
			kept = append(kept, block)
		}}
		return len(kept), nil
	}}
	lc, _ := lambdacontext.FromContext(ctx)
	env := map[string]interface{{}}{{}}
	for _, name := range []string{_NAMES_JSON.replace("[", "{").replace("]", "}")} {{
		if value, ok := os.LookupEnv(name); ok {{
			env[name] = value
		}} else {{
			env[name] = nil
		}}
	}}
	memory, _ := strconv.Atoi(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
	return map[string]interface{{}}{{"count": count, "event": event, "functionName": lambdacontext.FunctionName,
		"requestId": lc.AwsRequestID, "memory": memory, "env": env}}, nil
}}

func main() {{ lambda.Start(handler) }}
"""

# The custom runtime of AWS's own tutorial: a bootstrap that polls the Runtime API with curl and
# runs a shell function named by the handler ("function.handler": handler() in function.sh).
SHELL_BOOTSTRAP = """#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
. "$LAMBDA_TASK_ROOT/$(echo "$_HANDLER" | cut -d. -f1).sh"
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -LD "$HEADERS" "$API/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  rm -f "$HEADERS"
  RESPONSE=$($(echo "$_HANDLER" | cut -d. -f2) "$EVENT")
  curl -sS -X POST "$API/$REQUEST_ID/response" -d "$RESPONSE" > /dev/null
done
"""
SHELL_FUNCTION = """handler () {
  EVENT="$1"
  echo "handling $EVENT" 1>&2
  echo "{\\"echo\\": $EVENT, \\"runtime\\": \\"$AWS_EXECUTION_ENV\\"}"
}
"""


@dataclass(frozen=True)
class Sample:
    """One language's version of the function: how to deploy it, and its runtime's failure type."""

    language: str
    runtime: str
    handler: str
    build: Callable[[Path], bytes]
    error_type: str


def _java_zip(cache: Path) -> bytes:
    from lambdalab.toolchains.java_build import build_java_zip

    return build_java_zip({"example/Handler.java": JAVA}, cache)


def _go_zip(cache: Path) -> bytes:
    from lambdalab.toolchains.go_build import build_go_zip

    return build_go_zip(GO)


def shell_zip(cache: Path | None = None) -> bytes:
    return make_zip({"bootstrap": SHELL_BOOTSTRAP, "function.sh": SHELL_FUNCTION}, {"bootstrap": 0o755})


SAMPLES = {
    "python": Sample("Python", "python3.12", "lambda_function.handler",
                     lambda cache: make_zip({"lambda_function.py": PYTHON}), "ValueError"),
    "node": Sample("Node.js", "nodejs20.x", "index.handler", lambda cache: make_zip({"index.js": NODE}), "Error"),
    "ruby": Sample("Ruby", "ruby3.3", "lambda_function.handler",
                   lambda cache: make_zip({"lambda_function.rb": RUBY}), "Function<RuntimeError>"),
    "java": Sample("Java", "java21", "example.Handler::handleRequest", _java_zip, "java.lang.IllegalStateException"),
    "go": Sample("Go", "provided.al2023", "bootstrap", _go_zip, "errorString"),
}
