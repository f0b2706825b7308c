"""The judgement "is alerting stopped, since when" (ward/health.py), at its edges:
exactly three intervals, no engine ever, one of two engines dead, clocks that
disagree.  Pure: rows in, verdict out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ward import health
from ward.health import Probe, assess, judge_alerting
from ward.records import HeartbeatRow

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
OK = Probe(True, "reachable")
S = timedelta(seconds=1)


def engine(name="vward-alerts-1", *, tick_age: float | None = 1.0, beat_age: float = 1.0,
           wards=(), interval=5.0, started_age=3600.0, stopped_age: float | None = None,
           ) -> HeartbeatRow:
    return HeartbeatRow(
        "alerts", name, 4242, "host-a", list(wards), interval, NOW - started_age * S,
        NOW - beat_age * S, None if tick_age is None else NOW - tick_age * S, None, None, None,
        None, None if stopped_age is None else NOW - stopped_age * S)


def worker(name="vward-ingest-1", *, beat_age=1.0, interval=10.0) -> HeartbeatRow:
    return HeartbeatRow("ingest", name, 77, "host-b", [], interval, NOW - 3600 * S,
                        NOW - beat_age * S, None, NOW - 2 * S, 10, 70, True, None)


def test_an_engine_that_ticked_recently_is_running():
    a = judge_alerting([engine(tick_age=1)], NOW)
    assert a.running and a.since is None
    assert a.engines[0].state == health.TICKING
    assert a.message.startswith("alerting running: last check 07:59:59Z")


def test_stopped_at_exactly_three_intervals_not_a_moment_before():
    just_before = 3 * 5.0 - 1e-6
    assert judge_alerting([engine(tick_age=just_before, beat_age=just_before)], NOW).running
    a = judge_alerting([engine(tick_age=15.0, beat_age=15.0)], NOW)
    assert not a.running
    assert a.since == NOW - 15 * S
    assert a.message.startswith("alerting stopped since 07:59:45Z (15 s ago)")


def test_the_interval_is_the_one_each_engine_recorded():
    # 20 s without a tick: stopped for an engine of 5 s, running for one of 10 s.
    assert not judge_alerting([engine(tick_age=20, beat_age=20, interval=5)], NOW).running
    assert judge_alerting([engine(tick_age=20, beat_age=20, interval=10)], NOW).running


def test_no_engine_ever_is_alerting_stopped():
    a = judge_alerting([worker()], NOW)
    assert not a.running and a.since is None
    assert "no alerts engine has ever run" in a.message
    h = assess([worker()], NOW, database=OK, broker=OK)
    assert h.status == "alerting_stopped" and h.failing


def test_one_of_two_engines_of_the_same_wards_dead_stops_nothing():
    # The spare beats and ticks now that the lock is free; the dead one is reported.
    rows = [engine("e1", tick_age=600, beat_age=600), engine("e2", tick_age=2)]
    a = judge_alerting(rows, NOW)
    assert a.running
    assert [e.state for e in a.engines] == [health.STOPPED, health.TICKING]
    assert assess(rows, NOW, database=OK, broker=OK).status == "degraded"


def test_a_spare_that_only_waits_keeps_nothing_running():
    # Alive but not ticking (another engine held the tick): its wards are not covered
    # once that other engine is gone.
    rows = [engine("e1", tick_age=600, beat_age=600), engine("e2", tick_age=None, beat_age=1)]
    a = judge_alerting(rows, NOW)
    assert [e.state for e in a.engines] == [health.STOPPED, health.WAITING]
    assert not a.running and a.since == NOW - 600 * S


def test_one_of_two_engines_of_different_wards_dead_stops_alerting_for_its_wards():
    rows = [engine("e1", wards=["ward-a"], tick_age=120, beat_age=120),
            engine("e2", wards=["ward-b"], tick_age=1)]
    a = judge_alerting(rows, NOW)
    assert not a.running
    assert [s.wards for s in a.stopped_sets] == [("ward-a",)]
    assert a.since == NOW - 120 * S
    assert "alerting stopped since 07:58:00Z (2 min 0 s ago) for wards ward-a" in a.message


def test_an_engine_of_every_ward_covers_a_dead_partition():
    rows = [engine("e1", wards=["ward-a"], tick_age=120, beat_age=120),
            engine("all", wards=[], tick_age=1)]
    assert judge_alerting(rows, NOW).running
    # ... but partitions never cover an engine of every ward.
    rows = [engine("all", wards=[], tick_age=120, beat_age=120),
            engine("e1", wards=["ward-a"], tick_age=1)]
    a = judge_alerting(rows, NOW)
    assert not a.running and [s.wards for s in a.stopped_sets] == [health.ALL_WARDS]


def test_a_just_started_engine_has_three_intervals_to_tick():
    starting = engine(tick_age=None, beat_age=0.5, started_age=2)
    assert judge_alerting([starting], NOW).engines[0].state == health.STARTING
    assert judge_alerting([starting], NOW).running
    slow = engine(tick_age=None, beat_age=14, started_age=15)
    assert not judge_alerting([slow], NOW).running
    # A restarted engine keeps its last tick of before: starting, and it says since when.
    restarted = engine(tick_age=900, beat_age=1, started_age=2)
    assert judge_alerting([restarted], NOW).engines[0].state == health.STARTING


def test_a_cleanly_stopped_engine_stopped_alerting_at_once():
    a = judge_alerting([engine(tick_age=1, beat_age=1, stopped_age=0.5)], NOW)
    assert not a.running and a.since == NOW - 1 * S


def test_a_tick_far_ahead_of_the_database_clock_is_not_believed():
    # The database's clock stepped back an hour: an engine that died just before must
    # not look alive for the next hour.
    ahead = engine(tick_age=-3600, beat_age=-3600)
    a = judge_alerting([ahead], NOW)
    assert not a.running and a.engines[0].skewed
    assert a.engines[0].tick is None


def test_a_tick_a_moment_ahead_counts_as_now():
    a = judge_alerting([engine(tick_age=-0.2, beat_age=-0.2)], NOW)
    assert a.running and not a.engines[0].skewed
    assert a.engines[0].tick == NOW
    edge = health.SKEW_TOLERANCE.total_seconds()
    assert judge_alerting([engine(tick_age=-edge, beat_age=-edge)], NOW).running
    assert not judge_alerting([engine(tick_age=-edge - 0.001, beat_age=-edge)], NOW).running


def test_ingest_and_the_broker_degrade_but_never_fail_the_check():
    rows = [engine(), worker(beat_age=31)]
    h = assess(rows, NOW, database=OK, broker=Probe(False, "broker unreachable"))
    assert h.status == "degraded" and not h.failing
    assert [w.running for w in h.ingest] == [False]
    assert assess([engine(), worker(beat_age=29)], NOW, database=OK, broker=OK).status == "ok"


def test_an_unreadable_database_fails_the_check():
    h = assess(None, NOW, database=Probe(False, "database unreachable: refused"), broker=OK)
    assert h.status == "database_unreachable" and h.failing and h.alerting is None
    assert "cannot be known" in h.message


def test_status_lines_say_ok_or_stopped_with_times_and_ages():
    rows = [engine("e1", wards=["ward-a"], tick_age=120, beat_age=120),
            engine("e2", wards=["ward-b"], tick_age=1), worker()]
    lines = health.status_lines(assess(rows, NOW, database=OK, broker=OK))
    assert lines[0].split()[:2] == ["database", "OK"]
    assert lines[2].split()[:2] == ["alerting", "STOPPED"]
    assert "since 07:58:00Z (2 min 0 s ago)" in lines[2]
    assert lines[3].split()[:2] == ["engine", "STOPPED"] and "wards ward-a" in lines[3]
    assert lines[4].split()[:2] == ["engine", "OK"] and "ticking" in lines[4]
    assert lines[5].split()[:2] == ["ingest", "OK"] and "70 readings" in lines[5]
    assert lines[-1] == "ward: ALERTING STOPPED"


def test_ages_read_as_people_say_them():
    assert health.age(timedelta(seconds=0.4)) == "0.4 s"
    assert health.age(timedelta(seconds=243)) == "4 min 3 s"
    assert health.age(timedelta(hours=2, minutes=5)) == "2 h 5 min"
    assert health.when(NOW - timedelta(days=1), NOW).startswith("2026-11-22 08:00:00Z")
