"""The discharge summary as a PDF, for people and systems that take only
documents (issue 14, item 1); pure: a Stay in, bytes out (fpdf2, no clock).

It says what the FHIR document says (both are written from the same Stay with
the sentences of api/discharge_record.py) and draws the NEWS2 trend of the whole
stay over the chart's bands, with the scores on admission, at their highest
and at discharge marked.  fpdf2's core fonts are Latin-1: other characters are
replaced (``latin1``), never allowed to fail a discharge."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from fpdf import FPDF
from numpy.typing import NDArray

from api import discharge_record as doc

# The chart's backgrounds: NEWS2's response thresholds (RCP 2017): 0-4 low,
# 5-6 medium (an urgent response), 7 or more high (an emergency response).
_BANDS = ((0, 5, (225, 242, 225)), (5, 7, (252, 232, 200)), (7, 21, (248, 214, 214)))
_LINE = (30, 60, 140)
_MARK = (200, 30, 30)
# At most this many points are drawn: each one is the highest score of its slice
# of the stay, so that no peak is lost to the thinning.
MAX_POINTS = 600
_REPLACE = {"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"',
            "\u201d": '"', "\u2265": ">=", "\u2264": "<=", "\u2082": "2", "\u2026": "...",
            "\u00a0": " "}


@dataclass(frozen=True, slots=True)
class Box:
    """Where the chart goes on the page [mm]."""

    x: float
    y: float
    w: float
    h: float


def latin1(text: str) -> str:
    """``text`` in the core fonts' Latin-1: common typography spelled out, any
    other character as '?'."""
    for a, b in _REPLACE.items():
        text = text.replace(a, b)
    return text.encode("latin-1", "replace").decode("latin-1")


def thin(seconds: NDArray[np.float64], totals: NDArray[np.int64],
         limit: int = MAX_POINTS) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """At most ``limit`` points of a series sorted by time [s]: the highest score
    of each of ``limit`` equal slices of its points (its first time)."""
    if len(seconds) <= limit:
        return seconds, totals
    edges = np.linspace(0, len(seconds), limit + 1).astype(np.int64)
    starts = edges[:-1]
    peak = np.maximum.reduceat(totals, starts)
    return seconds[starts], peak


def chart_points(seconds: NDArray[np.float64], totals: NDArray[np.int64], start: float,
                 end: float, top: int, box: Box) -> NDArray[np.float64]:
    """(x, y) on the page [mm] of each score at ``seconds`` (epoch [s]) on a chart
    from ``start`` to ``end`` and from 0 to ``top`` points."""
    span = max(end - start, 1.0)
    x = box.x + (np.clip(seconds, start, end) - start) / span * box.w
    y = box.y + box.h - np.clip(totals, 0, top) / top * box.h
    return np.column_stack([x, y])


def render(stay: doc.Stay, authored: doc.Authored) -> bytes:
    """The PDF of a discharge summary."""
    pdf = _Pdf(authored.document_id)
    pdf.set_title(latin1(f"Discharge summary {stay.patient_id}"))
    pdf.set_author(latin1(authored.by))
    pdf.set_creation_date(authored.made_at)
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    _line(pdf, "Virtual ward discharge summary", 9)
    pdf.set_font("Helvetica", "", 10)
    _line(pdf, f"{stay.ward_name} ({stay.ward_id})", 6)
    pdf.ln(2)
    who = stay.display_name or stay.patient_id
    _pairs(pdf, [
        ("Patient", f"{who}, ward id {stay.patient_id}"),
        ("NHS number", stay.nhs_number or "not known to the ward"),
        ("Admitted", doc.when(stay.admitted_at)
         + (f" ({stay.admission_source})" if stay.admission_source else "")),
        ("Discharged", f"{doc.when(stay.discharged_at)}, to: {stay.outcome or 'not recorded'}"),
        ("Reason for admission", authored.admission_reason or "not recorded"),
        ("Discharged by", authored.by),
    ])
    key = doc.key_scores(stay.scores)
    _heading(pdf, "NEWS2")
    for label, s in (("On admission", key.admission), ("Highest", key.highest),
                     ("At discharge", key.discharge)):
        _para(pdf, doc.score_line(label, s))
    _heading(pdf, "NEWS2 trend")
    box = Box(pdf.l_margin + 10, pdf.get_y() + 2, pdf.epw - 14, 55)
    _chart(pdf, stay, key, box)
    pdf.set_y(box.y + box.h + 9)
    _heading(pdf, "Clinician's summary")
    _para(pdf, authored.summary)
    _section(pdf, f"Alerts ({len(stay.alerts)})", map(doc.alert_line, stay.alerts),
             "No alerts.")
    _section(pdf, "Scoring settings in force", map(doc.setting_line, stay.settings),
             "None: scored on the standard NEWS2 chart throughout.")
    _section(pdf, "Devices used", map(doc.device_line, stay.devices), "No devices.")
    _section(pdf, "Vital signs at discharge (the latest of each)",
             map(doc.vital_line, stay.vitals), "No readings.")
    return bytes(pdf.output())


def _section(pdf: FPDF, title: str, lines: Iterable[str], empty: str) -> None:
    """A heading and a paragraph per line; ``empty`` said where there is none (a
    section is never left blank, which a reader could take for a missing page)."""
    _heading(pdf, title)
    said = False
    for line in lines:
        _para(pdf, line)
        said = True
    if not said:
        _para(pdf, empty)


class _Pdf(FPDF):
    def __init__(self, document_id: str) -> None:
        super().__init__(format="A4", unit="mm")
        self._document_id = document_id

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 7)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, text=f"FHIR document /fhir/Bundle/{self._document_id}"
                             f"    page {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def _line(pdf: FPDF, text: str, height: float) -> None:
    pdf.cell(0, height, text=latin1(text), new_x="LMARGIN", new_y="NEXT")


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 11)
    _line(pdf, text, 7)
    pdf.set_font("Helvetica", "", 9)


def _para(pdf: FPDF, text: str) -> None:
    pdf.multi_cell(0, 4.5, text=latin1(text), new_x="LMARGIN", new_y="NEXT")


def _pairs(pdf: FPDF, rows: Sequence[tuple[str, str]]) -> None:
    for label, value in rows:
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(42, 5, text=latin1(label))
        pdf.set_font("Helvetica", "", 9)
        pdf.multi_cell(0, 5, text=latin1(value), new_x="LMARGIN", new_y="NEXT")


def _chart(pdf: FPDF, stay: doc.Stay, key: doc.KeyScores, box: Box) -> None:
    start, end = stay.admitted_at.timestamp(), stay.discharged_at.timestamp()
    top = 20 if any(s.total > 10 for s in stay.scores) else 10
    for low, high, colour in _BANDS:
        if low >= top:
            continue
        y_high = box.y + box.h - min(high, top) / top * box.h
        pdf.set_fill_color(*colour)
        pdf.rect(box.x, y_high, box.w, (min(high, top) - low) / top * box.h, style="F")
    pdf.set_draw_color(120, 120, 120)
    pdf.set_line_width(0.2)
    pdf.rect(box.x, box.y, box.w, box.h)
    pdf.set_font("Helvetica", "", 7)
    for tick in (0, 5, 7, top):
        y = box.y + box.h - tick / top * box.h
        pdf.text(box.x - 5, y + 1, str(tick))
    for when, align in ((stay.admitted_at, 0.0), (stay.discharged_at, 1.0)):
        label = f"{when:%d %b %H:%M}"
        pdf.text(box.x + align * (box.w - pdf.get_string_width(label)), box.y + box.h + 4,
                 label)
    if not stay.scores:
        pdf.set_font("Helvetica", "", 9)
        pdf.text(box.x + 4, box.y + box.h / 2, "No NEWS2 score during the stay.")
        return
    seconds = np.array([s.time.timestamp() for s in stay.scores], dtype=np.float64)
    totals = np.array([s.total for s in stay.scores], dtype=np.int64)
    seconds, totals = thin(seconds, totals)
    points = chart_points(seconds, totals, start, end, top, box)
    pdf.set_draw_color(*_LINE)
    pdf.set_line_width(0.5)
    if len(points) > 1:
        pdf.polyline([(float(x), float(y)) for x, y in points])
    pdf.set_fill_color(*_LINE)
    for x, y in points[:: max(1, len(points) // 60)]:
        pdf.circle(float(x), float(y), 0.6, style="F")
    pdf.set_fill_color(*_MARK)
    pdf.set_text_color(*_MARK)
    for label, s in (("admission", key.admission), ("highest", key.highest),
                     ("discharge", key.discharge)):
        if s is None:
            continue
        (x, y), = chart_points(np.array([s.time.timestamp()]), np.array([s.total]), start,
                               end, top, box)
        pdf.circle(float(x), float(y), 1.0, style="F")
        pdf.text(min(float(x) + 1.5, box.x + box.w - 22), max(float(y) - 1.5, box.y + 3),
                 f"{label}: {s.total}")
    pdf.set_text_color(0, 0, 0)

