"""Notifications, for admins: what `vward notifier` sent lately (to whom, by which
channel, in what state, after how many attempts, the last error), and, in the
demo, the messages the local SMTP sink (`vward mail-sink`) received, as the
people on call would have read them.  Read-only."""

from __future__ import annotations

from dash import Input, Output, dcc, html

from dashboard import deps
from dashboard.pages import Page
from notify import mail_sink

PAGE = Page(__name__, path="/notifications", name="Notifications",
            title="Notifications — Virtual ward")

REFRESH_MS = 5_000
_LIMIT = 50

_RECENT = """
SELECT n.created_at, n.ward_id, a.patient_id, e.event, e.severity, a.kind, n.recipient,
       n.tier, n.channel, n.state, n.attempts, n.last_error
FROM notifications n JOIN alert_events e USING (event_id) JOIN alerts a ON a.alert_id = n.alert_id
ORDER BY n.notification_id DESC LIMIT %s
"""
_COLUMNS = ("created (UTC)", "ward", "patient", "event", "severity", "kind", "to", "tier",
            "channel", "state", "attempts", "last error")


def layout(**_query) -> html.Div:
    return html.Div([
        html.H2("Notifications sent"),
        html.Div(id="inbox-sent"),
        html.H2("The demo's inbox (vward mail-sink)"),
        html.Div(id="inbox-mail"),
        dcc.Interval(id="inbox-tick", interval=REFRESH_MS),
    ], className="vw-inbox-page")


@PAGE.callback(Output("inbox-sent", "children"), Output("inbox-mail", "children"),
               Input("inbox-tick", "n_intervals"))
def show(_tick):
    return inbox_view(deps.current_role())


def inbox_view(role: str | None) -> tuple[list, list]:
    """The two parts of the page; an admin's page only (the messages hold patients'
    identifiers and reasons for every ward)."""
    if role != "admin":
        return [html.P("Notifications are shown to admins.", className="vw-muted")], []
    try:
        with deps.database().connection() as conn:
            rows = conn.execute(_RECENT, (_LIMIT,)).fetchall()
    except deps.DatabaseUnavailable as exc:
        sent: list = [html.P(f"The database is unreachable: {exc}", className="vw-error")]
    else:
        sent = [_table(rows)] if rows else [html.P("Nothing sent yet.", className="vw-muted")]
    kept = mail_sink.latest(deps.settings(), limit=_LIMIT)
    if not kept:
        return sent, [html.P("No message in VWARD_HOME/mail: the sink runs in `make demo`"
                             " (`vward mail-sink`).", className="vw-muted")]
    return sent, [html.Details([
        html.Summary(f"{m.date} · to {m.to} · {m.subject}"),
        html.Pre(m.body, className="vw-mail-body"),
    ], className="vw-mail") for m in kept]


def _table(rows: list[tuple]) -> html.Table:
    def cell(v):
        return f"{v:%Y-%m-%d %H:%M:%S}" if hasattr(v, "strftime") else ("" if v is None else v)

    return html.Table([
        html.Thead(html.Tr([html.Th(c) for c in _COLUMNS])),
        html.Tbody([html.Tr([html.Td(cell(v)) for v in r],
                            className="vw-error" if r[9] == "failed" else None)
                    for r in rows]),
    ], className="vw-table")
