"""CPU in proportion to memory: a busy environment gets memory/1,769 of a vCPU, by stopping and
continuing its process group, without ever waking a frozen environment, without slowing code
that waits, and without getting in the way of timeouts and memory kills.

No timing is asserted. A handler counts the SIGCONTs it receives while it computes: each one
is the slicer giving its time back, so a count above zero proves it was stopped and continued.
The arithmetic is checked on simulated time."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lambdalab.engine import cpu_share
from lambdalab.engine.cpu_share import FROZEN, OUT_OF_CPU, CpuBudget, GroupCpuClock, GroupStops
from lambdalab.core.settings import Settings
from support import (create_function, environment_processes, invoke_json, runtime_pid, log_tail, report_line, start_cloud,
                     wait_until)

SETTINGS = Settings()
LOOP = 4_000_000  # about 0.15 s of CPU here: dozens of slices at 128 MB, even if the slicer looks late

# Counts the SIGCONTs that reach the runtime while the handler computes (or sleeps).
COUNTING = """
import os, signal, time
def handler(event, context):
    continues = []
    signal.signal(signal.SIGCONT, lambda *_: continues.append(1))
    if event.get('sleep'):
        time.sleep(event['sleep'])
    n = 0
    for i in range(event.get('loop', 0)):
        n += i
    signal.signal(signal.SIGCONT, signal.SIG_DFL)
    return {'continues': len(continues), 'environment': os.environ['LAMBDALAB_ENVIRONMENT_ID']}
"""

# The same count, during the module's own code: the Init phase.
COUNTING_AT_INIT = """
import signal
continues = []
signal.signal(signal.SIGCONT, lambda *_: continues.append(1))
n = 0
for i in range(%d):
    n += i
signal.signal(signal.SIGCONT, signal.SIG_DFL)
def handler(event, context):
    return {'continues_at_init': len(continues)}
""" % LOOP

# The work is done by a child process; the handler only waits for it.
CHILD_WORKS = """
import signal, subprocess, sys
def handler(event, context):
    continues = []
    signal.signal(signal.SIGCONT, lambda *_: continues.append(1))
    subprocess.run([sys.executable, '-c', 'n = 0\\nfor i in range(%d): n += i' % event['loop']], check=True)
    signal.signal(signal.SIGCONT, signal.SIG_DFL)
    return {'continues': len(continues)}
"""

FOREVER = "def handler(event, context):\n    while True:\n        pass\n"
MEMORY_BOMB = """
def handler(event, context):
    hog = []
    while True:
        hog.append(bytearray(8 * 1024 * 1024))
"""


def process_state(pid: int) -> str:
    """The kernel's one-letter state of pid: R running, S sleeping, T stopped, '' once gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return ""


def states_for(pid: int, seconds: float) -> set[str]:
    """Every state pid was seen in over a short while."""
    seen, until = set(), time.monotonic() + seconds
    while time.monotonic() < until:
        seen.add(process_state(pid))
        time.sleep(0.002)
    return seen


def counting_invoke(lam, name: str, **event: object) -> dict:
    response, body = invoke_json(lam, name, event)
    assert "FunctionError" not in response, body
    return body


# --- the arithmetic, on simulated time -----------------------------------------------------------

def test_the_share_is_memory_over_1769_mb_and_aws_rounds_vcpus_up():
    assert cpu_share.vcpu_share(1769, SETTINGS) == 1.0
    assert cpu_share.vcpu_share(128, SETTINGS) == pytest.approx(0.0724, abs=1e-4)
    assert [cpu_share.aws_vcpus(m, SETTINGS) for m in (128, 1769, 1770, 3008, 10240)] == [1, 1, 2, 2, 6]
    assert CpuBudget(128 / 1769, 0.05).capacity_s == pytest.approx(0.00362, abs=1e-5)


