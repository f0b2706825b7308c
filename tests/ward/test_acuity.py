"""Where a patient ranks on the ward (ward/score_view.acuity_level): the band
their score shows, or the band their worst live alert of the ward's protocol
ranks as, whichever is higher (hazard H64), the same in Python (the dashboard's
sort) and in SQL (the API's ward summary)."""

from __future__ import annotations

import itertools

import pytest

from ward.news2_chart import BANDS
from ward.score_view import acuity_level, acuity_level_sql
from ward.severity import SEVERITIES


@pytest.mark.parametrize(("band", "severity", "level"), [
    ("low", "emergency", 4),  # COVID red (SpO2 92 %) with NEWS2 low: ranks with high
    ("low", "urgent", 2),  # amber, or a weight gain: ranks with low-medium
    ("zero", "urgent", 2),
    ("medium", "urgent", 3),  # the score's own band when higher
    ("high", "urgent", 4),
    (None, "emergency", 4),  # unscored (an SpO2-only ward): the alert alone
    (None, "urgent", 2),
    ("low", None, 1),  # no protocol alert: the band as before
    ("low", "low", 1),  # only urgent and emergency rank (info, low never do)
    ("zero", "info", 0),
    (None, None, -1),
    ("low", "no-such-severity", 1),
])
def test_the_higher_of_the_band_and_the_protocol_alert(band, severity, level):
    assert acuity_level(band, severity) == level


def test_sql_says_what_python_says(conn):
    pairs = list(itertools.product([*BANDS, None], [*SEVERITIES, None]))
    sql = acuity_level_sql("b", "s")
    got = conn.execute(
        f"SELECT b, s, {sql} FROM unnest(%s::text[], %s::text[]) AS x(b, s)",
        ([b for b, _ in pairs], [s for _, s in pairs])).fetchall()
    assert len(got) == len(pairs)
    for b, s, level in got:
        assert (-1 if level is None else level) == acuity_level(b, s), (b, s)
