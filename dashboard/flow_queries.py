"""Reads of the ward figures about capacity and flow (issue 14, item 5): a
month of the ward's stays and capacity changes, through ward/flow_store.py (the
SQL the API's CSV and `vward ward flow` read too), with the ward's time zone;
data out, no figures (dashboard/flow_figures.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import psycopg

from ward import flow, flow_store
from ward.rota import load_zone

MONTHS_SHOWN = 13  # this month and the year before it: a year-on-year comparison


@dataclass(frozen=True, slots=True)
class FlowFigures:
    month: flow.Month
    zone: ZoneInfo


def flow_figures(conn: psycopg.Connection, ward_id: str, month_text: str,
                 now: datetime) -> FlowFigures:
    return FlowFigures(flow_store.load_month(conn, ward_id, month_text, now=now),
                       load_zone(conn, ward_id))


def ward_months(conn: psycopg.Connection, ward_id: str, now: datetime) -> list[str]:
    """The months to choose from, latest first: this month of the ward's calendar
    and the MONTHS_SHOWN - 1 before it."""
    today = flow.local_day(now, load_zone(conn, ward_id))
    return recent_months(today)


def recent_months(today: date, n: int = MONTHS_SHOWN) -> list[str]:
    index = today.year * 12 + today.month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index, index - n, -1)]
