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
        import urllib.request

        request = urllib.request.Request(self.endpoint + path, method=method,
                                         data=b"" if method == "POST" else None,
                                         headers={"X-Lambdalab-Token": self.state["token"]})
        with urllib.request.urlopen(request, timeout=60) as response:
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
