"""Helpers the tests share: a fresh local cloud in its own process, and small builders."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


@dataclass
class TestCloud:
    """A local cloud of the tests' own: its own home, a random port, its own process."""

    home: Path
    process: subprocess.Popen
    endpoint: str
    state: dict

    def session(self) -> boto3.Session:
        return boto3.Session(aws_access_key_id=self.state["access_key_id"],
                             aws_secret_access_key=self.state["secret_access_key"],
                             region_name=self.state["region"])

    def client(self, service: str, **config: object) -> object:
        return self.session().client(service, endpoint_url=self.endpoint,
                                     config=Config(retries={"max_attempts": 0}, read_timeout=120, **config))

    def admin(self, method: str, path: str) -> object:
        return self.admin_json(method, path)

    def admin_json(self, method: str, path: str, body: object = None) -> object:
        """One of the cloud's own /lambdalab/ requests, with an optional JSON body."""
        import urllib.request

        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        request = urllib.request.Request(self.endpoint + path, method=method, data=data,
                                         headers={"X-Lambdalab-Token": self.state["token"],
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=600) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        self.admin("POST", "/lambdalab/reset")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --- what the cloud saw: the event flow, the invocations, the clock --------------------------------

def flow(cloud: TestCloud, kind: str | None = None, *, source: str | None = None) -> list[dict]:
    """The event flow's steps so far, oldest first, of one kind and from one source if given."""
    return [step for step in cloud.admin("GET", "/lambdalab/flow")
            if kind in (None, step["kind"]) and source in (None, step["source"])]


def invocations(cloud: TestCloud, function_name: str) -> list[dict]:
    """Every finished invocation of the function, with its REPORT figures."""
    return [record for record in cloud.admin("GET", "/lambdalab/invocations") if record["function_name"] == function_name]


def use_virtual_clock(cloud: TestCloud, start: float | None = None) -> float:
    """Stop the cloud's clock (at `start`); the test's reset puts it back to real time."""
    body: dict[str, object] = {"mode": "virtual"}
    if start is not None:
        body["start"] = start
    return cloud.admin_json("POST", "/lambdalab/clock", body)["now"]


def advance(cloud: TestCloud, seconds: float) -> dict:
    """Move virtual time on; everything due runs (and settles) before this returns the clock's answer."""
    return cloud.admin_json("POST", "/lambdalab/clock", {"advance_s": seconds})


def fired(answer: dict) -> list[str]:
    """The names of the timed events an advance ran, in order."""
    return [timer["name"] for timer in answer["fired"]]


def pending_timers(cloud: TestCloud) -> list[str]:
    return [timer["name"] for timer in cloud.admin_json("GET", "/lambdalab/clock")["pending"]]


def make_queue(sqs: object, name: str, **attributes: str) -> tuple[str, str]:
    """A queue's URL and ARN."""
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def start_cloud(home: Path, extra_env: dict[str, str] | None = None) -> TestCloud:
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, LAMBDALAB_HOME=str(home), **(extra_env or {}))
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        env.pop(name, None)
    log = open(home / "cloud.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "lambdalab", "serve", "--port", "0", "--quiet"],
                               cwd=ROOT, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    state_file = home / "cloud.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if state_file.exists():
            state = json.loads(state_file.read_text())
            if state["pid"] == process.pid:
                return TestCloud(home, process, state["endpoint"], state)
        if process.poll() is not None:
            raise RuntimeError(f"cloud exited: {(home / 'cloud.log').read_text()[-3000:]}")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("cloud did not start in 60 s")


def make_zip(files: dict[str, str | bytes], modes: dict[str, int] | None = None) -> bytes:
    """A deployment package from {path: content}; modes sets Unix permissions (e.g. 0o755)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in files.items():
            info = zipfile.ZipInfo(path)
            info.external_attr = ((modes or {}).get(path, 0o644) & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def create_role(iam: object, name: str = "lambda-role", managed: tuple[str, ...] = (BASIC_EXECUTION,),
                inline: dict | None = None, trust: dict | None = None) -> str:
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust or LAMBDA_TRUST))["Role"]["Arn"]
    for policy in managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy)
    if inline:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(inline))
    return arn


def create_function(lam: object, name: str, code: str, role: str, handler: str = "lambda_function.handler",
                    runtime: str = "python3.12", **extra: object) -> dict:
    """A Python function from the source of lambda_function.py."""
    return lam.create_function(FunctionName=name, Runtime=runtime, Role=role, Handler=handler,
                               Code={"ZipFile": make_zip({"lambda_function.py": code})}, **extra)


def invoke_json(lam: object, name: str, event: object = None, **extra: object) -> tuple[dict, object]:
    """Invoke and decode: (response metadata, decoded payload)."""
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event if event is not None else {}), **extra)
    body = response["Payload"].read()
    return response, json.loads(body) if body else None


# --- Helpers added for the invoke, environment and limit tests ----------------------------------

def invoke_raw(lam: object, name: str, payload: bytes | str = b"{}", **extra: object) -> tuple[dict, bytes]:
    """Invoke with a payload sent as given: (response metadata, raw body)."""
    response = lam.invoke(FunctionName=name, Payload=payload, **extra)
    return response, response["Payload"].read()


def log_tail(response: dict) -> str:
    """The decoded X-Amz-Log-Result of an invoke made with LogType="Tail"."""
    import base64

    return base64.b64decode(response["LogResult"]).decode("utf-8", "replace")


def report_line(log_text: str) -> str:
    """The REPORT line of a log (the last one if there are several)."""
    lines = [line for line in log_text.splitlines() if line.startswith("REPORT RequestId: ")]
    assert lines, f"no REPORT line in:\n{log_text}"
    return lines[-1]


def request_id(response: dict) -> str:
    return response["ResponseMetadata"]["RequestId"]


def wait_until(predicate: object, timeout_s: float = 20.0, interval_s: float = 0.1, what: str = "condition") -> object:
    """Poll predicate() until it returns something truthy, at most timeout_s; return that value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s (last value: {value!r})")
        time.sleep(interval_s)


def environment_processes(cloud: TestCloud) -> list[tuple[int, str | None]]:
    """Every live descendant process of the cloud: (pid, LAMBDALAB_ENVIRONMENT_ID or None)."""
    import psutil

    found = []
    try:
        children = psutil.Process(cloud.state["pid"]).children(recursive=True)
    except psutil.NoSuchProcess:
        return found
    for child in children:
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            found.append((child.pid, child.environ().get("LAMBDALAB_ENVIRONMENT_ID")))
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        except psutil.AccessDenied:
            found.append((child.pid, None))
    return found


def runtime_pid(cloud: TestCloud, environment_id: str) -> int:
    """The machine's pid of an environment's runtime (inside a sandbox, os.getpid() answers 2)."""
    for environment in cloud.admin("GET", "/lambdalab/environments"):
        if environment["id"] == environment_id and environment["pid"]:
            return environment["pid"]
    raise AssertionError(f"no running environment {environment_id}")


def leaked_processes(cloud: TestCloud) -> list[tuple[int, str | None]]:
    """Descendants of the cloud that no live (warm or busy) environment accounts for."""
    live = {e["id"] for e in cloud.admin("GET", "/lambdalab/environments") if e["state"] in ("warm", "busy")}
    return [(pid, env) for pid, env in environment_processes(cloud) if env not in live]


def assert_no_leaked_processes(cloud: TestCloud, timeout_s: float = 20.0) -> None:
    wait_until(lambda: not leaked_processes(cloud), timeout_s, 0.2, "no leaked environment processes")


def assert_no_processes_after_reset(cloud: TestCloud, timeout_s: float = 20.0) -> None:
    cloud.reset()
    wait_until(lambda: not environment_processes(cloud), timeout_s, 0.2, "no environment processes after reset")


def zeros_zip(unzipped_bytes: int, name: str = "zeros.bin", extra: dict[str, str] | None = None) -> bytes:
    """A zip whose one big member is unzipped_bytes of zeros (it compresses to about 1/1000)."""
    buffer = io.BytesIO()
    chunk = b"\0" * (1 << 20)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in (extra or {}).items():
            archive.writestr(path, content)
        with archive.open(name, "w", force_zip64=True) as member:
            left = unzipped_bytes
            while left > 0:
                piece = chunk if left >= len(chunk) else chunk[:left]
                member.write(piece)
                left -= len(piece)
    return buffer.getvalue()


# Invocations that wait, inside the function, until `expected` of them have arrived: only separate
# environments can be served at once. They meet in the account's S3 (a sandboxed function reaches
# the cloud, nothing else of the machine).
RENDEZVOUS = """
import os, time, boto3
s3 = boto3.client('s3')
def handler(event, context):
    rid = context.aws_request_id
    open('/tmp/' + rid, 'w').write(rid)
    s3.put_object(Bucket='rendezvous', Key='arrived/' + rid, Body=b'')
    deadline = time.time() + 25
    arrived = 0
    while time.time() < deadline:
        arrived = s3.list_objects_v2(Bucket='rendezvous', Prefix='arrived/').get('KeyCount', 0)
        if arrived >= event['expected']:
            break
        time.sleep(0.05)
    time.sleep(event.get('linger', 0))
    return {'pid': os.getpid(), 'stream': context.log_stream_name, 'tmp': sorted(os.listdir('/tmp')),
            'arrived': arrived, 'request_id': rid}
"""


def rendezvous_role(iam) -> str:
    return create_role(iam, "rendezvous-role", inline={
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:PutObject", "s3:ListBucket"], "Resource": "*"}],
    })
