"""HTTP requests through a function URL and an HTTP API, against the same function invoked directly.

One fresh local cloud, one Python function returning {"statusCode": 200, "body": "ok"}, kept
warm. Baseline: boto3 lambda.invoke of it (the Invoke API through moto). Measured: requests.get
of its function URL (AuthType NONE) and of an HTTP API's $default route in front of it, on the
local front door. Rounds of the three alternate, so drift of a busy machine falls on all alike.
What the ratio shows is what the front door adds: the request parsed, the policy read, the
payload 2.0 event built and the result mapped back to HTTP.

    .venv/bin/python benchmarks/bench_http.py [--requests 300] [--warmup 20] [--rounds 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (Failure, Home, create_function, create_role, ms, run_main, setting_variables,  # noqa: E402
                    start_cloud, summary, write_results)

NAME = "http"
CODE = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"
ACCOUNT = "123456789012"


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def run(home: Home, count: int, warmup: int, rounds: int, settings: dict[str, str]) -> None:
    cloud = start_cloud(home.sub("cloud"), settings)
    try:
        lam = cloud.client("lambda")
        create_function(lam, "web", CODE, create_role(cloud.client("iam")))
        url = lam.create_function_url_config(FunctionName="web", AuthType="NONE")["FunctionUrl"]
        lam.add_permission(FunctionName="web", StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                           FunctionUrlAuthType="NONE")
        lam.add_permission(FunctionName="web", StatementId="invoke", Action="lambda:InvokeFunction", Principal="*",
                           InvokedViaFunctionUrl=True)
        api = cloud.client("apigatewayv2").create_api(
            Name="web", ProtocolType="HTTP", Target=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:web")
        lam.add_permission(FunctionName="web", StatementId="api", Action="lambda:InvokeFunction",
                           Principal="apigateway.amazonaws.com",
                           SourceArn=f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{api['ApiId']}/*")
        session = requests.Session()

        def direct() -> None:
            response = lam.invoke(FunctionName="web", Payload=b"{}")
            if response.get("FunctionError") or b"ok" not in response["Payload"].read():
                raise Failure("the direct invoke failed")

        def through(address: str) -> None:
            response = session.get(address, timeout=60)
            if response.status_code != 200 or response.text != "ok":
                raise Failure(f"GET {address} answered {response.status_code} {response.text[:200]}")

        calls = {"direct": direct, "url": lambda: through(url + "items?x=1"),
                 "http_api": lambda: through(api["ApiEndpoint"] + "/items?x=1")}
        for _ in range(warmup):
            for call in calls.values():
                call()
        times: dict[str, list[float]] = {label: [] for label in calls}
        per_round = max(1, count // rounds)
        labels = list(calls)
        for number in range(rounds):
            for label in labels[number % 3:] + labels[:number % 3]:
                times[label] += [timed(calls[label]) for _ in range(per_round)]
        environments = cloud.admin("GET", "/lambdalab/environments")
    finally:
        cloud.stop()

    stats = {label: summary(values) for label, values in times.items()}
    ratios = {label: stats[label]["median"] / stats["direct"]["median"] for label in ("url", "http_api")}
    print(f"A warm function, {len(times['direct'])} calls each after {warmup} warm-up, {rounds} alternating rounds")
    for label, title in (("direct", "boto3 lambda.invoke"), ("url", "GET function URL"),
                         ("http_api", "GET HTTP API route")):
        print(f"  {title:22s} median {ms(stats[label]['median']):8.2f} ms   p90 {ms(stats[label]['p90']):8.2f} ms")
    print(f"  environments used: {len(environments)} (expected 1: every path shares the warm one)")
    print(f"RESULT http: direct median {ms(stats['direct']['median']):.2f} ms | url median "
          f"{ms(stats['url']['median']):.2f} ms | http api median {ms(stats['http_api']['median']):.2f} ms | "
          f"RATIO url/direct {ratios['url']:.2f}x, http_api/direct {ratios['http_api']:.2f}x")
    path = write_results(NAME, {
        "description": "HTTP through a function URL and an HTTP API vs the same function invoked with boto3",
        "calls_each": len(times["direct"]), "warmup": warmup, "rounds": rounds, "settings": settings,
        "ms": {label: {k: (ms(v) if k != "n" else v) for k, v in values.items()} for label, values in stats.items()},
        "ratio_url_median": round(ratios["url"], 3), "ratio_http_api_median": round(ratios["http_api"], 3),
        "environments": len(environments),
        "raw_ms": {label: [ms(t) for t in values] for label, values in times.items()},
    })
    print(f"(results in {path})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    settings = setting_variables(args.setting)
    return run_main(NAME, lambda home: run(home, args.requests, args.warmup, args.rounds, settings))


if __name__ == "__main__":
    sys.exit(main())
