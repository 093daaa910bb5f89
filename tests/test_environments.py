"""Execution environments as AWS runs them: cold and warm starts, one environment per
concurrent invoke, new ones after a change, reclaimed when idle, reset after a timeout or
a crash, with a private /tmp of limited size, and never a process left behind."""

from __future__ import annotations

import re
import threading
import uuid
from pathlib import Path

import pytest

from support import (RENDEZVOUS, assert_no_leaked_processes, assert_no_processes_after_reset, create_function,
                     create_role, environment_processes, invoke_json, log_tail, make_zip, rendezvous_role, report_line,
                     request_id, start_cloud, wait_until)

ISO_STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"

STATEFUL = """
import os
STARTED = 0
def handler(event, context):
    global STARTED
    STARTED += 1
    had_file = os.path.exists('/tmp/state.txt')
    with open('/tmp/state.txt', 'a') as f:
        f.write(context.aws_request_id + '\\n')
    return {'count': STARTED, 'had_file': had_file, 'pid': os.getpid(), 'stream': context.log_stream_name,
            'environment': os.environ['LAMBDALAB_ENVIRONMENT_ID'],
            'lines': open('/tmp/state.txt').read().count('\\n')}
"""


def environments_of(cloud, function: str) -> list[dict]:
    return [e for e in cloud.admin("GET", "/lambdalab/environments") if e["function"] == function]


def is_cold(response: dict) -> bool:
    return "Init Duration" in report_line(log_tail(response))


# --- cold and warm -----------------------------------------------------------------------------

def test_the_first_invoke_is_cold_and_the_second_warm_with_globals_and_tmp_kept(aws, lam, role):
    create_function(lam, "stateful", STATEFUL, role)
    first, one = invoke_json(lam, "stateful", LogType="Tail")
    second, two = invoke_json(lam, "stateful", LogType="Tail")
    assert is_cold(first)
    assert re.search(r"\tInit Duration: \d+\.\d\d ms", report_line(log_tail(first)))
    assert not is_cold(second)
    assert one["count"] == 1 and one["had_file"] is False
    assert two["count"] == 2 and two["had_file"] is True and two["lines"] == 2
    assert one["pid"] == two["pid"] and one["stream"] == two["stream"]
    listed = environments_of(aws, "stateful")
    assert len(listed) == 1
    assert listed[0]["invokes"] == 2 and listed[0]["cold_starts"] == 1
    assert listed[0]["log_stream"] == one["stream"]
    assert listed[0]["state"] == "warm"


def test_the_init_phase_runs_once_per_environment(aws, lam, role):
    code = "print('initializing')\ndef handler(event, context):\n    return 'ok'\n"
    create_function(lam, "init-once", code, role)
    first, _ = invoke_json(lam, "init-once", LogType="Tail")
    second, _ = invoke_json(lam, "init-once", LogType="Tail")
    assert "initializing" in log_tail(first)
    assert "INIT_START" in log_tail(first)
    assert "initializing" not in log_tail(second)
    assert "INIT_START" not in log_tail(second)


def invoke_in_threads(aws, name: str, events: list[dict]) -> list[tuple[dict, object]]:
    results: list = [None] * len(events)

    def run(index: int) -> None:
        client = aws.client("lambda")
        try:
            results[index] = invoke_json(client, name, events[index])
        except Exception as exc:  # handed to the test
            results[index] = exc

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(events))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_concurrent_invokes_get_separate_environments_with_separate_tmp(aws, lam, iam):
    aws.client("s3").create_bucket(Bucket="rendezvous")
    create_function(lam, "together", RENDEZVOUS, rendezvous_role(iam), Timeout=60)
    results = invoke_in_threads(aws, "together", [{"expected": 3, "linger": 1}] * 3)
    for result in results:
        assert not isinstance(result, Exception), result
    bodies = [body for _, body in results]
    assert all(body["arrived"] >= 3 for body in bodies), bodies  # all three ran at the same time
    assert len({body["stream"] for body in bodies}) == 3
    assert len({body["stream"] for body in bodies}) == 3
    for (response, body) in results:
        assert body["request_id"] == request_id(response)
        assert body["tmp"] == [body["request_id"]]  # each /tmp holds only its own file
    listed = environments_of(aws, "together")
    assert len(listed) == 3
    assert {e["log_stream"] for e in listed} == {body["stream"] for body in bodies}
    assert all(e["invokes"] == 1 and e["cold_starts"] == 1 for e in listed)


