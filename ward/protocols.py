"""Per-ward protocols as data (issue 14, item 3): what a ward watches for beyond
NEWS2, as tables, not code paths.  A ward runs one protocol (``wards.protocol``,
migration 020); the alerts engine evaluates its rules vectorised
(alerts/protocol_rules.py, alerts/protocol_conditions.py), the overdue rule
follows its monitoring intervals (ward/overdue.py), the dashboard its columns.

NEWS2 is scored and alerted on every ward, whatever the protocol (hazard log
H60): a protocol only adds rules, so a patient never looks better on a
protocol ward than the same readings would make them look on a NEWS2 ward.

Thresholds apply to the raw value, no rounding first (as the NEWS2 chart):
``Threshold.edges`` are ascending, each with whether the edge itself belongs
to the worse level below it (``at_or_below``) or to the better one above.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ward.domain import ReadingType
from ward.severity import Severity

NEWS2 = "news2"
COVID_OXIMETRY = "covid-oximetry"
HEART_FAILURE = "heart-failure"
NAMES: tuple[str, ...] = (NEWS2, COVID_OXIMETRY, HEART_FAILURE)  # migration 020's CHECK

# The alert kinds the protocols raise (alerts/lifecycle.py ALERT_KINDS takes them
# from here, with their titles).
SPO2_LEVEL = "spo2_level"
WEIGHT_GAIN = "weight_gain"
PROTOCOL_ALERT_KINDS: tuple[str, ...] = (SPO2_LEVEL, WEIGHT_GAIN)


@dataclass(frozen=True, slots=True)
class Level:
    """One level of a protocol's reading.

    severity : the alert the level raises (None: none)
    monitoring : longest gap between readings at this level before the patient is
        overdue (ward/overdue.py)
    response : the escalation wording a clinician reads in the alert
    """

    name: str
    severity: Severity | None
    monitoring: timedelta
    response: str


@dataclass(frozen=True, slots=True)
class Threshold:
    """The level of the latest value of ``reading``: ``levels[k]`` for values between
    ``edges[k-1]`` and ``edges[k]``; worst level first.

    at_or_below : per edge, True if a value equal to the edge is in the level below
        it (the worse one), False if in the level above
    """

    kind: str
    reading: ReadingType
    edges: tuple[float, ...]
    at_or_below: tuple[bool, ...]
    levels: tuple[Level, ...]


@dataclass(frozen=True, slots=True)
class Gain:
    """An alert when the latest value of ``reading`` exceeds the lowest of the earlier
    values within ``window`` (+ ``slack``) before it by more than ``rise``.

    slack : daily readings drift around the clock (a weight at 08:20 after one at
        08:00 the day before is 24 h 20 min apart): the window reaches this much
        further back, so that 'a day' means the previous day's reading
    """

    reading: ReadingType
    window: timedelta
    slack: timedelta
    rise: float  # [reading's unit], strictly more than this alerts
    severity: Severity
    response: str


@dataclass(frozen=True, slots=True)
class Protocol:
    """A ward's protocol.

    reading : the reading its monitoring watches (overdue counts from the latest of
        it); None: NEWS2's complete set
    reading_times : the local times of day the pathway asks readings at (wording, the
        dashboard); the monitoring intervals allow for the night's gap
    monitoring : the gap before the patient is overdue when no level applies
    threshold, gains : its rules; ``gain_kind`` the alert kind the gains raise
    columns : the ward page's protocol columns (dashboard/protocol_rows.py)
    """

    name: str
    title: str
    reading: ReadingType | None = None
    reading_times: tuple[str, ...] = ()
    monitoring: timedelta | None = None
    threshold: Threshold | None = None
    gains: tuple[Gain, ...] = ()
    gain_kind: str = WEIGHT_GAIN
    columns: tuple[str, ...] = ()


# NHS England, COVID-19 oximetry @home (standard operating procedure, 2020-21):
# SpO2 95 % or more green, 93-94 % amber, 92 % or less red.  Readings three times a
# day at set times; the overnight gap is the longest (12 h) and green is overdue an
# hour after it.  Amber asks a clinical assessment within the hour and the reading
# repeated: hourly; red an emergency (999 / A&E): 15 min, the longest the ward
# tolerates after NEWS2's high band too (ward/news2_chart.py).  Amber is URGENT
# (a clinician calls the patient within the hour), red EMERGENCY.
COVID_SPO2 = Threshold(
    kind=SPO2_LEVEL,
    reading=ReadingType.SPO2,
    edges=(92.0, 95.0),  # [%]
    at_or_below=(True, False),  # 92 is red; 95 is green
    levels=(
        Level("red", Severity.EMERGENCY, timedelta(minutes=15),
              "red (92 % or less): emergency assessment now, call 999 or send to A&E"),
        Level("amber", Severity.URGENT, timedelta(hours=1),
              "amber (93-94 %): clinical assessment within 1 hour; repeat the reading"),
        Level("green", None, timedelta(hours=13),
              "green (95 % or more): carry on three readings a day"),
    ),
)

# Heart failure (NICE NG106; ESC 2021): daily weight, in the morning after passing
# urine; a gain of more than 2 kg in 3 days, or more than 1 kg in a day, is fluid
# being retained before it reaches the lungs.  URGENT: the heart-failure team
# reviews the diuretic the same day.  The comparison is with the lowest weight in
# the window (the gain from any day in it counts).  Overdue after 26 h: a daily
# weight and two hours for the morning to slip.
HF_GAINS = (
    Gain(ReadingType.BODY_WEIGHT, timedelta(days=1), timedelta(hours=6), 1.0, Severity.URGENT,
         "more than 1 kg in a day: heart-failure team reviews diuretics today"),
    Gain(ReadingType.BODY_WEIGHT, timedelta(days=3), timedelta(hours=6), 2.0, Severity.URGENT,
         "more than 2 kg in 3 days: heart-failure team reviews diuretics today"),
)

PROTOCOLS: dict[str, Protocol] = {
    NEWS2: Protocol(NEWS2, "NEWS2"),
    COVID_OXIMETRY: Protocol(
        COVID_OXIMETRY, "COVID-19 oximetry @home", reading=ReadingType.SPO2,
        reading_times=("08:00", "14:00", "20:00"), monitoring=COVID_SPO2.levels[-1].monitoring,
        threshold=COVID_SPO2, columns=("spo2", "spo2_level")),
    HEART_FAILURE: Protocol(
        HEART_FAILURE, "Heart failure (daily weight)", reading=ReadingType.BODY_WEIGHT,
        reading_times=("08:00",), monitoring=timedelta(hours=26), gains=HF_GAINS,
        columns=("weight", "weight_change_1d", "weight_change_3d")),
}

# The alert kinds and their titles (alerts/lifecycle.py, docs/alerts.md).
ALERT_TITLES: dict[str, str] = {
    SPO2_LEVEL: "SpO2 level (COVID-19 oximetry)",
    WEIGHT_GAIN: "Weight gain (heart failure)",
}
# Overdue is at least LOW; as urgent as the level whose monitoring was missed.
OVERDUE_FLOOR = Severity.LOW


def protocol(name: str | None) -> Protocol:
    """The protocol of that name ('' or None: news2); ValueError naming the known ones."""
    key = name or NEWS2
    if key not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; known: {', '.join(NAMES)}")
    return PROTOCOLS[key]
