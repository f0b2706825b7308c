"""`vward bench realtime` says where the CPU of a load went (benchmarks/realtime_cpu.py):
each part's CPU seconds from /proc, over the load's wall time, of one core."""

from __future__ import annotations

import os
import time

from benchmarks import realtime_cpu as cpu


def test_shares_count_each_process_from_its_first_sample() -> None:
    before = {"PostgreSQL": {10: 5.0, 11: 1.0}, "engine": {20: 2.0}}
    after = {"PostgreSQL": {10: 6.0, 12: 0.5}, "engine": {20: 3.5}}  # 11 ended, 12 began
    used = cpu.shares(before, after, 2.0)
    assert used == {"PostgreSQL": (1.0 + 0.5) / 2.0, "engine": 0.75}
    text = cpu.line(used, 0.25)
    assert "PostgreSQL 75%" in text and "engine 75%" in text and "devices 25%" in text
    assert f"in all 175% of {(os.cpu_count() or 1) * 100} %" in text


def test_cpu_seconds_of_a_busy_process_grow_and_a_gone_one_is_none() -> None:
    me = os.getpid()
    first = cpu.cpu_seconds(me)
    end = time.process_time() + 0.2
    while time.process_time() < end:
        pass
    assert first is not None and cpu.cpu_seconds(me) >= first + 0.1
    assert cpu.cpu_seconds(2 ** 22 + 7) is None  # above any pid Linux hands out
    assert me in cpu.children(os.getppid())
