"""The acknowledge link's pages (GET and POST /ack/{token}); pure HTML, no
assets, readable on a phone: the patient's current state before the button,
what was done, or why the link may not act.

Everything shown comes from one alert and its patient (api/ack_links.py
reads nothing else), and every value is escaped."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

from api.pages import page
from dashboard import format as fmt
from ward import ack_links, durations, score_view
from ward.domain import QUANTITY, TYPES, ReadingType

if TYPE_CHECKING:
    from api.ack_links import LinkState

NOTE_MAX = 1000
_UNIT = {"Cel": "°C"}

_STYLE = """
body{align-items:flex-start}main{width:min(34rem,94vw);margin:1rem 0;padding:1.25rem}
.sev{display:inline-block;font-weight:700;font-size:.8rem;letter-spacing:.04em;
padding:.15rem .5rem;border-radius:4px;color:#fff;background:#5b6b7b}
.sev.emergency{background:#b91c1c}.sev.urgent{background:#c2410c}
.sev.low{background:#a16207}.sev.info{background:#1d4ed8}
.reason{font-size:1.05rem;margin:.5rem 0 .25rem}.muted{color:#5b6b7b;font-size:.9rem}
table{width:100%;border-collapse:collapse;margin:.5rem 0 1rem;font-size:.95rem}
td,th{padding:.35rem .25rem;border-bottom:1px solid #e5e9ee;text-align:left}
td.n{text-align:right;white-space:nowrap}tr.stale td{color:#8a1c1c}
.score{font-size:1.4rem;font-weight:700}
.done{background:#ecfdf3;color:#14532d;border:1px solid #bbf7d0;border-radius:5px;
padding:.5rem .75rem;margin:0 0 1rem}
textarea{box-sizing:border-box;width:100%;min-height:4rem;padding:.5rem;font:inherit;
border:1px solid #b8c2cc;border-radius:5px;margin:0 0 1rem}
button{padding:.9rem;font-size:1.05rem}
"""

# Response headers of every /ack page: the token is in the URL, so no referrer
# carries it to another site (same-origin, not no-referrer: under no-referrer a
# browser posts the form with `Origin: null`, which api/origin.py must refuse as
# cross-site, and the button never acknowledged in a real browser:
# test_ack_links_browser) and no cache keeps the page; no other site may frame
# the button (clickjacking) or receive the form; search engines keep out.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline';"
                               " form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}

_TITLE = "Acknowledge alert · Virtual ward"


def refused(message: str, *, title: str = "This link cannot acknowledge") -> str:
    """Why the link does nothing; nothing was changed."""
    return page(_TITLE, f"""
<h1>{escape(title)}</h1>
<p class="error" role="alert">{escape(message)}</p>
<p class="muted">Nothing was changed. To act on the ward's alerts, sign in to the
<a href="/">ward dashboard</a>.</p>""", style=_STYLE)


def landing(s: LinkState, *, user: str, expires: datetime, now: datetime, nonce: str,
            message: str = "") -> str:
    """The patient's state, then the button (when the alert is open)."""
    a = s.alert
    note = f'<p class="error" role="alert">{escape(message)}</p>' if message else ""
    return page(_TITLE, f"""
{note}{_alert(s, now)}{_score(s, now)}{_status_or_form(s, user=user, expires=expires,
                                                       now=now, nonce=nonce)}
<p class="muted">Patient page (sign-in needed):
<a href="/patient/{escape(a.patient_id)}">{escape(a.patient_id)}</a></p>""", style=_STYLE)


def done(s: LinkState, *, now: datetime) -> str:
    """After the acknowledgement."""
    a = s.alert
    return page(_TITLE, f"""
<p class="done" role="status">Acknowledged by {escape(a.acknowledged_by or '')} at
{escape(fmt.local_text(a.acknowledged_at, s.time_zone))}
{escape(ack_links.via_text(a.ack_via))}. This link is now used.</p>
{_alert(s, now)}{_score(s, now)}
<p class="muted">Escalation of this alert stops until its severity rises.</p>""",
                style=_STYLE)


def _alert(s: LinkState, now: datetime) -> str:
    a = s.alert
    return f"""
<p><span class="sev {escape(a.severity)}">{escape(a.severity.upper())}</span>
<span class="muted">{escape(fmt.kind_text(a.kind))}</span></p>
<h1>{escape(s.patient_name)}</h1>
<p class="muted">{escape(a.patient_id)} · ward {escape(a.ward_id)}</p>
<p class="reason">{escape(a.reason)}</p>
<p class="muted">Alert {a.alert_id} opened {escape(fmt.local_text(a.opened_at, s.time_zone))}
({escape(fmt.ago(a.opened_at, now))})</p>"""


def _score(s: LinkState, now: datetime) -> str:
    r = s.score
    if r is None:
        return '<p class="muted">No NEWS2 score yet.</p>'
    band = score_view.effective_band(r.band, r.adjusted_band, r.monitoring_band, r.complete)
    total = r.adjusted_total if r.adjusted_total is not None else r.total
    flags = [] if r.complete else ["incomplete: " + ", ".join(r.missing or ["stale values"])]
    if r.adjusted_total is not None:
        flags.append(f"adjusted by accepted ranges (true NEWS2 {r.total})")
    rows = []
    for v in score_view.values(r.inputs, r.sub_scores, r.input_times, r.stale, now):
        info = TYPES[ReadingType(v.parameter)]
        unit = _UNIT.get(info.unit, info.unit_text or info.unit) if info.kind == QUANTITY else ""
        value = fmt.vital_text(v.parameter, v.value) or "—"
        age = fmt.age_text(v.age) if v.age is not None else ("" if v.value is None else "?")
        rows.append(
            f'<tr class="{"stale" if v.stale else ""}"><td>{escape(info.display)}</td>'
            f'<td class="n">{escape(value)} {escape(unit)}</td>'
            f'<td class="n">{"" if v.sub_score is None else v.sub_score}</td>'
            f'<td class="n">{escape(age)}{" stale" if v.stale else ""}</td></tr>')
    return f"""
<p>Latest NEWS2 <span class="score">{total}</span> ({escape(band)}),
measured {escape(fmt.local_text(r.time, s.time_zone))} ({escape(fmt.ago(r.time, now))})</p>
{"".join(f'<p class="muted">{escape(f)}</p>' for f in flags)}
<table><thead><tr><th>Vital sign</th><th class="n">Value</th><th class="n">Score</th>
<th class="n">Age</th></tr></thead><tbody>{"".join(rows)}</tbody></table>"""


def _status_or_form(s: LinkState, *, user: str, expires: datetime, now: datetime,
                    nonce: str) -> str:
    a = s.alert
    if a.state == "acknowledged":
        how = ack_links.via_text(a.ack_via)
        who = "you" if a.acknowledged_by == user else a.acknowledged_by
        return (f'<p class="done" role="status">Already acknowledged by {escape(who or "")}'
                f" at {escape(fmt.local_text(a.acknowledged_at, s.time_zone))}"
                f"{' ' + escape(how) if how else ''}. Nothing more to do from this link.</p>")
    if a.state == "resolved":
        return ('<p class="done" role="status">This alert is resolved'
                f" ({escape(fmt.local_text(a.resolved_at, s.time_zone))}): nothing to"
                " acknowledge.</p>")
    return f"""
<form method="post">
<input type="hidden" name="nonce" value="{escape(nonce)}">
<label for="note">Note (optional)</label>
<textarea id="note" name="note" maxlength="{NOTE_MAX}"
 placeholder="What you did or will do"></textarea>
<button type="submit">I have seen this: acknowledge as {escape(user)}</button></form>
<p class="muted">This link is for {escape(user)} only, works once, and expires
{escape(fmt.local_text(expires, s.time_zone))} (in {escape(_left(expires, now))}).</p>"""


def _left(expires: datetime, now: datetime) -> str:
    seconds = (expires - now).total_seconds()
    return "under a minute" if seconds < 60 else durations.text(seconds, finest="min")