def test_a_sequential_invoke_after_concurrent_ones_reuses_a_warm_environment(aws, lam, iam):
    aws.client("s3").create_bucket(Bucket="rendezvous")
    create_function(lam, "together", RENDEZVOUS, rendezvous_role(iam), Timeout=60)
    results = invoke_in_threads(aws, "together", [{"expected": 2}] * 2)
    streams = {body["stream"] for _, body in results}
    assert len(streams) == 2
    response, body = invoke_json(lam, "together", {"expected": 0}, LogType="Tail")
    assert body["stream"] in streams
    assert not is_cold(response)
    assert len(environments_of(aws, "together")) == 2


# --- changes and idleness ------------------------------------------------------------------------

def test_update_function_code_gives_a_new_environment(aws, lam, role):
    create_function(lam, "stateful", STATEFUL, role)
    invoke_json(lam, "stateful")
    _, before = invoke_json(lam, "stateful")
    assert before["count"] == 2
    old = environments_of(aws, "stateful")
    lam.update_function_code(FunctionName="stateful",
                             ZipFile=make_zip({"lambda_function.py": STATEFUL + "\nVERSION = 2\n"}))
    response, after = invoke_json(lam, "stateful", LogType="Tail")
    assert is_cold(response)
    assert after["count"] == 1
    assert after["stream"] != before["stream"]
    assert after["environment"] != before["environment"]
    assert after["had_file"] is False  # a new environment has a new /tmp
    listed = environments_of(aws, "stateful")
    assert len(listed) == 1 and listed[0]["id"] != old[0]["id"]
    assert_no_leaked_processes(aws)


def test_update_function_configuration_gives_a_new_environment(aws, lam, role):
    create_function(lam, "stateful", STATEFUL, role)
    invoke_json(lam, "stateful")
    _, before = invoke_json(lam, "stateful")
    lam.update_function_configuration(FunctionName="stateful", MemorySize=256,
                                      Environment={"Variables": {"MODE": "new"}})
    response, after = invoke_json(lam, "stateful", LogType="Tail")
    assert is_cold(response)
    assert "Memory Size: 256 MB" in report_line(log_tail(response))
    assert after["count"] == 1 and after["stream"] != before["stream"]
    second, again = invoke_json(lam, "stateful", LogType="Tail")
    assert not is_cold(second) and again["count"] == 2
    assert len(environments_of(aws, "stateful")) == 1
    assert_no_leaked_processes(aws)


def test_a_deleted_function_leaves_no_environment(aws, lam, role):
    create_function(lam, "stateful", STATEFUL, role)
    invoke_json(lam, "stateful")
    assert len(environments_of(aws, "stateful")) == 1
    lam.delete_function(FunctionName="stateful")
    wait_until(lambda: not environments_of(aws, "stateful"), 10, 0.1, "the environment to go")
    wait_until(lambda: not environment_processes(aws), 20, 0.2, "no environment processes")


@pytest.fixture
def short_lived(tmp_path: Path):
    cloud = start_cloud(tmp_path / "home", {"LAMBDALAB_IDLE_LIFETIME_S": "1"})
    yield cloud
    cloud.stop()


def test_idle_environments_are_reclaimed_after_the_configured_lifetime(short_lived):
    lam = short_lived.client("lambda")
    role = create_role(short_lived.client("iam"))
    create_function(lam, "stateful", STATEFUL, role)
    first, one = invoke_json(lam, "stateful", LogType="Tail")
    assert is_cold(first)
    wait_until(lambda: not environments_of(short_lived, "stateful"), 20, 0.2, "the idle environment to go")
    wait_until(lambda: not environment_processes(short_lived), 20, 0.2, "no environment processes")
    again, two = invoke_json(lam, "stateful", LogType="Tail")
    assert is_cold(again)
    assert two["count"] == 1 and two["had_file"] is False
    assert two["stream"] != one["stream"]


# --- timeouts ------------------------------------------------------------------------------------

