"""The sandbox of execution environments, tried as an attacker would (issue 11).

Learner code is hostile by assumption: pasted from the internet, or a neighbour's on a shared
JupyterHub host. Each test is one attack from inside a function, run on both sandbox paths
where the contract is the same (LAMBDALAB_SANDBOX=namespaces and process-group, one cloud per
path), and each ends by checking the attack stayed contained: the cloud still serves a plain
function, and nothing of the attack is left running. The namespaces path is skipped, with the
probe's reason, where the kernel refuses unprivileged namespaces (some containers' seccomp).

The hostile handlers of test_limits.py and test_environments.py (memory bomb, fork bomb, /tmp
filler, 1,024 open files, crashes) are not repeated here: these are the escapes they miss.
"""

from __future__ import annotations

import os
import sys
import socket
import threading
import uuid
from pathlib import Path

import pytest

from sandbox_support import (
    MODES, NAMESPACES, PROCESS_GROUP, assert_cloud_still_serves, cloud_ports, endpoint_port, host_shm_entries,
    kill_all, namespaces_refused, new_marker, processes_with, remove_host_shm, text_of,
)
from support import (
    ROOT, TestCloud, assert_no_processes_after_reset, create_function, create_role, invoke_json, make_zip,
    start_cloud, wait_until,
)

NAMESPACES_REFUSED = namespaces_refused()
ONLY_NAMESPACES = pytest.mark.parametrize("mode", [NAMESPACES], indirect=True)


def skip_unless_possible(mode: str) -> None:
    if mode == NAMESPACES and NAMESPACES_REFUSED:
        pytest.skip(f"this machine refuses the sandbox's namespaces: {NAMESPACES_REFUSED}")


