"""The sandbox as a learner gets it: started by an ordinary user, not root (testing-notes).

CI runs as root, and root may unshare namespaces where a learner's uid may not (a JupyterHub
pod, Binder), so a root-only run says nothing of the learner's path. This test runs a cloud as
the CI test user (created by tests/install-test-tools.sh) with LAMBDALAB_SANDBOX=auto, and checks
from inside a function what that user's cloud got: which sandbox, its own /proc, no home, and a
Runtime API nobody else can poll. Skipped, with the reason, where that user cannot be had.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from sandbox_support import NAMESPACES, PROCESS_GROUP, TEST_USER, drop_privileges, namespaces_refused, python_for, runs_as
from support import ROOT

SCRIPT = r"""
import json, os, sys
from pathlib import Path
import psutil
from support import create_function, create_role, invoke_json, start_cloud

CHECKS = '''
import http.client, os
def handler(event, context):
    pids = [int(n) for n in os.listdir('/proc') if n.isdigit()]
    commands = []
    for pid in pids:
        try:
            commands.append(open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\\0', b' ').decode('utf-8', 'replace'))
        except OSError:
            pass
    api = os.environ['AWS_LAMBDA_RUNTIME_API']
    polls = {}
    for port in event['ports']:
        connection = http.client.HTTPConnection('127.0.0.1', port, timeout=0.5)
        try:
            connection.request('GET', '/2018-06-01/runtime/invocation/next')
            polls[str(port)] = connection.getresponse().status
        except Exception as error:
            polls[str(port)] = type(error).__name__
        finally:
            connection.close()
    return {'pids': len(pids), 'sees_cloud': any('lambdalab serve' in c or '-m lambdalab' in c for c in commands),
            'home': {p: os.path.exists(p) for p in event['home']}, 'runtime_api': api, 'polls': polls,
            'cloud_pid_variable': 'LAMBDALAB_CLOUD_PID' in os.environ}
'''

home = Path(os.environ['HOME'])
cloud = start_cloud(home / '.lambdalab', {'LAMBDALAB_SANDBOX': 'auto'})
try:
    mode = cloud.admin('GET', '/lambdalab/status').get('sandbox')
    lam = cloud.client('lambda')
    role = create_role(cloud.client('iam'))
    create_function(lam, 'checks', CHECKS, role, Timeout=30)
    victim = 'import time\ndef handler(event, context):\n    return "victim"\n'
    create_function(lam, 'victim', victim, role)
    assert invoke_json(lam, 'victim')[1] == 'victim'
    ports = sorted({c.laddr.port for c in psutil.Process(cloud.state['pid']).net_connections(kind='tcp')
                    if c.status == psutil.CONN_LISTEN})
    endpoint_port = int(cloud.endpoint.rsplit(':', 1)[1].strip('/'))
    event = {'ports': [p for p in ports if p != endpoint_port],
             'home': [str(home), str(home / '.lambdalab' / 'cloud.json'), str(home / 'secret.txt')]}
    response, checks = invoke_json(lam, 'checks', event)
    print(json.dumps({'mode': mode, 'uid': os.getuid(), 'error': response.get('FunctionError'), 'checks': checks}))
finally:
    cloud.stop()
"""


@pytest.fixture
def tester() -> pwd.struct_passwd:
    if os.geteuid() != 0:
        pytest.skip("becoming the test user needs root")
    try:
        user = pwd.getpwnam(TEST_USER)
    except KeyError:
        pytest.skip(f"no user {TEST_USER}: tests/install-test-tools.sh creates it when run as root")
    for parent in [ROOT, *ROOT.parents]:
        if parent.stat().st_mode & 0o005 != 0o005:
            pytest.skip(f"the checkout {ROOT} is under {parent} (mode {oct(parent.stat().st_mode & 0o777)}), "
                        f"which {TEST_USER} cannot read")
    return user


def test_an_unprivileged_clouds_sandbox_keeps_functions_apart(tester):
    argv, env, reason = python_for(tester, needs_packages=True)
    if not argv:
        pytest.skip(reason)
    home = Path(tempfile.mkdtemp(prefix="lambdalab-unprivileged-"))
    try:
        (home / "secret.txt").write_text("the learner's own file")
        for path in [home, *home.rglob("*")]:
            os.chown(path, tester.pw_uid, tester.pw_gid)
        home.chmod(0o700)
        expected_probe = namespaces_refused(drop_privileges(tester.pw_uid, tester.pw_gid), python=argv[0])
        run_env = dict(env, HOME=str(home), PATH=os.environ.get("PATH", "/usr/bin:/bin"),
                       TMPDIR=str(home), LAMBDALAB_HOME=str(home / ".lambdalab"))
        result = runs_as(tester, argv + ["-c", SCRIPT], env=run_env, timeout=300)
        assert result.returncode == 0, result.stderr[-4000:]
        found = json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert found["uid"] == tester.pw_uid
    assert found["mode"] == (PROCESS_GROUP if expected_probe else NAMESPACES), \
        f"the unprivileged cloud got {found['mode']!r}; probe as {TEST_USER}: {expected_probe or 'namespaces allowed'}"
    assert found["error"] is None, found["checks"]
    checks = found["checks"]
    assert all(status in (403, 404) or isinstance(status, str) for status in checks["polls"].values()), checks["polls"]
    assert checks["cloud_pid_variable"] is False
    if found["mode"] == NAMESPACES:
        assert checks["runtime_api"] == "127.0.0.1:9001"
        assert checks["sees_cloud"] is False and checks["pids"] < 10
        assert not any(checks["home"].values()), checks["home"]
