"""What `vward simulate` says before it starts and when it stops, pure: who
follows which course (so a demo watcher knows who should deteriorate), the
faults, where the run sits in time; and the final figures."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import groupby

from simulators.faults import FaultRates
from simulators.pacing import RunReport, Timeline
from simulators.physiology import COURSES
from simulators.plan import PatientInfo, Simulation
from ward import durations

_LISTED = 6  # a group longer than this is shown as first … last


def describe(sim: Simulation, timeline: Timeline, duration_s: float | None) -> list[str]:
    sc = sim.scenario
    lines = [
        f"simulating ward {sc.ward_id} ({sc.ward_name}): {len(sim.patients):,} patients,"
        f" {len(sim.devices):,} devices; scenario {sc.name}, seed {sim.seed}",
        _time_line(sim, timeline, duration_s),
        f"faults: {_faults(sc.faults)}",
        "who follows which course:",
    ]
    for (group, course), members in groupby(sim.patients, key=lambda p: (p.group, p.course)):
        lines += _group_lines(group, course, list(members), sim, timeline, duration_s)
    return lines


def _time_line(sim: Simulation, timeline: Timeline, duration_s: float | None) -> str:
    start = f"simulated time from {sim.start:%Y-%m-%d %H:%M:%S}Z at {sim.speed:g}×"
    if duration_s is not None:
        end = sim.start + timedelta(seconds=timeline.sim_at(duration_s))
        return f"{start} for {_human(duration_s)} real time, to {end:%Y-%m-%d %H:%M:%S}Z"
    caught = timeline.caught_up_at
    if caught == float("inf"):
        return f"{start} until stopped"
    if caught <= 0:
        return f"{start} until stopped (in real time)"
    return (
        f"{start}; it reaches the present after about {_human(caught)} and then runs in"
        " real time, until stopped"
    )


def _group_lines(
    group: str,
    course: str,
    members: list[PatientInfo],
    sim: Simulation,
    timeline: Timeline,
    duration_s: float | None,
) -> list[str]:
    scale = " on SpO2 scale 2" if members[0].spo2_scale == 2 else ""
    head = f"  {group} ({len(members)}, course {course}{scale})"
    if course == "stable" or COURSES[course].falling:
        what = "no change" if course == "stable" else "improving"
        return [f"{head}: {_ids(members)}: {what}"]
    lines = [f"{head}: deteriorating"]
    for p in members:
        at = sim.start + timedelta(seconds=p.onset_s)
        real = timeline.real_at(max(p.onset_s, 0.0))
        when = (
            "after this run ends"
            if duration_s is not None and real > duration_s
            else f"about {_human(real)} after sending starts"
        )
        lines.append(
            f"    {p.patient_id}: from {at:%H:%M:%S}Z simulated (+{_human(p.onset_s)}), {when}"
        )
    return lines


def _ids(members: list[PatientInfo]) -> str:
    ids = [p.patient_id for p in members]
    return ", ".join(ids) if len(ids) <= _LISTED else f"{ids[0]} … {ids[-1]}"


def _faults(f: FaultRates) -> str:
    parts = []
    if f.offline_per_hour:
        lo, hi = f.offline_hours
        parts.append(f"offline {f.offline_per_hour:g}/device-hour for {lo:g}-{hi:g} h")
    for name in ("duplicate", "out_of_order", "malformed", "implausible"):
        if getattr(f, name):
            parts.append(f"{name.replace('_', ' ')} {getattr(f, name):.1%} of messages")
    if f.clock_skew:
        parts.append(f"clock skew {f.clock_skew:.0%} of devices (±{f.clock_skew_minutes:g} min)")
    if f.low_battery:
        parts.append(f"low battery {f.low_battery:.0%} of devices")
    return ", ".join(parts) or "none"


def _human(seconds: float) -> str:
    """A run's length or a course's onset to the minute (ward/durations.py)."""
    return durations.text(abs(seconds), finest="min")


def final(report: RunReport, start: datetime) -> list[str]:
    sent = sum(report.sent.values())
    rate = sent / report.run_s if report.run_s > 0 else 0.0
    end = start + timedelta(seconds=report.sim_seconds)
    return [
        f"stopped ({report.stopped_by}) after {_human(report.run_s)}; simulated up to"
        f" {end:%Y-%m-%d %H:%M:%S}Z",
        f"sent {report.sent['readings']:,} readings and {report.sent['status']:,} status"
        f" messages ({rate:,.0f} msg/s); the broker acked {report.acked:,}"
        + (f", refused {report.refused:,}" if report.refused else ""),
        f"devices: {report.devices:,}, {report.connected:,} connected at the end"
        + (f", {report.failed:,} never let in" if report.failed else "")
        + f"; lag behind schedule p50 {report.lag_p50_s:.3f} s, p99 {report.lag_p99_s:.3f} s",
    ]
