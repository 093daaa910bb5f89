"""The local cloud's life cycle, driven as a learner drives it: the `lambdalab` command and
`lambdalab.start()` in processes of their own.

Every cloud here lives in a home of the test's own (LAMBDALAB_HOME=<tmp dir>), on a random
port, and is ended by the test: ~/.lambdalab and a learner's running cloud are never touched.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import psutil
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from support import LAMBDA_TRUST, ROOT, make_zip

FOUR_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
BOGUS_KEY_ID = "AKIAIOSFODNN7BOGUS00"
BOGUS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYBOGUSKEY00"
TRUST_LITERAL = repr(json.dumps(LAMBDA_TRUST))
KEPT_ZIP_LITERAL = repr(make_zip({"lambda_function.py": "def handler(event, context):\n    return 'still here'\n"}))
WHO_ZIP_LITERAL = repr(make_zip({"lambda_function.py": (
    "import boto3\n\ndef handler(event, context):\n    return boto3.client('sts').get_caller_identity()['Arn']\n")}))


# --- running the learner's tools in processes of their own ------------------------------------

def _environment(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without any AWS setting, pointed at home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("LAMBDALAB_")}
    env["LAMBDALAB_HOME"] = str(home)
    env.update(extra or {})
    return env


def run_cli(home: Path, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lambdalab", *args], cwd=ROOT, env=_environment(home, extra_env),
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def run_python(home: Path, code: str, extra_env: dict[str, str] | None = None) -> object:
    """Run code in a fresh Python (a new notebook kernel, say); it prints one JSON document last."""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_environment(home, extra_env),
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"child failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def read_state(home: Path) -> dict:
    return json.loads((home / "cloud.json").read_text())


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(pid: int, timeout_s: float = 15) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.05)
    return gone(pid)


def _is_our_cloud(pid: int) -> bool:
    try:
        return "lambdalab" in " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return False


def clouds_of(home: Path) -> set[int]:
    """The cloud processes serving this home (found by their environment: the state file may be gone)."""
    found = set()
    for process in psutil.process_iter(["cmdline"]):
        try:
            if "lambdalab" in (process.info["cmdline"] or []) and "serve" in process.info["cmdline"] \
                    and process.environ().get("LAMBDALAB_HOME") == str(home):
                found.add(process.pid)
        except psutil.Error:
            continue
    return found


def end_cloud(home: Path) -> None:
    """End whatever cloud this home has."""
    candidates = clouds_of(home)
    try:
        candidates.add(read_state(home)["pid"])
    except (OSError, ValueError, KeyError):
        pass
    for pid in candidates:
        if _is_our_cloud(pid):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            if not wait_gone(pid, 10):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def start(home: Path) -> dict:
    done = run_cli(home, "start")
    assert done.returncode == 0, done.stderr
    return read_state(home)


def client_of(state: dict, service: str, **keys: str):
    return boto3.client(service, endpoint_url=state["endpoint"], region_name=state["region"],
                        aws_access_key_id=keys.get("key_id", state["access_key_id"]),
                        aws_secret_access_key=keys.get("secret", state["secret_access_key"]),
                        config=Config(retries={"max_attempts": 0}, read_timeout=120))


def admin(state: dict, method: str, path: str, token: str | None) -> tuple[int, object]:
    headers = {} if token is None else {"X-Lambdalab-Token": token}
    request = urllib.request.Request(state["endpoint"] + path, method=method,
                                     data=b"" if method == "POST" else None, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def create_echo_function(state: dict, name: str = "echo") -> None:
    iam = client_of(state, "iam")
    arn = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
    client_of(state, "lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=arn, Handler="lambda_function.handler",
        Code={"ZipFile": make_zip({"lambda_function.py": "def handler(event, context):\n    return {'echo': event}\n"})})


def invoke(state: dict, name: str, event: object) -> object:
    response = client_of(state, "lambda").invoke(FunctionName=name, Payload=json.dumps(event))
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())


def function_names(state: dict) -> list[str]:
    return [f["FunctionName"] for f in client_of(state, "lambda").list_functions()["Functions"]]


@pytest.fixture
def home(tmp_path: Path):
    """A home of this test's own; whatever cloud it holds at the end is ended."""
    path = tmp_path / "lambdalab-home"
    yield path
    end_cloud(path)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory):
    """One background cloud for the tests that only look at it: (home, state)."""
    path = tmp_path_factory.mktemp("shared-home")
    try:
        yield path, start(path)
    finally:
        end_cloud(path)


