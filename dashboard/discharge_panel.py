"""The patient page's "Discharge" panel (issue 14, item 1): a clinician writes
the summary for the GP, says where the patient went, and discharges; then the
page links the discharge summary's PDF and its FHIR document.  The discharge is
the web app's (api/admission.discharge_with_summary, handed in through
dashboard/deps.discharger), the same as the API's and the CLI's."""

from __future__ import annotations

from datetime import datetime

import dash
from dash import Input, Output, State, dcc, html

from dashboard import actions, deps, queries
from dashboard import layout as frame
from dashboard.pages import Page

OUTCOMES = {"home": "Home (their GP's care)", "hospital": "Hospital (escalated to a bed)",
            "died": "Died"}


def section() -> html.Section:
    return html.Section([
        html.H2("Discharge"),
        dcc.Textarea(id="pt-discharge-summary", value="",
                     placeholder="Summary for the GP: what happened, what to watch for,"
                                 " follow-up (required)",
                     style={"width": "100%", "height": "90px"}),
        html.Div([
            dcc.Input(id="pt-discharge-reason", value="", style={"flex": 1},
                      placeholder="Reason for admission (optional)"),
            dcc.Dropdown(id="pt-discharge-outcome", value="home", clearable=False,
                         options=[{"label": text, "value": key}
                                  for key, text in OUTCOMES.items()], style={"width": 230}),
            html.Button("Discharge", id="pt-discharge", n_clicks=0, className="vw-button"),
        ], className="vw-form-row"),
        html.P("Discharging unassigns the devices, resolves the live alerts and makes the"
               " discharge summary for the GP (a FHIR document and a PDF) once: it is kept"
               " as made and cannot be changed afterwards. Clinicians only.",
               className="vw-muted"),
        html.Div(id="pt-discharge-feedback", className="vw-feedback", role="status"),
        html.Div(id="pt-discharge-done"),
    ], className="vw-section")


def declare(page: Page) -> None:
    @page.callback(Output("pt-discharge-feedback", "children"),
                   Input("pt-discharge", "n_clicks"), State("pt-id", "data"),
                   State("pt-discharge-summary", "value"), State("pt-discharge-outcome", "value"),
                   State("pt-discharge-reason", "value"), prevent_initial_call=True)
    def discharge(_n, patient_id, summary, outcome, reason):
        if not _n:
            return dash.no_update
        return act(deps.database(), deps.discharger(), patient_id, summary, outcome, reason,
                   user=deps.current_user(), role=deps.current_role(), now=deps.now())


    @page.callback(Output("pt-discharge-done", "children"), Input("pt-id", "data"))
    def done(patient_id):
        return made_before(deps.database(), patient_id)


def made_before(db: deps.Database, patient_id: str | None) -> list:
    """For a patient discharged already: their summary's links."""
    if not patient_id:
        return []
    try:
        with db.connection() as conn:
            document_id = queries.discharge_document(conn, patient_id)
    except deps.DatabaseUnavailable:
        return []
    if document_id is None:
        return []
    return [html.P("Discharged; the summary sent to the GP:", className="vw-muted"),
            _links(patient_id, f"/fhir/Bundle/{document_id}")]


def _links(patient_id: str, path: str) -> html.P:
    return html.P([
        html.A("Discharge summary (PDF)", id="pt-discharge-pdf", target="_blank",
               href=f"/api/v1/patients/{patient_id}/discharge-summary.pdf"),
        " · ", html.A("FHIR document", href=path, target="_blank")])


def act(db: deps.Database, discharger: deps.Discharger | None, patient_id: str | None,
        summary: str | None, outcome: str | None, reason: str | None, *, user: str | None,
        role: str | None, now: datetime) -> list:
    """Discharge as the signed-in clinician: the feedback, and once done the links
    to the summary (PDF) and the FHIR document."""
    result, path = actions.discharge(db, discharger, patient_id, user=user, role=role,
                                     summary=summary or "", outcome=outcome,
                                     admission_reason=reason, now=now)
    shown = [frame.feedback_view(result.ok, result.message)]
    if result.ok and path and patient_id:
        shown.append(_links(patient_id, path))
    return shown