SPINNER = """
import os
INITS = os.environ.get('MARK', 'x')
COUNT = 0
def handler(event, context):
    global COUNT
    COUNT += 1
    if event.get('spin'):
        open('/tmp/before-timeout', 'w').write('kept')
        while True:
            pass
    return {'count': COUNT, 'tmp': os.path.exists('/tmp/before-timeout'), 'stream': context.log_stream_name}
"""


def test_a_timeout_is_an_unhandled_error_with_aws_message_and_the_environment_is_reset(aws, lam, role):
    create_function(lam, "spinner", SPINNER, role, Timeout=1)
    invoke_json(lam, "spinner")
    _, warm = invoke_json(lam, "spinner")
    assert warm["count"] == 2
    response, body = invoke_json(lam, "spinner", {"spin": True}, LogType="Tail")
    rid = request_id(response)
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert re.fullmatch(rf"{ISO_STAMP} {rid} Task timed out after 1\.00 seconds", body["errorMessage"])
    log = log_tail(response)
    assert re.search(rf"^{ISO_STAMP} {rid} Task timed out after 1\.00 seconds$", log, re.MULTILINE)
    report = report_line(log)
    assert "\tDuration: 1000.00 ms\t" in report
    assert "\tBilled Duration: 1000 ms\t" in report
    assert_no_leaked_processes(aws)
    after, again = invoke_json(lam, "spinner", LogType="Tail")
    assert "FunctionError" not in after
    assert is_cold(after)  # the runtime and the code are started again
    assert again["count"] == 1  # globals are gone
    assert again["tmp"] is True  # /tmp is kept
    assert again["stream"] == warm["stream"]  # the same environment
    assert_no_processes_after_reset(aws)


