"""A notifier's heartbeat in the ward's health (ward/health.py): running while it
beats; one that stopped degrades the ward (nobody is paged) without failing it
(the dashboard still alerts).  Pure: rows in, verdict out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ward import health
from ward.health import Probe, assess
from ward.records import HeartbeatRow

NOW = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
OK = Probe(True, "reachable")
S = timedelta(seconds=1)


def _engine() -> HeartbeatRow:
    return HeartbeatRow("alerts", "vward-alerts-1", 1, "h", [], 5.0, NOW - 3600 * S, NOW - S,
                        NOW - S, None, None, None, None, None)


def _notifier(beat_age: float, stopped: bool = False) -> HeartbeatRow:
    return HeartbeatRow("notifier", "vward-notifier-1", 2, "h", [], 5.0, NOW - 3600 * S,
                        NOW - beat_age * S, NOW - beat_age * S, None, 12, None, None,
                        NOW - beat_age * S if stopped else None)


def test_a_beating_notifier_is_running_and_the_ward_ok() -> None:
    h = assess([_engine(), _notifier(1)], NOW, database=OK, broker=OK)
    assert [n.running for n in h.notifiers] == [True] and h.status == "ok"
    [line] = [x for x in health.status_lines(h) if x.startswith("notifier")]
    assert "OK" in line and "12 notifications planned" in line


def test_a_silent_notifier_degrades_the_ward_without_failing_it() -> None:
    h = assess([_engine(), _notifier(15)], NOW, database=OK, broker=OK)  # 3 intervals
    assert [n.running for n in h.notifiers] == [False]
    assert h.status == "degraded" and not h.failing
    assert any(x.startswith("notifier  STOPPED") for x in health.status_lines(h))


def test_no_notifier_ever_changes_nothing() -> None:
    assert assess([_engine()], NOW, database=OK, broker=OK).status == "ok"


def test_the_health_endpoint_counts_the_notifiers() -> None:
    from api.health import health_out

    h = assess([_engine(), _notifier(1), _other(15)], NOW, database=OK, broker=OK)
    out = health_out(h, full=False)
    assert out.notifiers is not None
    assert (out.notifiers.notifiers_total, out.notifiers.notifiers_running) == (2, 1)
    assert out.status == "degraded"


def _other(beat_age: float) -> HeartbeatRow:
    return HeartbeatRow("notifier", "vward-notifier-2", 3, "h", [], 5.0, NOW - 3600 * S,
                        NOW - beat_age * S, NOW - beat_age * S, None, 0, None, None, None)


def test_a_setting_that_cannot_work_stops_the_notifier_at_start_saying_which(tmp_path) -> None:
    import os
    import subprocess
    import sys

    for name, value, said in (
            ("VWARD_NOTIFY_RETRY_SECONDS", "ten", "VWARD_NOTIFY_RETRY_SECONDS='ten'"),
            ("VWARD_SMS_URL", "twilio://sid:token@+441234567890", "must contain {phone}")):
        env = {k: v for k, v in os.environ.items() if not k.startswith("VWARD_")}
        env.update({"VWARD_HOME": str(tmp_path), name: value})
        done = subprocess.run([sys.executable, "-m", "ward.cli", "notifier"], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and said in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
