"""The patient page's "Quiet hours" panel (issue 13, item 5): pause the notifying
of one alert kind for this patient, for at most 24 h, with a reason, or end the
pauses of a kind.  The pauses in force are listed with the clinical settings
(dashboard/pause_rows.pause_lines); the rules are ward/pauses.py's, the record
ward/pause_records.py's, through dashboard/actions.py as every action here."""

from __future__ import annotations

from datetime import timedelta

import dash
from dash import Input, Output, State, dcc, html

from dashboard import actions, deps
from dashboard import format as fmt
from dashboard import layout as frame
from dashboard.pages import Page
from ward.pauses import MAX_PAUSE, PAUSABLE_KINDS

# The lengths offered: a nap, a morning, a night, a day; none beyond MAX_PAUSE.
LENGTHS = {"1 h": 1, "2 h": 2, "4 h": 4, "8 h": 8, "12 h": 12, "24 h": 24}
assert max(LENGTHS.values()) <= MAX_PAUSE.total_seconds() / 3600


def section() -> html.Section:
    return html.Section([
        html.H2("Quiet hours: pause notifying"),
        html.Div([
            dcc.Dropdown(id="pt-pause-kind", placeholder="Alert kind", style={"width": 200},
                         options=[{"label": fmt.kind_text(k), "value": k, "title": why}
                                  for k, why in PAUSABLE_KINDS.items()]),
            dcc.Dropdown(id="pt-pause-length", options=list(LENGTHS), value="8 h",
                         clearable=False, style={"width": 90}),
        ], className="vw-form-row"),
        html.Div([
            dcc.Input(id="pt-pause-reason", placeholder="Clinical reason (e.g. known low SpO₂"
                      " overnight, reviewed)", value="", style={"flex": 1}),
            html.Button("Pause", id="pt-pause-set", n_clicks=0, className="vw-button"),
            html.Button("Unpause", id="pt-pause-end", n_clicks=0, className="vw-button"),
        ], className="vw-form-row"),
        html.P("Only notifying pauses: the alert still opens and shows here and on the ward,"
               " labelled with the pause's end. An emergency is always notified. At most"
               " 24 h; Unpause ends the chosen kind's pause (every pause if none is chosen).",
               className="vw-muted"),
        html.Div(id="pt-pause-feedback", className="vw-feedback", role="status"),
    ], className="vw-section")


def declare(page: Page) -> None:
    """The panel's callback, on the patient page; it bumps the page's settings version
    so that the list of pauses in force is read again."""

    @page.callback(Output("pt-pause-feedback", "children"),
                   Output("pt-settings-version", "data", allow_duplicate=True),
                   Input("pt-pause-set", "n_clicks"), Input("pt-pause-end", "n_clicks"),
                   State("pt-id", "data"), State("pt-pause-kind", "value"),
                   State("pt-pause-length", "value"), State("pt-pause-reason", "value"),
                   State("pt-settings-version", "data"), prevent_initial_call=True)
    def change_pauses(_set, _end, patient_id, kind, length, reason, version):
        return act(dash.ctx.triggered_id == "pt-pause-set", patient_id, kind, length, reason,
                   version)


def act(setting: bool, patient_id: str | None, kind: str | None, length: str | None,
        reason: str | None, version: int | None):
    """Pause or unpause as the signed-in user; the feedback and the next version."""
    if not patient_id:
        return frame.feedback_view(False, "No patient."), dash.no_update
    db, user, now = deps.database(), deps.current_user(), deps.now()
    if setting:
        hours = LENGTHS.get(length or "")
        result = actions.pause(db, patient_id, kind,
                               None if hours is None else timedelta(hours=hours),
                               user=user, reason=reason or "", now=now)
    else:
        result = actions.unpause(db, patient_id, kind, user=user, now=now)
    return frame.feedback_view(result.ok, result.message), (version or 0) + 1