def simulate(share: float, demand: float, latency_s: float = 0.0007, seconds: float = 30.0,
             period_s: float = 0.05, queued_s: float = 0.0, report_waits: bool = True) -> tuple[float, int]:
    """A process that would use `demand` cores, sliced by CpuBudget looking `latency_s` late each time.

    A busy machine: each time the process is continued it waits `queued_s` on a run queue (other
    processes hold the cores) before it runs; the budget is told how long it waited, as the
    kernel's run_delay would tell it, unless report_waits is False.

    Returns the CPU it got per second of wall time, and how many times it was stopped.
    """
    budget = CpuBudget(share, period_s)
    now, used_total, stops, stopped, next_look, queue_left = 0.0, 0.0, 0, False, 0.0, queued_s
    while now < seconds:
        elapsed = next_look + latency_s - now
        waited = 0.0 if stopped else min(queue_left, elapsed)
        queue_left -= waited
        used = 0.0 if stopped else (elapsed - waited) * demand
        now, used_total = now + elapsed, used_total + used
        budget.update(elapsed, used, stopped, waited if report_waits else 0.0)
        if stopped and budget.should_continue():
            stopped, queue_left = False, queued_s
        elif not stopped and budget.should_stop():
            stopped, stops = True, stops + 1
        next_look = now + budget.seconds_until_next_look(stopped)
    return used_total / now, stops


@pytest.mark.parametrize("memory_mb", [128, 256, 512, 1024, 1536])
def test_a_cpu_bound_process_gets_its_share_even_when_the_slicer_looks_late(memory_mb):
    share = memory_mb / 1769
    got, stops = simulate(share, demand=1.0)
    assert got == pytest.approx(share, rel=0.03)
    assert stops > 0


def test_a_multithreaded_process_above_1769_mb_gets_its_vcpus_and_no_more():
    got, _ = simulate(3008 / 1769, demand=2.0)
    assert got == pytest.approx(3008 / 1769, rel=0.03)


def test_a_process_that_waits_is_never_stopped():
    got, stops = simulate(128 / 1769, demand=0.01)
    assert stops == 0 and got == pytest.approx(0.01)


def test_debt_is_paid_back_so_a_late_look_costs_nothing_in_the_long_run():
    got, _ = simulate(128 / 1769, demand=1.0, latency_s=0.01)
    assert got == pytest.approx(128 / 1769, rel=0.03)


@pytest.mark.parametrize("queued_s", [0.005, 0.02, 0.08])
def test_a_busy_machine_does_not_shrink_the_share(queued_s):
    # Continued with a full bucket, the process waits for a core; what came in meanwhile is owed.
    share = 128 / 1769
    got, stops = simulate(share, demand=1.0, queued_s=queued_s)
    assert got == pytest.approx(share, rel=0.03)
    assert stops > 0
    # Unaccounted, the wait would have been lost from every period: the function gets less than its share.
    lost, _ = simulate(share, demand=1.0, queued_s=queued_s, report_waits=False)
    assert lost < share * 0.95


def test_waiting_for_a_core_is_owed_but_a_process_sleeping_on_io_banks_nothing():
    budget = CpuBudget(128 / 1769, 0.05)
    budget.update(1.0, 0.0, stopped=False)  # a second asleep: still one quota at most
    assert budget.tokens_s == pytest.approx(budget.capacity_s)
    budget.update(1.0, 0.0, stopped=False, waited_s=0.5)  # half a second runnable, no core free
    assert budget.tokens_s == pytest.approx(budget.capacity_s + 0.5 * 128 / 1769)
    budget.update(0.1, 0.0, stopped=False, waited_s=5.0)  # a wait is never longer than the time that passed
    assert budget.tokens_s == pytest.approx(budget.capacity_s + 0.6 * 128 / 1769)
    budget.start_invoke()  # what one invoke was owed does not carry over to the next
    assert budget.tokens_s == pytest.approx(budget.capacity_s)
    budget.update(0.01, 0.02, stopped=False)
    debt = budget.tokens_s
    budget.start_invoke()  # a debt does
    assert budget.tokens_s == debt < 0


def test_the_run_queue_wait_of_a_busy_process_is_read_from_the_kernel():
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
    try:
        assert cpu_share.run_delay_ns(spinner.pid) is not None
        clock = GroupCpuClock(spinner.pid)
        assert clock.waited_seconds() >= 0.0
        assert cpu_share.run_delay_ns(2**22 + 12345) is None  # no such process
    finally:
        spinner.kill()
        spinner.wait()


def test_the_machine_cpus_follow_a_cgroup_quota(tmp_path: Path):
    affinity = len(os.sched_getaffinity(0))
    (tmp_path / "cpu.max").write_text("50000 100000\n")
    assert cpu_share.machine_cpus(tmp_path) == min(affinity, 0.5)
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cpu_share.machine_cpus(tmp_path) == affinity
    assert cpu_share.machine_cpus(tmp_path / "absent") == affinity