def test_a_sleeping_handler_times_out_with_the_configured_timeout(lam, role):
    create_function(lam, "sleeper", "import time\ndef handler(event, context):\n    time.sleep(30)\n", role,
                    Timeout=2)
    response, body = invoke_json(lam, "sleeper", LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorMessage"].endswith(f"{request_id(response)} Task timed out after 2.00 seconds")
    report = report_line(log_tail(response))
    assert "\tDuration: 2000.00 ms\t" in report
    billed_time = 2000 + float(re.search(r"\tInit Duration: ([\d.]+) ms", report)[1])  # a cold start: INIT billed too
    assert billed_time - 0.01 <= int(re.search(r"\tBilled Duration: (\d+) ms", report)[1]) < billed_time + 1.01


def test_the_init_phase_does_not_count_against_the_timeout(lam, role):
    code = "import time\ntime.sleep(1.5)\ndef handler(event, context):\n    return 'ready'\n"
    create_function(lam, "slow-init", code, role, Timeout=1)
    response, body = invoke_json(lam, "slow-init", LogType="Tail")
    assert "FunctionError" not in response, body
    assert body == "ready"
    init = re.search(r"\tInit Duration: (\d+\.\d\d) ms", report_line(log_tail(response)))
    assert init and float(init.group(1)) >= 1500


# --- crashes -------------------------------------------------------------------------------------

CRASHER = """
import os, sys, time
COUNT = 0
def handler(event, context):
    global COUNT
    COUNT += 1
    what = event.get('do')
    if what == 'memory':
        hog = bytearray(1024 * 1024 * 1024)
        return len(hog)
    if what == 'fork':
        for _ in range(10):  # up to 1024 processes, each waiting
            os.fork()
        time.sleep(20)
        os._exit(0)
    if what == 'exit':
        os._exit(3)
    if what == 'sys.exit':
        sys.exit(2)
    if what == 'segfault':
        import ctypes
        ctypes.string_at(0)
    if what == 'print':
        line = 'x' * 1023 + '\\n'
        block = line * 1024
        for _ in range(100):
            sys.stdout.write(block)
        sys.stdout.flush()
        return 'printed'
    if what == 'stdin':
        return {'read': sys.stdin.read(), 'count': COUNT}
    open('/tmp/alive', 'w').write('yes')
    return {'count': COUNT, 'stream': context.log_stream_name, 'pid': os.getpid()}
"""


def crash_then_recover(aws, lam, role, what: str, memory: int = 128, timeout: int = 10) -> tuple[dict, dict, dict]:
    """Warm the function, crash it with `what`, check nothing leaked, invoke again: all three answers."""
    create_function(lam, "crasher", CRASHER, role, MemorySize=memory, Timeout=timeout)
    _, warm = invoke_json(lam, "crasher")
    assert warm["count"] == 1
    response, body = invoke_json(lam, "crasher", {"do": what}, LogType="Tail")
    assert_no_leaked_processes(aws)
    after, again = invoke_json(lam, "crasher", LogType="Tail")
    assert "FunctionError" not in after, again
    assert again["stream"] == warm["stream"]  # the same environment, reset
    return response, body, {"response": after, "body": again}


def assert_runtime_exit(response: dict, body: dict, reason: str) -> None:
    rid = request_id(response)
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"] == f"RequestId: {rid} Error: Runtime exited with error: {reason}"


def test_a_memory_bomb_is_killed_as_out_of_memory(aws, lam, role):
    response, body, after = crash_then_recover(aws, lam, role, "memory", memory=128)
    assert_runtime_exit(response, body, "signal: killed")
    report = report_line(log_tail(response))
    assert "\tMemory Size: 128 MB\tMax Memory Used: 128 MB" in report
    assert is_cold(after["response"]) and after["body"]["count"] == 1
    assert_no_processes_after_reset(aws)


def test_memory_under_the_limit_is_fine_and_reported(lam, role):
    code = "def handler(event, context):\n    hog = bytearray(80 * 1024 * 1024)\n    return len(hog)\n"
    create_function(lam, "hungry", code, role, MemorySize=128)
    response, body = invoke_json(lam, "hungry", LogType="Tail")
    assert "FunctionError" not in response, body
    assert body == 80 * 1024 * 1024
    used = re.search(r"\tMax Memory Used: (\d+) MB", report_line(log_tail(response)))
    assert used and 80 <= int(used.group(1)) <= 128


def test_a_fork_bomb_ends_aws_shaped_and_leaves_no_process(aws, lam, role):
    response, body, after = crash_then_recover(aws, lam, role, "fork", memory=128, timeout=10)
    assert_runtime_exit(response, body, "signal: killed")
    assert is_cold(after["response"])
    assert_no_processes_after_reset(aws)


def test_os_exit_is_a_runtime_exit_error_with_its_status(aws, lam, role):
    response, body, after = crash_then_recover(aws, lam, role, "exit")
    assert_runtime_exit(response, body, "exit status 3")
    assert is_cold(after["response"]) and after["body"]["count"] == 1
    assert_no_processes_after_reset(aws)


def test_sys_exit_in_the_handler_is_a_runtime_exit_error(aws, lam, role):
    response, body, after = crash_then_recover(aws, lam, role, "sys.exit")
    assert_runtime_exit(response, body, "exit status 2")
    assert is_cold(after["response"])
    assert_no_processes_after_reset(aws)


def test_a_segfault_is_a_runtime_exit_error(aws, lam, role):
    response, body, after = crash_then_recover(aws, lam, role, "segfault")
    assert_runtime_exit(response, body, "signal: segmentation fault")
    assert is_cold(after["response"]) and after["body"]["count"] == 1
    assert_no_processes_after_reset(aws)


def test_printing_100_mb_succeeds(aws, lam, role):
    response, body, after = crash_then_recover(aws, lam, role, "print", timeout=60)
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert body == "printed"
    assert report_line(log_tail(response))
    assert not is_cold(after["response"]) and after["body"]["count"] == 3  # nothing was reset
    assert_no_processes_after_reset(aws)


def test_reading_stdin_returns_nothing_at_once(aws, lam, role):
    response, body, after = crash_then_recover(aws, lam, role, "stdin", timeout=5)
    assert "FunctionError" not in response
    assert body == {"read": "", "count": 2}
    assert not is_cold(after["response"]) and after["body"]["count"] == 3
    assert_no_processes_after_reset(aws)


# --- /tmp --------------------------------------------------------------------------------------

FILLER = """
import os, time
def handler(event, context):
    if event.get('look'):
        time.sleep(event.get('then_sleep', 0))
        return {name: os.path.getsize(os.path.join('/tmp', name)) for name in os.listdir('/tmp')}
    if event.get('clean'):
        for name in os.listdir('/tmp'):
            os.remove(os.path.join('/tmp', name))
        return sorted(os.listdir('/tmp'))
    chunk = b'x' * (1024 * 1024)
    with open('/tmp/big.bin', 'wb') as f:
        for _ in range(event['mb']):
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    time.sleep(event.get('then_sleep', 0))
    size = os.path.getsize('/tmp/big.bin')
    os.remove('/tmp/big.bin')
    return size
"""


def test_writing_more_than_512_mb_to_tmp_fails_with_no_space_left(aws, lam, role):
    create_function(lam, "filler", FILLER, role, Timeout=30)
    response, body = invoke_json(lam, "filler", {"mb": 600, "then_sleep": 3})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorMessage"].startswith("[Errno 28] No space left on device")
    assert_no_leaked_processes(aws)
    assert_no_processes_after_reset(aws)


def test_the_environment_works_again_after_tmp_was_filled(aws, lam, role):
    """AWS refuses the write at the limit; Lambda Lab stops the runtime and empties /tmp, so
    later invokes of the same environment work, as they would on AWS."""
    create_function(lam, "filler", FILLER, role, Timeout=30)
    response, body = invoke_json(lam, "filler", {"mb": 600, "then_sleep": 3})
    assert body["errorType"] == "OSError"
    assert "emptied /tmp" in body["errorMessage"]
    response, body = invoke_json(lam, "filler", {"look": True, "then_sleep": 1})
    assert "FunctionError" not in response, body
    assert body == {}


def test_more_ephemeral_storage_allows_more_tmp(lam, role):
    create_function(lam, "filler", FILLER, role, Timeout=30, EphemeralStorage={"Size": 1024})
    response, body = invoke_json(lam, "filler", {"mb": 600, "then_sleep": 0.5})
    assert "FunctionError" not in response, body
    assert body == 600 * 1024 * 1024


def test_tmp_is_private_to_each_function(lam, role):
    writer = "def handler(event, context):\n    open('/tmp/secret.txt', 'w').write('mine')\n    return 'written'\n"
    reader = ("import os\ndef handler(event, context):\n"
              "    return [os.path.exists('/tmp/secret.txt'), os.path.exists('/tmp/' + event['host_file'])]\n")
    create_function(lam, "writer", writer, role)
    create_function(lam, "reader", reader, role)
    assert invoke_json(lam, "writer")[1] == "written"
    host_file = Path("/tmp") / f"lambdalab-host-{uuid.uuid4().hex}"
    host_file.write_text("the host's own /tmp")
    try:
        assert invoke_json(lam, "reader", {"host_file": host_file.name})[1] == [False, False]
    finally:
        host_file.unlink()


def test_tmp_of_a_function_starts_empty(lam, role):
    code = "import os\ndef handler(event, context):\n    return sorted(os.listdir('/tmp'))\n"
    create_function(lam, "lister", code, role)
    assert invoke_json(lam, "lister")[1] == []


def test_tempfile_uses_the_private_tmp(lam, role):
    code = (
        "import os, tempfile\n"
        "def handler(event, context):\n"
        "    with tempfile.NamedTemporaryFile(dir=None, delete=False) as f:\n"
        "        f.write(b'data')\n"
        "    return os.path.basename(f.name) in os.listdir('/tmp')\n"
    )
    create_function(lam, "tempfiles", code, role)
    assert invoke_json(lam, "tempfiles")[1] is True


def test_an_environment_may_hold_at_most_1024_open_files(lam, role):
    code = ("import resource\n"
            "def handler(event, context):\n"
            "    files = []\n"
            "    try:\n"
            "        while len(files) < 5000:\n"
            "            files.append(open('/dev/null'))\n"
            "    except OSError as error:\n"
            "        message = str(error)\n"
            "    finally:\n"
            "        count = len(files)\n"
            "        for f in files:\n"
            "            f.close()\n"
            "    return {'opened': count, 'error': message, 'limit': resource.getrlimit(resource.RLIMIT_NOFILE)}\n")
    create_function(lam, "opener", code, role)
    response, body = invoke_json(lam, "opener")
    assert "FunctionError" not in response, body
    assert body["limit"] == [1024, 1024]
    assert 1000 < body["opened"] < 1024
    assert "Too many open files" in body["error"]