# --- start, and finding the running cloud -------------------------------------------------------

def test_start_runs_a_background_cloud_and_writes_its_state_file(shared):
    home, state = shared
    assert state["endpoint"].startswith("http://127.0.0.1:")
    assert state["endpoint"] == f"http://127.0.0.1:{state['port']}"
    assert state["access_key_id"] and state["secret_access_key"] and state["token"]
    assert state["region"] == "us-east-1"
    assert not gone(state["pid"]), "the cloud's process is not running"
    assert _is_our_cloud(state["pid"])
    assert (home / "cloud.json").stat().st_mode & 0o077 == 0, "the state file holds keys: only its owner may read it"
    assert function_names(state) == []


def test_a_second_start_finds_the_same_cloud(shared):
    home, state = shared
    done = run_cli(home, "start")
    assert done.returncode == 0, done.stderr
    assert read_state(home)["pid"] == state["pid"]
    assert read_state(home)["endpoint"] == state["endpoint"]
    assert state["endpoint"] in done.stdout
    assert clouds_of(home) == {state["pid"]}, "a second cloud was started for the same home"


def test_status_describes_the_running_cloud(shared):
    home, state = shared
    done = run_cli(home, "status")
    assert done.returncode == 0
    described = json.loads(done.stdout)
    assert described["pid"] == state["pid"] and described["endpoint"] == state["endpoint"]


def test_status_without_a_cloud_says_so(home):
    done = run_cli(home, "status")
    assert done.returncode == 1
    assert "No local cloud is running" in done.stdout
    assert not (home / "cloud.json").exists()