def test_the_init_note_appears_only_when_the_machine_has_fewer_cpus_than_aws_would_give():
    note = cpu_share.init_note(10240, SETTINGS, cpus=2)
    assert note == ("lambdalab: this function's 10240 MB would get 6 vCPUs on AWS (5.79 vCPUs of CPU time); "
                    "this machine has 2, so it gets 2")
    assert cpu_share.init_note(3538, SETTINGS, cpus=2) is None
    assert cpu_share.init_note(128, SETTINGS, cpus=1) is None
    assert "this machine has 1.5" in cpu_share.init_note(3008, SETTINGS, cpus=1.5)


# --- stopping for two reasons, and counting a group's CPU -------------------------------------------

@pytest.fixture
def sleeper():
    process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    yield process
    process.kill()
    process.wait()


def wait_for_state(pid: int, stopped: bool) -> None:
    wait_until(lambda: (process_state(pid) == "T") == stopped, 5, 0.005, f"pid {pid} stopped={stopped}")


def test_a_frozen_group_stays_frozen_when_its_cpu_share_comes_back(sleeper):
    stops = GroupStops(sleeper.pid)
    stops.hold(FROZEN)
    wait_for_state(sleeper.pid, stopped=True)
    stops.hold(OUT_OF_CPU)
    stops.release(OUT_OF_CPU)
    assert states_for(sleeper.pid, 0.1) == {"T"}
    stops.release(FROZEN)
    wait_for_state(sleeper.pid, stopped=False)


def test_a_thaw_does_not_continue_a_group_out_of_cpu_share(sleeper):
    stops = GroupStops(sleeper.pid)
    stops.hold(OUT_OF_CPU)
    wait_for_state(sleeper.pid, stopped=True)
    stops.hold(FROZEN)
    stops.release(FROZEN)
    assert states_for(sleeper.pid, 0.1) == {"T"} and stops.stopped
    stops.release(OUT_OF_CPU)
    wait_for_state(sleeper.pid, stopped=False)
    assert not stops.stopped


