"""The patient's own pages (/me): pure HTML, no assets, plain English,
readable on a phone.  What they show comes from one patient's session
(ward/patient_access.py reads nothing else); every value is escaped.

They say nothing of scores, bands or rules: "your team has been told" when an
alert about the patient waits for someone, when their team looked, when the
next readings are due, and always what to do if they feel worse."""

from __future__ import annotations

from datetime import datetime
from html import escape

from api import ack_pages
from api.pages import page
from dashboard import format as fmt
from ward.domain import ACVPU, ReadingType
from ward.patient_access import Latest, Me, View
from ward.patient_links import review

# Response headers of every /me page: those of the /ack pages (a token in the URL,
# a form of one's own, one person's data): no cache, a same-origin referrer (not
# no-referrer, under which a browser posts the form with `Origin: null`, which the
# cross-site check must refuse), no framing, no other site receiving the form, no
# search engine.  One set, so that a fix to one page's headers reaches both.
HEADERS = ack_pages.HEADERS

_TITLE = "Your readings · Virtual ward"

_STYLE = """
body{align-items:flex-start;font-size:17px}main{box-sizing:border-box;width:min(34rem,96vw);
margin:.5rem 0;padding:1rem .9rem}h1{font-size:1.35rem}h2{font-size:1.1rem;margin:1.25rem 0 .4rem}
.help{border:2px solid #b91c1c;border-radius:8px;padding:.6rem .8rem;background:#fff7f7}
.help p{margin:.3rem 0}.help a{font-weight:700;white-space:nowrap}
.status{border-radius:8px;padding:.6rem .8rem;margin:.75rem 0}
.status.told,.status.reported{background:#fff4e5;border:1px solid #f0c36d}
.status.reviewed,.status.quiet{background:#ecfdf3;border:1px solid #bbf7d0}
.due{font-weight:600}.late{color:#8a1c1c}
table{width:100%;border-collapse:collapse;font-size:1rem}
td{padding:.45rem .2rem;border-bottom:1px solid #e5e9ee;vertical-align:top}
td.v{font-weight:700;text-align:right}
td.v span{display:block;font-weight:400;color:#5b6b7b;font-size:.9rem}
fieldset{border:1px solid #d8dee4;border-radius:8px;margin:0 0 .8rem;padding:.5rem .8rem}
legend{float:left;width:100%;font-weight:600;padding:0;margin:0 0 .2rem}
fieldset div{clear:both}
label.choice{display:inline-flex;align-items:center;gap:.4rem;font-weight:400;font-size:1rem;
margin:.3rem 1.5rem .3rem 0}label.choice input{width:1.3rem;height:1.3rem;margin:0}
button{padding:.85rem;font-size:1.05rem}button.quiet{background:#5b6b7b;margin-top:1rem}
.done{background:#ecfdf3;color:#14532d;border:1px solid #bbf7d0;border-radius:5px;
padding:.5rem .75rem}.muted{color:#5b6b7b;font-size:.9rem}
"""

# What each reading is called here, in words a patient uses.
PLAIN_NAMES: dict[ReadingType, str] = {
    ReadingType.SPO2: "Oxygen level",
    ReadingType.HEART_RATE: "Pulse",
    ReadingType.RESPIRATORY_RATE: "Breathing rate",
    ReadingType.SYSTOLIC_BP: "Blood pressure",
    ReadingType.DIASTOLIC_BP: "Blood pressure",
    ReadingType.TEMPERATURE: "Temperature",
    ReadingType.ON_OXYGEN: "Oxygen treatment",
    ReadingType.CONSCIOUSNESS: "Alertness",
    ReadingType.BODY_WEIGHT: "Weight",
    ReadingType.BREATHLESSNESS: "More breathless than usual",
}
_ORDER = list(PLAIN_NAMES)
_KNOWN = frozenset(t.value for t in ReadingType)
_ALERTNESS = {"A": "alert", "C": "new confusion", "V": "responds to voice",
              "P": "responds to pain", "U": "unresponsive"}