def test_start_in_python_points_plain_boto3_at_the_cloud(shared):
    home, state = shared
    seen = run_python(home, """
import json, os, boto3, lambdalab
lambdalab.start(quiet=True)
names = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
functions = boto3.client("lambda").list_functions()["Functions"]
print(json.dumps({"env": {n: os.environ.get(n) for n in names}, "functions": functions}))
""")
    assert seen["env"] == {
        "AWS_ENDPOINT_URL": state["endpoint"],
        "AWS_ACCESS_KEY_ID": state["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": state["secret_access_key"],
        "AWS_DEFAULT_REGION": state["region"],
    }
    assert isinstance(seen["functions"], list)
    assert read_state(home)["pid"] == state["pid"], "start() in Python must find the running cloud"


def test_start_in_python_says_where_the_cloud_is(shared):
    home, state = shared
    done = subprocess.run([sys.executable, "-c", "import lambdalab; lambdalab.start()"], cwd=ROOT,
                          env=_environment(home), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert state["endpoint"] in done.stdout


def test_env_prints_export_lines_for_the_sdk(shared):
    home, state = shared
    done = run_cli(home, "env")
    assert done.returncode == 0, done.stderr
    exported = {}
    for line in done.stdout.splitlines():
        assert line.startswith("export "), line
        name, _, value = line[len("export "):].partition("=")
        exported[name] = shlex.split(value)[0] if value else ""
    assert {name: exported.get(name) for name in FOUR_VARIABLES} == {
        "AWS_ENDPOINT_URL": state["endpoint"],
        "AWS_ACCESS_KEY_ID": state["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": state["secret_access_key"],
        "AWS_DEFAULT_REGION": state["region"],
    }


def test_eval_of_env_lets_a_shell_reach_the_cloud(shared):
    home, state = shared
    script = (f'eval "$({shlex.quote(sys.executable)} -m lambdalab env)" && '
              f'{shlex.quote(sys.executable)} -c "import boto3, json; '
              "print(json.dumps(boto3.client('sts').get_caller_identity()['Arn']))\"")
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, env=_environment(home), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]).endswith(":user/learner")


# --- what the cloud lets in ---------------------------------------------------------------------

def test_the_cloud_listens_on_127_0_0_1_only(shared):
    home, state = shared
    create_echo_function(state, "listener-check")
    assert invoke(state, "listener-check", {"n": 1}) == {"echo": {"n": 1}}  # runtime APIs are open now
    cloud = psutil.Process(state["pid"])
    listening = [c for p in [cloud, *cloud.children(recursive=True)]
                 for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    assert any(c.laddr.port == state["port"] for c in listening)
    if _sandbox(state) == "process-group":
        assert len(listening) >= 2, "the environment's Runtime API should be listening too"
    # (in a sandbox, it listens on the environment's own loopback: not on the machine's at all)
    assert {c.laddr.ip for c in listening} == {"127.0.0.1"}, listening


def _sandbox(state: dict) -> str:
    request = urllib.request.Request(state["endpoint"] + "/lambdalab/status",
                                     headers={"X-Lambdalab-Token": state["token"]})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())["sandbox"]


def test_admin_requests_need_the_token(shared):
    home, state = shared
    create_echo_function(state, "survives-unauthorized-reset")
    assert admin(state, "GET", "/lambdalab/status", None)[0] == 403
    assert admin(state, "GET", "/lambdalab/status", "0" * 32)[0] == 403
    assert admin(state, "GET", "/lambdalab/environments", None)[0] == 403
    assert admin(state, "GET", "/lambdalab/invocations", None)[0] == 403
    assert admin(state, "POST", "/lambdalab/reset", None)[0] == 403
    assert admin(state, "POST", "/lambdalab/reset", "wrong")[0] == 403
    assert "survives-unauthorized-reset" in function_names(state), "a refused reset must not empty the account"
    status, body = admin(state, "GET", "/lambdalab/status", state["token"])
    assert status == 200 and body["pid"] == state["pid"]


def test_made_up_keys_are_refused_while_the_learners_keys_work(shared):
    home, state = shared
    fake = {"key_id": BOGUS_KEY_ID, "secret": BOGUS_SECRET}
    with pytest.raises(ClientError) as refused:
        client_of(state, "iam", **fake).list_users()
    assert refused.value.response["Error"]["Code"] == "InvalidClientTokenId"
    with pytest.raises(ClientError) as refused:
        client_of(state, "lambda", **fake).list_functions()
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert refused.value.response["Error"]["Code"] == "UnrecognizedClientException", "Lambda's name for it"
    assert refused.value.response["Error"]["Message"] == "The security token included in the request is invalid."
    with pytest.raises(ClientError) as refused:
        client_of(state, "sts", secret=BOGUS_SECRET).get_caller_identity()
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert client_of(state, "sts").get_caller_identity()["Arn"].endswith(":user/learner")
    assert isinstance(client_of(state, "lambda").list_functions()["Functions"], list)


def test_serve_while_a_cloud_runs_says_so_and_exits_1(shared):
    home, state = shared
    done = run_cli(home, "serve", "--port", "0")
    assert done.returncode == 1
    assert "already running" in done.stderr and state["endpoint"] in done.stderr
    assert read_state(home)["pid"] == state["pid"]
    assert not gone(state["pid"])


# --- life cycle -----------------------------------------------------------------------------------

def test_the_cloud_outlives_the_process_that_started_it(home):
    """A kernel restart loses nothing: the cloud is not the kernel's child for long."""
    first = run_python(home, f"""
import json, os, boto3, lambdalab
state = lambdalab.start(quiet=True)
iam = boto3.client("iam")
role = iam.create_role(RoleName="kept-role", AssumeRolePolicyDocument={TRUST_LITERAL})["Role"]["Arn"]
code = {KEPT_ZIP_LITERAL}
boto3.client("lambda").create_function(FunctionName="kept", Runtime="python3.12", Role=role,
                                       Handler="lambda_function.handler", Code={{"ZipFile": code}})
print(json.dumps({{"pid": state.pid, "me": os.getpid()}}))
""")
    assert first["pid"] != first["me"]
    assert not gone(first["pid"]), "the cloud ended with the process that started it"
    second = run_python(home, """
import json, boto3, lambdalab
state = lambdalab.start(quiet=True)
answer = boto3.client("lambda").invoke(FunctionName="kept")["Payload"].read()
print(json.dumps({"pid": state.pid, "answer": json.loads(answer)}))
""")
    assert second == {"pid": first["pid"], "answer": "still here"}


def test_a_stale_state_file_is_replaced_by_a_new_cloud(home):
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    home.mkdir(parents=True)
    stale = {"endpoint": "http://127.0.0.1:9", "pid": finished.pid, "port": 9, "access_key_id": "AKIASTALE",
             "secret_access_key": "stale", "region": "us-east-1", "account_id": "123456789012",
             "token": "stale", "started_at": 0.0}
    (home / "cloud.json").write_text(json.dumps(stale))
    state = start(home)
    assert state["pid"] != finished.pid
    assert state["endpoint"] != stale["endpoint"] and state["token"] != "stale"
    assert not gone(state["pid"])
    assert function_names(state) == []


def test_stop_ends_the_cloud_and_removes_the_state_file(home):
    state = start(home)
    done = run_cli(home, "stop")
    assert done.returncode == 0
    assert "stopped" in done.stdout
    assert wait_gone(state["pid"]), "the cloud's process is still running"
    assert not (home / "cloud.json").exists()
    assert clouds_of(home) == set()
    again = run_cli(home, "stop")
    assert again.returncode == 0 and "No local cloud was running" in again.stdout


def test_the_learners_keys_stay_the_same_across_restarts(home):
    """A kernel started yesterday still holds yesterday's keys: today's cloud must accept them."""
    before = start(home)
    assert run_cli(home, "stop").returncode == 0
    assert wait_gone(before["pid"])
    after = start(home)
    assert after["pid"] != before["pid"]
    assert (after["access_key_id"], after["secret_access_key"]) == (before["access_key_id"],
                                                                     before["secret_access_key"])
    assert client_of({**before, "endpoint": after["endpoint"]}, "lambda").list_functions()["Functions"] == []


def test_reset_command_empties_the_account_and_the_keys_keep_working(home):
    state = start(home)
    create_echo_function(state, "doomed")
    assert invoke(state, "doomed", {"a": 1}) == {"echo": {"a": 1}}
    done = run_cli(home, "reset")
    assert done.returncode == 0, done.stderr
    assert function_names(state) == []
    assert [r["RoleName"] for r in client_of(state, "iam").list_roles()["Roles"]] == []
    assert read_state(home)["pid"] == state["pid"], "a reset keeps the cloud running"
    create_echo_function(state, "reborn")  # the very same keys still work
    assert invoke(state, "reborn", {"b": 2}) == {"echo": {"b": 2}}


def test_reset_from_python_empties_the_account(home):
    state = start(home)
    create_echo_function(state, "doomed")
    seen = run_python(home, """
import json, boto3, lambdalab
lambdalab.start(quiet=True)
before = [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]]
lambdalab.reset()
after = [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]]
print(json.dumps({"before": before, "after": after}))
""")
    assert seen == {"before": ["doomed"], "after": []}
    assert function_names(state) == []


def test_the_hosts_aws_credentials_are_never_used(home, tmp_path):
    """A learner's real ~/.aws (here a fake one) and AWS_* variables must not reach the cloud."""
    fake_home = tmp_path / "fake-user-home"
    (fake_home / ".aws").mkdir(parents=True)
    (fake_home / ".aws" / "credentials").write_text(
        f"[default]\naws_access_key_id = {BOGUS_KEY_ID}\naws_secret_access_key = {BOGUS_SECRET}\n"
        f"[work]\naws_access_key_id = {BOGUS_KEY_ID}\naws_secret_access_key = {BOGUS_SECRET}\n")
    (fake_home / ".aws" / "config").write_text(
        "[default]\nregion = eu-west-3\n[profile work]\nregion = eu-west-3\n")
    hostile = {"HOME": str(fake_home), "AWS_PROFILE": "work", "AWS_SESSION_TOKEN": "bogus-token",
               "AWS_ACCESS_KEY_ID": BOGUS_KEY_ID, "AWS_SECRET_ACCESS_KEY": BOGUS_SECRET,
               "AWS_DEFAULT_REGION": "eu-west-3"}
    seen = run_python(home, f"""
import json, boto3, lambdalab
state = lambdalab.start(quiet=True)
lam = boto3.client("lambda")
iam = boto3.client("iam")
role = iam.create_role(RoleName="r", AssumeRolePolicyDocument={TRUST_LITERAL})["Role"]["Arn"]
code = {WHO_ZIP_LITERAL}
lam.create_function(FunctionName="who", Runtime="python3.12", Role=role, Handler="lambda_function.handler",
                    Code={{"ZipFile": code}})
inside = json.loads(lam.invoke(FunctionName="who")["Payload"].read())
me = boto3.client("sts").get_caller_identity()["Arn"]
print(json.dumps({{"me": me, "inside": inside, "region": lam.meta.region_name}}))
""", extra_env=hostile)
    state = read_state(home)
    assert BOGUS_KEY_ID not in (state["access_key_id"], state["secret_access_key"])
    assert BOGUS_SECRET not in (state["access_key_id"], state["secret_access_key"])
    assert seen["me"].endswith(":user/learner")
    assert seen["inside"].endswith(":assumed-role/r/who")
    assert seen["region"] == "us-east-1"
    assert (home / "credentials.json").exists() and BOGUS_KEY_ID not in (home / "credentials.json").read_text()


def test_a_home_under_tmp_works_too():
    """A home in /tmp (a CI runner's, a throwaway Binder's): functions still reach their own code
    and the SDK that lives there, and their own /tmp stays private."""
    home = Path(tempfile.mkdtemp(prefix="lambdalab-home-", dir="/tmp"))
    try:
        state = start(home)
        iam = client_of(state, "iam")
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
        client_of(state, "lambda").create_function(
            FunctionName="in-tmp", Runtime="python3.12", Role=role, Handler="lambda_function.handler",
            Code={"ZipFile": make_zip({
                "lambda_function.py": (
                    "import os, tempfile, boto3\n\n"
                    "def handler(event, context):\n"
                    "    with open(os.path.join(os.environ['LAMBDA_TASK_ROOT'], 'data.txt')) as f:\n"
                    "        data = f.read()\n"
                    "    with open('/tmp/scratch.txt', 'w') as f:\n"
                    "        f.write('mine')\n"
                    "    with tempfile.NamedTemporaryFile('w+', delete=False) as f:\n"
                    "        f.write('temp')\n"
                    "    with open(f.name) as g:\n"
                    "        temp = g.read()\n"
                    "    with open('/tmp/scratch.txt') as f:\n"
                    "        scratch = f.read()\n"
                    "    arn = boto3.client('sts').get_caller_identity()['Arn']\n"
                    "    return [data, scratch, temp, arn]\n"),
                "data.txt": "packaged"})})
        data, scratch, temp, arn = invoke(state, "in-tmp", {})
        assert (data, scratch, temp) == ("packaged", "mine", "temp")
        assert arn.endswith(":assumed-role/r/in-tmp")
        assert not Path("/tmp/scratch.txt").exists() or Path("/tmp/scratch.txt").read_text() != "mine"
    finally:
        end_cloud(home)
        shutil.rmtree(home, ignore_errors=True)
