"""The patient page's "Re-measurements" list (issue 13, item 4): each time the ward
asked one of the patient's devices to measure again before an urgent alert, and
what came of it, so that an episode resolved by re-measurement (no alert) is on
the patient's record where the clinician looks.  The records are the alerts
stage's (``alerts.remeasure_history``); the lines are pure (``lines``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import dash
from dash import Input, Output, html

from alerts import RemeasureEpisode as Episode
from alerts import remeasure_history
from dashboard import deps, queries
from dashboard import format as fmt
from dashboard.pages import Page

_LIMIT = 20  # the latest; `vward remeasure list --patient P` has them all

# What each outcome meant for the hub, after the record's own words.
_THEN = {
    "confirmed": "the urgent alert opened",
    "not_confirmed": "no alert",
    "unanswered": "the urgent alert opened",
    "superseded": "the alert opened at once",
    "cancelled": "no alert",
}


def remeasure_section() -> html.Section:
    return html.Section([
        html.H2("Re-measurements"),
        html.Ul(id="pt-remeasures", className="vw-settings-list"),
        html.P("Where the ward's protocol allows it, an urgent NEWS2 from one spot check"
               " waits while the device is asked to measure again; never an emergency.",
               className="vw-muted"),
    ], className="vw-section")


def declare_remeasures(page: Page) -> None:
    @page.callback(Output("pt-remeasures", "children"), Input("pt-id", "data"),
                   Input("pt-tick", "n_intervals"))
    def remeasures(patient_id, _tick):
        return items(patient_id, deps.now())


def items(patient_id: str | None, now: datetime) -> list | object:
    if not patient_id:
        return []
    try:
        with deps.database().connection() as conn:
            episodes = remeasure_history(conn, patient=patient_id, limit=_LIMIT)
            info = queries.patient(conn, patient_id)
    except deps.DatabaseUnavailable:
        return dash.no_update
    texts = lines(episodes, info.time_zone if info else None)
    return ([html.Li(t, className="vw-remeasure") for t in texts]
            or [html.Li("None asked.", className="vw-muted")])


def lines(episodes: Sequence[Episode], tz: str | None) -> list[str]:
    """Latest first: 'Thu 03 Dec 10:04 GMT, NEWS2 3: Re-measurement asked of ox-1 at
    10:04:14Z; not confirmed: ... (resolved by re-measurement): no alert'."""
    out = []
    for e in episodes:
        head = f"{fmt.local_text(e.asked_at, tz)}, NEWS2 {e.score_before}: "
        if e.outcome is None:
            out.append(head + f"{e.device_id} asked to measure {', '.join(e.types)} again;"
                       f" waiting until {fmt.local_text(e.deadline, tz, date=False)},"
                       " when the urgent alert opens without it")
        else:
            out.append(head + f"{e.answer or e.outcome}: {_THEN.get(e.outcome, '')}")
    return out