def test_the_group_clock_counts_child_processes_too():
    script = ("import subprocess, sys, time\n"
              "subprocess.run([sys.executable, '-c', 'n = 0\\nfor i in range(3_000_000): n += i'])\n"
              "print('done', flush=True)\n"
              "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, start_new_session=True)
    try:
        clock = GroupCpuClock(parent.pid)
        assert parent.stdout.readline() == b"done\n"
        own = cpu_share.process_cpu_ns(parent.pid) / 1e9
        total = clock.seconds(time.monotonic() + cpu_share.FAMILY_REFRESH_S)
        assert total > own + 0.02  # the child's loop, reaped into its parent's children's time
    finally:
        parent.kill()
        parent.wait()


# --- a real cloud ----------------------------------------------------------------------------------

def test_a_cpu_bound_128_mb_function_is_stopped_and_continued_while_it_computes(lam, role):
    create_function(lam, "small", COUNTING, role, MemorySize=128)
    body = counting_invoke(lam, "small", loop=LOOP)
    assert body["continues"] > 0


def test_the_cpu_of_child_processes_counts_against_the_share(lam, role):
    create_function(lam, "parent", CHILD_WORKS, role, MemorySize=1024, Timeout=60)
    assert counting_invoke(lam, "parent", loop=6 * LOOP)["continues"] > 0


def test_several_busy_environments_are_each_sliced(lam, role):
    create_function(lam, "small", COUNTING, role, MemorySize=128)
    bodies: list[dict] = []
    threads = [threading.Thread(target=lambda: bodies.append(counting_invoke(lam, "small", loop=LOOP)))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(bodies) == 3 and len({body["environment"] for body in bodies}) == 3
    assert all(body["continues"] > 0 for body in bodies)


@pytest.mark.parametrize("memory_mb", [1769, 10240])
def test_a_function_with_a_full_vcpu_is_never_stopped(lam, role, memory_mb):
    create_function(lam, "big", COUNTING, role, MemorySize=memory_mb)
    assert counting_invoke(lam, "big", loop=LOOP)["continues"] == 0


def test_a_128_mb_function_that_sleeps_is_not_stopped(lam, role):
    create_function(lam, "waiter", COUNTING, role, MemorySize=128)
    assert counting_invoke(lam, "waiter", sleep=0.3)["continues"] == 0


def test_the_init_phase_is_not_sliced_by_default(lam, role):
    create_function(lam, "init-heavy", COUNTING_AT_INIT, role, MemorySize=128)
    _, body = invoke_json(lam, "init-heavy")
    assert body == {"continues_at_init": 0}


def test_an_idle_environment_stays_frozen_after_a_sliced_invoke(aws, lam, role):
    create_function(lam, "small", COUNTING, role, MemorySize=128)
    for _ in range(4):
        pid = runtime_pid(aws, counting_invoke(lam, "small", loop=LOOP // 3)["environment"])
        wait_for_state(pid, stopped=True)
        assert states_for(pid, 0.15) == {"T"}


def test_a_timeout_still_fires_while_sliced(lam, role):
    create_function(lam, "spinner", FOREVER, role, MemorySize=128, Timeout=1)
    response, body = invoke_json(lam, "spinner", LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert "Task timed out after 1.00 seconds" in log_tail(response)


def test_a_memory_kill_still_happens_while_sliced(lam, role):
    create_function(lam, "bomb", MEMORY_BOMB, role, MemorySize=128, Timeout=30)
    response, body = invoke_json(lam, "bomb", LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"].endswith("Runtime exited with error: signal: killed")
    assert "Max Memory Used: 128 MB" in report_line(log_tail(response))


def test_the_log_says_when_the_machine_has_fewer_cpus_than_the_memory_buys(lam, role):
    if cpu_share.machine_cpus() >= 10240 / 1769:
        pytest.skip("this machine has as many CPUs as 10,240 MB buys on AWS")
    create_function(lam, "big", COUNTING, role, MemorySize=10240)
    create_function(lam, "small", COUNTING, role, MemorySize=128)
    big, _ = invoke_json(lam, "big", LogType="Tail")
    small, _ = invoke_json(lam, "small", LogType="Tail")
    init_lines = log_tail(big).split("START RequestId")[0]
    assert "lambdalab: this function's 10240 MB would get 6 vCPUs on AWS" in init_lines
    assert "vCPUs on AWS" not in log_tail(small)


# --- the settings ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def unfrozen_cloud(tmp_path_factory):
    """Idle environments not frozen, and the Init phase sliced too."""
    cloud = start_cloud(tmp_path_factory.mktemp("unfrozen"), {"LAMBDALAB_FREEZE_IDLE_ENVIRONMENTS": "0",
                                                             "LAMBDALAB_CPU_SHARE_DURING_INIT": "1"})
    yield cloud
    cloud.stop()


@pytest.fixture(scope="module")
def unsliced_cloud(tmp_path_factory):
    cloud = start_cloud(tmp_path_factory.mktemp("unsliced"), {"LAMBDALAB_CPU_SHARE": "0"})
    yield cloud
    cloud.stop()


def fresh(cloud):
    from support import create_role

    cloud.reset()
    return cloud.client("lambda"), create_role(cloud.client("iam"))


def test_nothing_is_left_stopped_after_a_sliced_invoke_ends(unfrozen_cloud):
    lam, role = fresh(unfrozen_cloud)
    create_function(lam, "small", COUNTING, role, MemorySize=128)
    for _ in range(4):
        body = counting_invoke(lam, "small", loop=LOOP // 3)
        assert "T" not in states_for(runtime_pid(unfrozen_cloud, body["environment"]), 0.15)
    assert {environment for _, environment in environment_processes(unfrozen_cloud)} == {body["environment"]}


def test_the_init_phase_is_sliced_when_the_setting_says_so(unfrozen_cloud):
    lam, role = fresh(unfrozen_cloud)
    create_function(lam, "init-heavy", COUNTING_AT_INIT, role, MemorySize=128)
    _, body = invoke_json(lam, "init-heavy")
    assert body["continues_at_init"] > 0


def test_the_setting_off_lets_a_128_mb_function_run_unsliced(unsliced_cloud):
    lam, role = fresh(unsliced_cloud)
    create_function(lam, "small", COUNTING, role, MemorySize=128)
    assert counting_invoke(lam, "small", loop=LOOP)["continues"] == 0
    pid = runtime_pid(unsliced_cloud, counting_invoke(lam, "small")["environment"])
    wait_for_state(pid, stopped=True)  # idle environments are still frozen
