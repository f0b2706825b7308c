"""ward.processes.running: a zombie is not a live process (issue 9: `vward up`
right after a broker crash took the dead broker's zombie for a running one)."""

from __future__ import annotations

import os
import subprocess
import sys

from ward import processes


def test_a_live_child_runs_and_its_zombie_does_not():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert processes.running(child.pid)
        child.kill()
        # Not reaped yet: a zombie, which os.kill(pid, 0) still "finds".
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
        os.kill(child.pid, 0)
        assert not processes.running(child.pid)
    finally:
        child.kill()
        child.wait()
    assert not processes.running(child.pid)


def test_this_process_runs_and_its_environment_is_read():
    assert processes.running(os.getpid())
    env = processes.environ(os.getpid())
    assert env is not None and "PATH" in env