def plain_value(reading_type: ReadingType, value: float) -> str:
    """A reading as a patient reads it ('96 %', 'on oxygen', 'yes')."""
    if reading_type is ReadingType.SPO2:
        return f"{value:.0f} %"
    if reading_type is ReadingType.HEART_RATE:
        return f"{value:.0f} beats a minute"
    if reading_type is ReadingType.RESPIRATORY_RATE:
        return f"{value:.0f} breaths a minute"
    if reading_type is ReadingType.TEMPERATURE:
        return f"{value:.1f} °C"
    if reading_type is ReadingType.BODY_WEIGHT:
        return f"{value:.1f} kg"
    if reading_type is ReadingType.ON_OXYGEN:
        return "on oxygen" if value >= 0.5 else "breathing air"
    if reading_type is ReadingType.BREATHLESSNESS:
        return "yes" if value >= 0.5 else "no"
    if reading_type is ReadingType.CONSCIOUSNESS:
        i = round(value)
        return _ALERTNESS[ACVPU[i]] if 0 <= i < len(ACVPU) else "?"
    return f"{value:g}"


def plain_ago(then: datetime, now: datetime) -> str:
    """'just now', '5 minutes ago', '3 hours ago', '2 days ago'."""
    minutes = int((now - then).total_seconds() // 60)
    if minutes < 1:
        return "just now"
    for size, unit in ((1440, "day"), (60, "hour"), (1, "minute")):
        if minutes >= size * (2 if unit == "day" else 1):
            n = minutes // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def _when(t: datetime, me: Me, now: datetime) -> str:
    local, today = fmt.to_local(t, me.time_zone), fmt.to_local(now, me.time_zone)
    if local.date() == today.date():
        return f"today at {local:%H:%M}"
    return f"{local:%A %d %B} at {local:%H:%M}"


def _help(me: Me) -> str:
    if me.ward_phone:
        tel = "".join(c for c in me.ward_phone if c.isdigit() or c == "+")
        call = (f'call your virtual ward on <a href="tel:{escape(tel)}">'
                f"{escape(me.ward_phone)}</a>.")
    else:
        call = "call your virtual ward on the number your care team gave you."
    return f"""<section class="help" aria-label="If you feel worse">
<p><strong>If you feel worse</strong>, do not wait for your next reading: {call}
If you cannot get through, call NHS 111.</p>
<p><strong>In an emergency</strong> (for example you are struggling to breathe, have chest
pain, or someone cannot wake you), <a href="tel:999">call 999</a>.</p></section>"""


def _status(v: View, me: Me, now: datetime) -> str:
    said = review(v.open_alerts, v.acknowledged_alerts, reported_breathless=any(
        r.type == ReadingType.BREATHLESSNESS and r.value == 1 for r in v.readings))
    if said == "told":
        text = ("<strong>Your team has been told</strong> about your latest readings and will"
                " be in touch. If you feel worse while you wait, call the ward.")
    elif said == "reviewed":
        when = f" ({_when(v.last_acknowledged, me, now)})" if v.last_acknowledged else ""
        text = f"<strong>Your team has looked at your latest readings</strong>{when}."
    elif said == "reported":
        text = ("<strong>You told us you are more breathless than usual.</strong> Your team"
                " sees your answers, but they may not have seen this one yet: if you have not"
                " heard from them, call the ward now.")
    else:
        text = ("Your readings have not needed your team's attention. Your team sees every"
                " reading you send.")
    return f'<p class="status {said}" role="status">{text}</p>'


def _due(v: View, me: Me, now: datetime) -> str:
    if now > v.next_due:
        return (f'<p class="due late">Your next readings are overdue (they were due'
                f" {escape(_when(v.next_due, me, now))}): please take them now.</p>")
    return (f'<p class="due">Your next readings are due by'
            f" {escape(_when(v.next_due, me, now))}.</p>")


def _readings(readings: list[Latest], now: datetime) -> str:
    if not readings:
        return "<p>No readings yet. They appear here a few moments after you take them.</p>"
    by_type = {ReadingType(r.type): r for r in readings if r.type in _KNOWN}
    rows, done = [], set()
    for t in _ORDER:
        r = by_type.get(t)
        if r is None or t in done:
            continue
        value = plain_value(t, r.value)
        if t in (ReadingType.SYSTOLIC_BP, ReadingType.DIASTOLIC_BP):
            sys_, dia = by_type.get(ReadingType.SYSTOLIC_BP), by_type.get(ReadingType.DIASTOLIC_BP)
            done |= {ReadingType.SYSTOLIC_BP, ReadingType.DIASTOLIC_BP}
            value = (f"{sys_.value:.0f}/{dia.value:.0f} mmHg" if sys_ and dia
                     else f"{r.value:.0f} mmHg")
            r = max((x for x in (sys_, dia) if x), key=lambda x: x.time)
        done.add(t)
        rows.append(f'<tr><td>{escape(PLAIN_NAMES[t])}</td><td class="v">{escape(value)}'
                    f"<span>{escape(plain_ago(r.time, now))}</span></td></tr>")
    return f"<table><tbody>{''.join(rows)}</tbody></table>"


def _form(nonce: str) -> str:
    def question(name: str, legend: str) -> str:
        return (f'<fieldset><legend>{legend}</legend><div>'
                f'<label class="choice"><input type="radio" name="{name}" value="yes"> Yes'
                f'</label><label class="choice"><input type="radio" name="{name}" value="no">'
                f" No</label></div></fieldset>")
    return f"""<h2>How are you feeling?</h2>
<form method="post" action="/me/answers">
<input type="hidden" name="nonce" value="{escape(nonce)}">
{question("breathless", "Are you more breathless than usual?")}
{question("confused", "Has someone who knows you well (a carer or relative) noticed that you"
          " are newly confused?")}
<button type="submit">Send my answers</button></form>
<p class="muted">Your answers go to your team with your readings.</p>"""


def home(me: Me, v: View, *, now: datetime, nonce: str, message: str = "") -> str:
    """The patient's page: help first, then the team, the next readings, the
    latest readings and the questions."""
    name = f", {escape(me.name)}" if me.name else ""
    note = f'<p class="done" role="status">{escape(message)}</p>' if message else ""
    return page(_TITLE, f"""<h1>Hello{name}</h1>{note}{_help(me)}{_status(v, me, now)}
{_due(v, me, now)}<h2>Your latest readings</h2>{_readings(v.readings, now)}{_form(nonce)}
<form method="post" action="/me/signout"><input type="hidden" name="nonce"
 value="{escape(nonce)}"><button class="quiet" type="submit">Sign out</button></form>""",
                style=_STYLE)


def link_landing(*, token_ok: bool, nonce: str = "", message: str = "") -> str:
    """The link's page: a button that opens the patient's page (a link opens it
    once, so a preview of the link by a phone or a mail scanner uses nothing)."""
    error = f'<p class="error" role="alert">{escape(message)}</p>' if message else ""
    if not token_ok:
        return page(_TITLE, f"""<h1>Your virtual ward page</h1>{error}
<p>If you feel worse, call your virtual ward. In an emergency, <a href="tel:999">call
999</a>.</p>""", style=_STYLE)
    return page(_TITLE, f"""<h1>Your virtual ward page</h1>{error}
<p>This opens the page where you see your own readings and answer your team's questions.
The link works once: after that, this phone stays signed in.</p>
<form method="post"><input type="hidden" name="nonce" value="{escape(nonce)}">
<button type="submit">Open my page</button></form>""", style=_STYLE)


def signed_out(message: str = "You are signed out.") -> str:
    """No patient session (or it ended): how to get back in."""
    return page(_TITLE, f"""<h1>Your virtual ward page</h1>
<p class="status quiet" role="status">{escape(message)}</p>
<p>To see your page again, ask your care team for a new link.</p>
<p>If you feel worse, call your virtual ward. In an emergency, <a href="tel:999">call
999</a>.</p>""", style=_STYLE)