@pytest.fixture(scope="module", params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    skip_unless_possible(request.param)
    return request.param


@pytest.fixture(scope="module")
def user_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The learner's own home as the cloud sees it (HOME), with AWS credentials a function must not read."""
    home = tmp_path_factory.mktemp("learner")
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text(
        f"[default]\naws_access_key_id = AKIAHOME{uuid.uuid4().hex[:12].upper()}\n"
        f"aws_secret_access_key = home-secret-{uuid.uuid4().hex}\n")
    return home


@pytest.fixture(scope="module")
def cloud(mode: str, user_home: Path, tmp_path_factory: pytest.TempPathFactory) -> TestCloud:
    """One cloud per sandbox path; conftest's aws, lam, iam and role fixtures use it."""
    test_cloud = start_cloud(tmp_path_factory.mktemp(f"home-{mode}"), {"LAMBDALAB_SANDBOX": mode, "HOME": str(user_home)})
    yield test_cloud
    test_cloud.stop()


# --- which sandbox ----------------------------------------------------------------------------

def test_the_status_says_which_sandbox_the_cloud_runs(aws, mode):
    assert aws.admin("GET", "/lambdalab/status").get("sandbox") == mode


def test_auto_takes_namespaces_where_the_kernel_allows_and_says_so_once_in_the_log(tmp_path):
    """The default: a learner gets the best sandbox the machine allows, and is told which."""
    auto = start_cloud(tmp_path / "home")
    try:
        expected = PROCESS_GROUP if NAMESPACES_REFUSED else NAMESPACES
        assert auto.admin("GET", "/lambdalab/status").get("sandbox") == expected
        lam = auto.client("lambda")
        role = create_role(auto.client("iam"))
        create_function(lam, "plain", "def handler(event, context):\n    return 'ok'\n", role)
        for _ in range(2):
            assert invoke_json(lam, "plain")[1] == "ok"
        said = [line for line in (auto.home / "cloud.log").read_text().splitlines() if "namespace" in line.lower()]
        assert len(said) == 1, said
    finally:
        auto.stop()


def test_the_cloud_pid_is_not_given_to_functions(aws, lam, role):
    """LAMBDALAB_CLOUD_PID was the address of the kill that loses the learner's account."""
    code = "import os\ndef handler(event, context):\n    return [k for k in os.environ if 'CLOUD_PID' in k]\n"
    create_function(lam, "pid-reader", code, role)
    response, body = invoke_json(lam, "pid-reader")
    assert "FunctionError" not in response, body
    assert body == []


# --- processes: its own only ------------------------------------------------------------------

PROCESS_VIEW = """
import os
def _kill(pid):
    try:
        os.kill(pid, 0)
        return 'delivered'
    except Exception as error:
        return type(error).__name__
def handler(event, context):
    pids = sorted(int(name) for name in os.listdir('/proc') if name.isdigit())
    commands = {}
    for pid in pids:
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                commands[pid] = f.read().replace(b'\\0', b' ').decode('utf-8', 'replace')
        except OSError as error:
            commands[pid] = type(error).__name__
    return {'me': os.getpid(), 'pids': pids, 'commands': commands,
            'kill_cloud': _kill(event['cloud_pid']), 'kill_test': _kill(event['test_pid'])}
"""


@ONLY_NAMESPACES
def test_a_function_sees_and_signals_only_its_own_processes(aws, lam, role):
    """Another warm environment, the cloud and the test run beside it: none is visible, none signalable."""
    create_function(lam, "neighbour", "def handler(event, context):\n    return 'warm'\n", role)
    assert invoke_json(lam, "neighbour")[1] == "warm"
    create_function(lam, "looker", PROCESS_VIEW, role)
    response, seen = invoke_json(lam, "looker", {"cloud_pid": aws.state["pid"], "test_pid": os.getpid()})
    assert "FunctionError" not in response, seen
    assert seen["me"] in seen["pids"]
    assert len(seen["pids"]) < 10, seen["commands"]
    strangers = [command for command in seen["commands"].values()
                 if "lambdalab serve" in command or "-m lambdalab" in command or "pytest" in command]
    assert strangers == [], seen["commands"]
    assert seen["kill_cloud"] == "ProcessLookupError"
    assert seen["kill_test"] == "ProcessLookupError"
    assert_cloud_still_serves(aws, lam, role)
    assert_no_processes_after_reset(aws)


# --- another function's events, environment and pids: the cross-environment attack --------------

VICTIM = """
import os, time
def handler(event, context):
    time.sleep(event.get('sleep', 0))
    answer = {'who': 'victim', 'n': event['n']}
    if event.get('tell'):
        answer.update(secret=os.environ['AWS_SECRET_ACCESS_KEY'], key=os.environ['AWS_ACCESS_KEY_ID'],
                      env_id=os.environ.get('LAMBDALAB_ENVIRONMENT_ID'))
    return answer
"""

ATTACKER = """
import http.client, json, os, threading, time
NEXT = '/2018-06-01/runtime/invocation/next'

def listening_ports():
    ports = set()
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 3 and fields[3] == '0A':  # LISTEN
                ports.add(int(fields[1].rsplit(':', 1)[1], 16))
    return ports

def poll(port, path, timeout):
    connection = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        connection.request('GET', path)
        response = connection.getresponse()
        body = response.read(4096)
        return response.status, dict(response.getheaders()), body.decode('utf-8', 'replace')
    except Exception as error:
        return type(error).__name__, {}, ''
    finally:
        connection.close()

def forge(port, prefix, request_id):
    connection = http.client.HTTPConnection('127.0.0.1', port, timeout=2)
    try:
        connection.request('POST', f'{prefix}/2018-06-01/runtime/invocation/{request_id}/response',
                           body=json.dumps({'who': 'attacker'}))
        return connection.getresponse().status
    except Exception as error:
        return type(error).__name__
    finally:
        connection.close()

def environments(me):
    found = []
    for name in os.listdir('/proc'):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f'/proc/{name}/environ', 'rb') as f:
                variables = dict(item.split(b'=', 1) for item in f.read().split(b'\\0') if b'=' in item)
        except OSError:
            continue
        wanted = {k.decode(): v.decode('utf-8', 'replace') for k, v in variables.items()
                  if k.startswith(b'AWS_') or k.startswith(b'LAMBDALAB_') or k == b'CANARY'}
        if wanted.get('AWS_LAMBDA_FUNCTION_NAME') != os.environ.get('AWS_LAMBDA_FUNCTION_NAME'):
            found.append({'pid': int(name), 'environ': wanted})
    return found

def through_proc_roots(home):
    read = []
    for name in os.listdir('/proc'):
        if name.isdigit():
            for file in ('cloud.json', 'credentials.json'):
                try:
                    with open(f'/proc/{name}/root{home}/{file}') as f:
                        read.append({'pid': int(name), 'file': file, 'text': f.read(2000)})
                except OSError:
                    pass
    return read

def handler(event, context):
    me = os.getpid()
    own = os.environ.get('AWS_LAMBDA_RUNTIME_API', '')
    own_port = int(own.split('/', 1)[0].rsplit(':', 1)[1]) if ':' in own else None
    own_has_secret = '/' in own
    seen = listening_ports()
    # Ports seen from a network namespace of its own are its own; without one they are the machine's,
    # and the attack keeps to the test's cloud (fence) not to break other clouds' tests.
    own_network = os.stat('/proc/self/ns/net').st_ino != event['machine_network']
    targets = set(event['fence']) | (seen if own_network else set())
    if own_port is not None and not own_has_secret:
        targets.discard(own_port)  # polling one's own Runtime API is the runtime's job, not an attack
    findings = {'runtime_api': own, 'own_network': own_network, 'seen': sorted(seen), 'targets': sorted(targets),
                'polls': {},
                'stolen': [], 'cloud_pid_variable': os.environ.get('LAMBDALAB_CLOUD_PID'),
                'environments': environments(me), 'proc_roots': through_proc_roots(event['home'])}
    try:
        os.kill(event['cloud_pid'], 0)
        findings['kill_cloud'] = 'delivered'
    except Exception as error:
        findings['kill_cloud'] = type(error).__name__
    deadline = time.monotonic() + event['duration']
    def keep_polling(port):  # one waiting GET per port at all times: the first to ask gets the event
        statuses = findings['polls'].setdefault(str(port), [])
        while time.monotonic() < deadline:
            status, headers, body = poll(port, NEXT, 2.0)
            if status not in statuses:
                statuses.append(status)
            request_id = headers.get('Lambda-Runtime-Aws-Request-Id')
            if status == 200 and request_id:
                findings['stolen'].append({'port': port, 'request_id': request_id, 'event': body,
                                           'forged': forge(port, '', request_id)})
            elif isinstance(status, int):
                time.sleep(0.05)
    pollers = [threading.Thread(target=keep_polling, args=(port,)) for port in sorted(targets)]
    for poller in pollers:
        poller.start()
    for poller in pollers:
        poller.join()
    findings['environments_later'] = environments(me)
    return findings
"""

VICTIM_INVOKES = 15


@pytest.fixture
def victim(aws, lam, role) -> dict:
    """A warm victim with a canary variable; what it tells of itself is what must not leak."""
    canary = new_marker("canary")
    create_function(lam, "victim", VICTIM, role, Timeout=5, Environment={"Variables": {"CANARY": canary}})
    response, told = invoke_json(lam, "victim", {"n": -1, "tell": True})
    assert "FunctionError" not in response, told
    return dict(told, canary=canary)


def invoke_victim_while(aws, lam, busy_function: str, mark: str) -> list[object]:
    """Once busy_function runs, the victim's sequential invokes, each with the event mark: their answers."""
    wait_until(lambda: any(e["function"] == busy_function and e["state"] == "busy"
                           for e in aws.admin("GET", "/lambdalab/environments")), 60, 0.1, f"{busy_function} busy")
    answers = []
    for n in range(VICTIM_INVOKES):
        response, body = invoke_json(lam, "victim", {"n": n, "sleep": 0.2, "mark": mark})
        answers.append(body if "FunctionError" not in response else {"FunctionError": body})
    return answers


def test_a_function_cannot_take_another_functions_events_environment_or_the_cloud(aws, lam, role, mode, victim):
    """The attacker scans /proc and /proc/net/tcp, polls .../next on every Runtime API it can find
    (forging an answer to whatever it gets), reads every other environ and signals the cloud. Today:
    most of the victim's events stolen and answered with the forgery, its role keys read."""
    mark = new_marker("event")
    create_function(lam, "attacker", ATTACKER, role, Timeout=60, MemorySize=1769)
    fence = cloud_ports(aws)
    event = {"fence": fence, "machine_network": os.stat("/proc/self/ns/net").st_ino, "duration": 10,
             "cloud_pid": aws.state["pid"], "home": str(aws.home)}
    result: dict = {}
    attack = threading.Thread(target=lambda: result.update(zip(("response", "body"), invoke_json(lam, "attacker", event))))
    attack.start()
    try:
        answers = invoke_victim_while(aws, lam, "attacker", mark)
    finally:
        attack.join(120)
    assert "FunctionError" not in result["response"], result["body"]
    found = result["body"]
    stolen = found["stolen"]
    leaked = text_of(found)
    summary = (f"{len(stolen)} of {VICTIM_INVOKES} events stolen; victim secret key read: {victim['secret'] in leaked}; "
               f"other environments' variables read: {len(found['environments_later'])}; "
               f"cloud files through /proc/<pid>/root: {len(found['proc_roots'])}; kill(cloud, 0): {found['kill_cloud']}")
    assert answers == [{"who": "victim", "n": n} for n in range(VICTIM_INVOKES)], f"{summary}: {answers}"
    assert stolen == [], summary
    for secret in (victim["secret"], victim["key"], victim["canary"], mark):
        assert secret not in leaked
    assert found["cloud_pid_variable"] is None
    others = [port for port in found["polls"] if int(port) != endpoint_port(aws)]
    assert all(status in (403, 404) or isinstance(status, str)
               for port in others for status in found["polls"][port]), found["polls"]
    if mode == NAMESPACES:
        assert found["own_network"] is True
        assert found["environments"] == [] and found["environments_later"] == []
        assert found["proc_roots"] == []
        assert found["kill_cloud"] == "ProcessLookupError"
    assert_cloud_still_serves(aws, lam, role)
    assert_no_processes_after_reset(aws)


# --- files: its code, its /tmp and /dev/shm, layers in /opt; nothing of the learner ---------------

LOOKER = """
import os, sys
def _try(action):
    try:
        value = action()
        return 'ok' if value is None else value
    except Exception as error:
        return type(error).__name__
def handler(event, context):
    root = os.environ['LAMBDA_TASK_ROOT']
    out = {'task_root': root, 'code': os.path.exists(os.path.join(root, 'lambda_function.py')),
           'write_task_root': _try(lambda: open(os.path.join(root, 'written'), 'w').close()),
           'write_tmp': _try(lambda: open('/tmp/written', 'w').close()),
           'write_shm': _try(lambda: open('/dev/shm/' + event['marker'], 'w').close()),
           'opt': sorted(os.listdir('/opt')) if os.path.isdir('/opt') else None}
    out['absent'] = {p: _try(lambda p=p: os.stat(p) and 'present') for p in event['absent']}
    out['listed'] = {p: sorted(os.listdir(p)) for p in event['list']}
    out['readable'] = {p: _try(lambda p=p: len(os.listdir(p)) > 0) for p in event['readable']}
    out['unwritable'] = {p: _try(lambda p=p: open(os.path.join(p, event['marker']), 'w').close())
                         for p in event['unwritable']}
    return out
"""


def _interpreter_under(home: Path) -> set[str]:
    """The first folders below home on the way to this Python, when it lives there (none: empty)."""
    held = set()
    for path in (sys.base_prefix, sys.prefix, os.path.realpath(sys.executable)):
        try:
            held.add(Path(os.path.realpath(path)).relative_to(home.resolve()).parts[0])
        except (ValueError, IndexError):
            continue
    return held


@ONLY_NAMESPACES
def test_a_function_sees_its_code_tmp_shm_and_layers_and_nothing_of_the_learner(aws, lam, role, user_home):
    marker = new_marker()
    layer = lam.publish_layer_version(LayerName="shared", Content={"ZipFile": make_zip({"layer-file.txt": "from a layer"})},
                                      CompatibleRuntimes=["python3.12"])["LayerVersionArn"]
    create_function(lam, "looker", LOOKER, role, Layers=[layer])
    absent = [str(aws.home), str(aws.home / "cloud.json"), str(aws.home / "credentials.json"), str(user_home),
              str(user_home / ".aws" / "credentials"), str(ROOT / "pyproject.toml"), str(ROOT / "tests"),
              str(ROOT / ".git")]
    home_holds = _interpreter_under(Path.home())
    if Path.home() != user_home and Path.home() != Path("/") and not home_holds:
        absent.append(str(Path.home()))
    unwritable = ["/usr", "/etc", os.path.dirname(os.__file__)]
    try:
        response, seen = invoke_json(lam, "looker", {"marker": marker, "absent": absent,
                                                     "readable": ["/usr", "/etc", os.path.dirname(os.__file__)],
                                                     "unwritable": unwritable,
                                                     "list": [str(Path.home())] if home_holds else []})
    finally:
        for folder in unwritable:  # today, as root, these writes land on the machine
            Path(folder, marker).unlink(missing_ok=True)
        remove_host_shm(marker)
    assert "FunctionError" not in response, seen
    assert seen["task_root"] == "/var/task" and seen["code"] is True
    assert seen["write_task_root"] in ("OSError", "PermissionError")
    assert seen["write_tmp"] == "ok" and seen["write_shm"] == "ok"
    assert seen["opt"] == ["layer-file.txt"]
    assert seen["absent"] == {path: "FileNotFoundError" for path in absent}
    if home_holds:  # Python itself lives in the home (pyenv): only the way to it is there
        assert set(seen["listed"][str(Path.home())]) <= home_holds, seen["listed"]
    assert seen["readable"] == {path: True for path in ["/usr", "/etc", os.path.dirname(os.__file__)]}
    assert all(outcome in ("OSError", "PermissionError") for outcome in seen["unwritable"].values()), seen["unwritable"]
    assert host_shm_entries(marker) == []  # its /dev/shm is its own
    assert_cloud_still_serves(aws, lam, role)
    assert_no_processes_after_reset(aws)


@ONLY_NAMESPACES
def test_dev_shm_is_private_to_each_environment(aws, lam, role):
    marker = new_marker()
    writer = ("def handler(event, context):\n    open('/dev/shm/' + event['marker'], 'w').write('mine')\n"
              "    return 'written'\n")
    reader = "import os\ndef handler(event, context):\n    return os.path.exists('/dev/shm/' + event['marker'])\n"
    create_function(lam, "shm-writer", writer, role)
    create_function(lam, "shm-reader", reader, role)
    try:
        assert invoke_json(lam, "shm-writer", {"marker": marker})[1] == "written"
        assert invoke_json(lam, "shm-reader", {"marker": marker})[1] is False
        assert host_shm_entries(marker) == []
    finally:
        remove_host_shm(marker)
    assert_no_processes_after_reset(aws)


# --- network: the cloud's endpoint and its own Runtime API, nothing else -------------------------

NETWORK = """
import os, socket
import boto3
def handler(event, context):
    out = {'runtime_api': os.environ['AWS_LAMBDA_RUNTIME_API'], 'endpoint': os.environ['AWS_ENDPOINT_URL'],
           'account': boto3.client('sts').get_caller_identity()['Account'], 'reach': {}}
    for port in event['ports']:
        connection = socket.socket()
        connection.settimeout(2)
        try:
            connection.connect(('127.0.0.1', port))
            out['reach'][str(port)] = 'connected'
        except Exception as error:
            out['reach'][str(port)] = type(error).__name__
        finally:
            connection.close()
    return out
"""


@ONLY_NAMESPACES
def test_a_function_reaches_the_cloud_and_its_own_runtime_api_and_no_other_port(aws, lam, role):
    create_function(lam, "victim", VICTIM, role)
    assert invoke_json(lam, "victim", {"n": 0})[1] == {"who": "victim", "n": 0}
    create_function(lam, "prober", NETWORK, role, MemorySize=1024, Timeout=30)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        ports = [listener.getsockname()[1]] + [port for port in cloud_ports(aws) if port != endpoint_port(aws)]
        response, seen = invoke_json(lam, "prober", {"ports": ports})
    assert "FunctionError" not in response, seen
    assert seen["runtime_api"] == "127.0.0.1:9001"
    assert seen["endpoint"].rstrip("/") == aws.endpoint.rstrip("/")
    assert len(seen["account"]) == 12 and seen["account"].isdigit()
    assert "connected" not in seen["reach"].values(), seen["reach"]
    assert_cloud_still_serves(aws, lam, role)
    assert_no_processes_after_reset(aws)


# --- escapes: a daemon, children's memory, /dev/shm, threads ------------------------------------

DAEMON = """
import os, sys
def handler(event, context):
    child = os.fork()
    if child == 0:
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        os.closerange(0, 4096)
        null = os.open('/dev/null', os.O_RDWR)
        os.dup2(null, 1)
        os.dup2(null, 2)
        code = '# ' + event['marker'] + '\\nimport time\\nwhile True:\\n    time.sleep(1)\\n'
        os.execve(sys.executable, [sys.executable, '-c', code], {})  # nothing of its environment is left
    os.waitpid(child, 0)
    return 'daemon started'
"""


def start_daemon(lam: object, role: str, marker: str) -> None:
    create_function(lam, "daemonizer", DAEMON, role)
    response, body = invoke_json(lam, "daemonizer", {"marker": marker})
    assert "FunctionError" not in response, body
    wait_until(lambda: processes_with(marker), 30, 0.2, "the daemon running")


@pytest.mark.parametrize("ending", ["reset", "delete"])
def test_a_setsid_daemon_dies_when_its_environment_ends(aws, lam, role, ending):
    marker = new_marker()
    try:
        start_daemon(lam, role, marker)
        if ending == "reset":
            aws.reset()
        else:
            lam.delete_function(FunctionName="daemonizer")
        wait_until(lambda: not processes_with(marker), 30, 0.2, f"the daemon ended after {ending}")
    finally:
        kill_all(processes_with(marker))
    lam, role = aws.client("lambda"), create_role(aws.client("iam"), name="after-daemon")
    assert_cloud_still_serves(aws, lam, role)
    assert_no_processes_after_reset(aws)


def test_a_setsid_daemon_dies_when_the_cloud_stops(mode, tmp_path):
    own = start_cloud(tmp_path / "home", {"LAMBDALAB_SANDBOX": mode})
    marker = new_marker()
    try:
        start_daemon(own.client("lambda"), create_role(own.client("iam")), marker)
        own.stop()
        wait_until(lambda: not processes_with(marker), 30, 0.2, "the daemon ended with the cloud")
    finally:
        own.stop()
        kill_all(processes_with(marker))


CHILDREN = """
import os, time
def handler(event, context):
    children = []
    for _ in range(event['children']):
        pid = os.fork()
        if pid == 0:
            os.setsid()  # out of the runtime's process group, where memory used to be counted
            hog = b'\\x01' * (event['mb'] * 1024 * 1024)
            time.sleep(event['hold'])
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    return {'children': len(children), 'survived': True}
"""


def test_memory_of_setsid_children_counts_against_the_function(aws, lam, role):
    """8 children of 100 MB in a 128 MB function: AWS's out-of-memory end, not 800 MB held."""
    create_function(lam, "spawner", CHILDREN, role, MemorySize=128, Timeout=30)
    response, body = invoke_json(lam, "spawner", {"children": 8, "mb": 100, "hold": 15})
    assert response.get("FunctionError") == "Unhandled", body
    assert body["errorType"] == "Runtime.ExitError" or "memory" in body["errorMessage"].lower(), body
    assert_cloud_still_serves(aws, lam, role)
    assert_no_processes_after_reset(aws)


SHM_FILLER = """
def handler(event, context):
    chunk = b'\\x01' * (1024 * 1024)
    with open('/dev/shm/' + event['marker'], 'wb') as f:
        for _ in range(event['mb']):
            f.write(chunk)
        f.flush()
    return {'written_mb': event['mb']}
"""


@ONLY_NAMESPACES
def test_writing_1_gb_to_dev_shm_in_128_mb_fails_and_leaves_nothing(aws, lam, role):
    marker = new_marker()
    create_function(lam, "shm-filler", SHM_FILLER, role, MemorySize=128, Timeout=60)
    try:
        response, body = invoke_json(lam, "shm-filler", {"marker": marker, "mb": 1024})
        assert response.get("FunctionError") == "Unhandled", body
        assert "No space left" in body["errorMessage"] or body["errorType"] == "Runtime.ExitError", body
        assert host_shm_entries(marker) == []
        assert_cloud_still_serves(aws, lam, role)
        assert_no_processes_after_reset(aws)
        assert host_shm_entries(marker) == []
    finally:
        remove_host_shm(marker)


THREADS = """
import threading
def handler(event, context):
    stop = threading.Event()
    threads, error = [], None
    try:
        while len(threads) < event['threads']:
            thread = threading.Thread(target=stop.wait, daemon=True)
            thread.start()
            threads.append(thread)
    except RuntimeError as exc:
        error = str(exc)
    started = len(threads)
    stop.set()
    for thread in threads:
        thread.join()
    return {'started': started, 'error': error}
"""


@ONLY_NAMESPACES
def test_starting_10000_threads_stops_near_1024(aws, lam, role):
    """AWS allows 1,024 processes and threads; memory is ample here, so the count is what stops it."""
    create_function(lam, "threader", THREADS, role, MemorySize=1024, Timeout=60)
    response, body = invoke_json(lam, "threader", {"threads": 10_000})
    if "FunctionError" not in response:
        assert body["started"] <= 1024, body
        assert body["started"] >= 500, body  # a function may have hundreds of threads
        assert "can't start new thread" in (body["error"] or ""), body
    assert_cloud_still_serves(aws, lam, role)
    assert_no_processes_after_reset(aws)
