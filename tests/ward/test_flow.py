"""Capacity and flow, pure (ward/flow.py): the edges NHS England's monthly
figures turn on, pinned without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ward import flow
from ward.errors import WardError

LONDON = ZoneInfo("Europe/London")
LATER = datetime(2027, 6, 1, tzinfo=UTC)  # the months below are over by then


def _t(text: str, tz: ZoneInfo = LONDON) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def _stay(pid, admitted, discharged=None, source=None, outcome=None, readmitted_on=None):
    return flow.Stay(pid, _t(admitted), _t(discharged) if discharged else None, source,
                     outcome, readmitted_on)


def _change(valid_from, beds, set_at="2026-01-01T09:00"):
    return flow.CapacityChange(date.fromisoformat(valid_from), beds, "admin", _t(set_at), "")


def test_month_days_and_refusals():
    assert len(flow.month_days("2026-11")) == 30
    assert flow.month_days("2026-12")[-1] == date(2026, 12, 31)
    assert len(flow.month_days("2028-02")) == 29
    for bad in ("2026-13", "nov", "2026-1", "1969-12"):
        with pytest.raises(WardError, match="not a month"):
            flow.month_days(bad)


def test_a_same_day_stay_is_on_the_ward_that_day_and_lasts_0_days():
    s = _stay("p", "2026-11-10T09:00", "2026-11-10T15:00", outcome="home")
    m = flow.month("w", "2026-11", LONDON, [s], [_change("2026-11-01", 10)], now=LATER)
    day = m.days[9]
    assert (day.day, day.patients, day.admissions, day.discharges) == (date(2026, 11, 10), 1, 1,
                                                                       1)
    assert day.occupied_beds == pytest.approx(6 / 24)
    assert day.occupancy == pytest.approx(6 / 24 / 10)
    assert sum(d.patients for d in m.days) == 1
    assert m.los_days == (0,)
    # However short: admitted and discharged at the same instant, still on the ward that day.
    z = _stay("z", "2026-11-12T09:00", "2026-11-12T09:00")
    patients, beds = flow.occupancy([z.admitted_at], [z.discharged_at],
                                    flow.day_edges(flow.month_days("2026-11"), LONDON))
    assert patients[11] == 1 and patients.sum() == 1 and beds.sum() == 0


def test_a_stay_across_month_ends_counts_in_each_month_it_touches():
    s = _stay("p", "2026-10-30T12:00", "2026-12-02T06:00", source="step-down", outcome="home")
    nov = flow.month("w", "2026-11", LONDON, [s], [], now=LATER)
    assert all(d.patients == 1 for d in nov.days)
    assert all(d.occupied_beds == pytest.approx(1) for d in nov.days)
    assert nov.admitted == () and nov.discharged == ()  # neither happened in November
    dec = flow.month("w", "2026-12", LONDON, [s], [], now=LATER)
    assert [d.patients for d in dec.days[:3]] == [1, 1, 0]
    assert dec.days[1].occupied_beds == pytest.approx(6 / 24)
    assert dec.los_days == (33,)  # 30 Oct → 2 Dec
    oct_ = flow.month("w", "2026-10", LONDON, [s], [], now=LATER)
    assert [a.patient_id for a in oct_.admitted] == ["p"]
    assert flow.sources(oct_)[:2] == [("step-up", 0), ("step-down", 1)]


def test_discharged_at_midnight_is_not_on_the_next_day():
    s = _stay("p", "2026-11-01T08:00", "2026-11-03T00:00")
    m = flow.month("w", "2026-11", LONDON, [s], [], now=LATER)
    assert [d.patients for d in m.days[:4]] == [1, 1, 0, 0]
    assert m.days[2].discharges == 1  # the discharge's own day is the 3rd


def test_a_capacity_change_mid_month_divides_each_day_by_its_own_capacity():
    changes = [_change("2026-10-01", 20), _change("2026-11-16", 40),
               # set twice for the same day: the later set wins
               _change("2026-11-16", 30, set_at="2026-11-15T10:00")]
    stays = [_stay(f"p{i}", "2026-10-01T00:00") for i in range(15)]
    m = flow.month("w", "2026-11", LONDON, stays, changes, now=LATER)
    assert [d.capacity for d in m.days[14:17]] == [20, 30, 30]
    assert m.days[14].occupancy == pytest.approx(0.75)
    assert m.days[15].occupancy == pytest.approx(0.5)
    # The capacity in force when the month began, and the changes within it.
    assert [c.beds for c in m.capacity_changes] == [20, 40, 30]
    assert flow.capacity_by_day(changes, [date(2026, 9, 30)]) == [None]
    assert flow.month("w", "2026-11", LONDON, stays, [], now=LATER).days[0].occupancy is None


def test_clock_change_days_are_23_and_25_hours_long():
    # Europe/London: 29 March 2026 has 23 hours, 25 October 2026 has 25.
    whole = _stay("p", "2026-03-01T00:00", "2026-11-30T00:00")
    for month_text, day, hours in (("2026-03", 29, 23), ("2026-10", 25, 25)):
        days = flow.month_days(month_text)
        edges = flow.day_edges(days, LONDON)
        length = edges[day].astimezone(UTC) - edges[day - 1].astimezone(UTC)
        assert length == timedelta(hours=hours)
        _, beds = flow.occupancy([whole.admitted_at], [whole.discharged_at], edges)
        assert beds[day - 1] == pytest.approx(1)  # on the ward all day: one bed, not 23/24
        # Admitted at noon on the long day: 12 of its 25 hours.
        half = _stay("h", f"{month_text}-{day}T12:00")
        _, b = flow.occupancy([half.admitted_at], [None], edges)
        assert b[day - 1] == pytest.approx(12 / hours)
    # A day is the ward's: 23:30 UTC on 31 October is 31 October in London (GMT)
    # but 1 November in Berlin.
    t = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)
    assert flow.local_day(t, LONDON) == date(2026, 10, 31)
    assert flow.local_day(t, ZoneInfo("Europe/Berlin")) == date(2026, 11, 1)


def test_the_current_month_runs_to_today_and_an_open_stay_fills_its_bed_until_now():
    now = _t("2026-11-10T18:00")
    s = _stay("p", "2026-11-09T12:00")  # still on the ward
    m = flow.month("w", "2026-11", LONDON, [s], [_change("2026-11-01", 5)], now=now)
    assert m.days[-1].day == date(2026, 11, 10) and len(m.days) == 10  # nothing ahead
    assert m.days[-1].occupied_beds == pytest.approx(18 / 24)  # today so far
    assert m.days[-2].occupied_beds == pytest.approx(0.5)
    assert len(flow.table(m, "occupancy", LONDON)[1]) == 10
    with pytest.raises(WardError, match="still to come"):
        flow.month("w", "2026-12", LONDON, [s], [], now=now)


def test_readmission_within_30_days_includes_day_30():
    out = date(2026, 11, 1)
    assert flow.readmitted_within(out, date(2026, 12, 1))        # exactly 30 days
    assert not flow.readmitted_within(out, date(2026, 12, 2))    # 31
    assert flow.readmitted_within(out, out)                      # the same day
    assert not flow.readmitted_within(out, None)
    assert flow.readmission_problem(out, date(2026, 12, 1), "home", date(2026, 12, 3)) is None
    assert "31 days after" in flow.readmission_problem(out, date(2026, 12, 2), "home",
                                                        date(2026, 12, 3))
    assert "before the discharge" in flow.readmission_problem(out, date(2026, 10, 31), None,
                                                              date(2026, 12, 3))
    assert "future" in flow.readmission_problem(out, date(2026, 11, 5), "home", date(2026, 11, 4))
    assert "died" in flow.readmission_problem(out, out, "died", out)
    assert "hospital" in flow.readmission_problem(out, out, "hospital", out)


def test_outcomes_los_and_tables():
    stays = [_stay("a", "2026-11-01T10:00", "2026-11-04T10:00", "step-up", "home",
                   date(2026, 12, 4)),                       # readmitted 30 days on
             _stay("b", "2026-11-02T10:00", "2026-11-30T23:59", "step-down", "hospital"),
             _stay("c", "2026-11-03T10:00", "2026-11-05T10:00", None, None,
                   date(2026, 12, 6)),                       # 31 days: not counted
             _stay("d", "2026-11-20T10:00")]
    m = flow.month("w", "2026-11", LONDON, stays, [], now=LATER)
    assert m.los_days == (3, 2, 28)
    assert flow.median_los(m) == 3
    assert flow.sources(m) == [("step-up", 1), ("step-down", 1), ("not recorded", 2)]
    assert flow.outcomes(m, LONDON) == [("home", 1), ("hospital", 1), ("died", 0),
                                        ("not recorded", 1), ("readmitted within 30 days", 1)]
    hist = dict(flow.los_histogram(m.los_days))
    assert (hist["2"], hist["3"], hist[f"{flow.LOS_CAP}+"]) == (1, 1, 1)
    header, rows = flow.table(m, "discharges", LONDON)
    assert header[-1] == "readmitted_within_30_days"
    assert [r[0] for r in rows] == ["a", "c", "b"]  # in the order of their discharge
    assert [r[-1] for r in rows] == ["yes", "no", "no"]
    header, rows = flow.table(m, "occupancy", LONDON)
    assert len(rows) == 30 and rows[0][:3] == ["2026-11-01", "", 1]
    for name in flow.TABLES:
        header, rows = flow.table(m, name, LONDON)
        assert all(len(r) == len(header) for r in rows)
    with pytest.raises(WardError, match="no table"):
        flow.table(m, "beds", LONDON)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-40 * 24, 40 * 24), st.integers(0, 30 * 24),
                          st.booleans()), max_size=20))
def test_occupied_beds_add_up_to_the_time_spent_on_the_ward(raw):
    """Over October 2026 (a 25-hour day in it), each day's beds times its length sum to
    every stay's hours within the month, and no day has more beds than patients."""
    start = _t("2026-10-01T00:00")
    days = flow.month_days("2026-10")
    edges = flow.day_edges(days, LONDON)
    admitted = [start + timedelta(hours=a) for a, _, _ in raw]
    discharged = [t + timedelta(hours=h) if done else None
                  for t, (_, h, done) in zip(admitted, raw, strict=True)]
    patients, beds = flow.occupancy(admitted, discharged, edges)
    # Timestamps: two times of one zone subtract as wall clocks (24 h on a 25-hour day).
    lengths = [b.timestamp() - a.timestamp() for a, b in pairwise(edges)]
    m0, m1 = edges[0].timestamp(), edges[-1].timestamp()
    spent = sum(max(0.0, min(d.timestamp() if d else m1, m1) - max(a.timestamp(), m0))
                for a, d in zip(admitted, discharged, strict=True))
    assert sum(b * n for b, n in zip(beds, lengths, strict=True)) == pytest.approx(spent,
                                                                                   abs=1e-3)
    assert all(b <= p + 1e-9 for b, p in zip(beds, patients, strict=True))
