"""The NEWS2 band alert from a patient's score history, and the episodes late
data shows that nobody was told of (``retrospective``).  Pure, as
alerts/conditions.py, which judges the other kinds."""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
from numpy.typing import ArrayLike, NDArray

from alerts import reasons, rules
from alerts.lifecycle import NEWS2, RETROSPECTIVE, Condition, Key
from alerts.numpy_times import aware
from alerts.rules import Severity
from alerts.scoring import ScoreTable
from ward.news2_chart import BANDS, PARAMETERS, RED


def news2_conditions(
    history: ScoreTable,
    patient_ids: Sequence[str],
    ward_ids: Sequence[str],
    live: Container[Key],
    since: ArrayLike | None = None,
    covered: Mapping[str, Sequence[datetime]] | None = None,
) -> list[Condition]:
    """The NEWS2 band alert of each patient, judged on its score history; and, given
    ``since``, what late data shows that nobody was told of (``retrospective``).

    history : scores sorted by patient and time (``ScoreTable.merged`` gives that),
        covering at least the kind's hold before the latest score.
    Each score shows its effective level (``ScoreTable.effective_level``): a complete
    set its own band, an incomplete one the monitoring band, so a value that ages out
    or a reassuring partial reading is never an improvement.  The alert holds when the
    latest score's level demands one (rules.BAND_SEVERITY); else, when an earlier score
    did, the condition carries that score and the time of the first clear score after
    it (``cleared_at``: a complete set that no longer scores) for the lifecycle.
    since : datetime64 per patient index; scores at or after it are new (this call
        scored them).  An episode wholly among them that reached the high band or a
        red parameter and is over by the latest score was never alerted on: it gives
        a ``retrospective`` condition instead (unless an alert of ``covered[patient]``,
        the condition times of the patient's news2 and retrospective alerts, lies in it).
    """
    n = len(history)
    if n == 0:
        return []
    levels = _Levels(history)
    severity = rules.level_severity(levels.effective)
    patient = history.patient
    ends = np.flatnonzero(np.r_[patient[1:] != patient[:-1], True])
    starts = np.r_[0, ends[:-1] + 1]
    out = []
    for first, last in zip(starts.tolist(), ends.tolist(), strict=True):
        p = int(patient[last])
        episodes = []
        if since is not None:
            new_from = first + int(np.searchsorted(history.time[first:last + 1],
                                                   np.asarray(since)[p], side="left"))
            episodes = _unseen_episodes(history, levels, severity, first, new_from, last,
                                        (covered or {}).get(patient_ids[p], ()))
        if episodes:
            out.append(_retrospective(history, levels, episodes, patient_ids[p], ward_ids[p]))
        raised = np.flatnonzero(severity[first:last + 1] > 0)
        if severity[last] > 0:
            out.append(_news2_condition(history, levels, first, last, patient_ids[p],
                                        ward_ids[p]))
        elif len(raised) and not (episodes and first + int(raised[-1]) == episodes[-1][1]):
            r = first + int(raised[-1])
            c = _news2_condition(history, levels, first, r, patient_ids[p], ward_ids[p])
            out.append(replace(c, cleared_at=aware(history.time[r + 1]),
                               latest=f"now {_news2_text(history, last)}"))
        elif (patient_ids[p], NEWS2, "") in live:
            out.append(Condition(patient_ids[p], ward_ids[p], NEWS2, None,
                                 _news2_text(history, last),
                                 condition_time=aware(history.time[last])))
    return out


class _Levels:
    """The band levels of a score table, computed once per call (ScoreTable's
    properties compute them anew each time)."""

    __slots__ = ("alert", "effective", "monitoring")

    def __init__(self, t: ScoreTable) -> None:
        self.alert = t.alert_level
        self.monitoring = t.monitoring_level
        self.effective = np.where(t.complete, self.alert, self.monitoring).astype(np.int8)


def _news2_condition(t: ScoreTable, levels: _Levels, first: int, row: int, patient_id: str,
                     ward_id: str) -> Condition:
    """The condition that score ``row`` shows (rows ``first``..``row``: the patient's).

    A complete set stands on itself.  An incomplete one stands on the score that set
    its monitoring band (the latest at that band since the last complete set), and
    says what is missing or stale: it is a lower bound.  Its red parameters are every
    one that scored 3 since the last complete set (no complete set has disproved them);
    when that set lies before the history, they are unknown (None: the alert keeps its
    own)."""
    level = levels.effective
    text = _news2_text(t, row)
    red: frozenset[str] | None
    if t.complete[row]:
        red = _reds(t, row, row)
    else:
        basis, start = _basis(t, levels, first, row)
        red = _reds(t, start, row) if basis is not None else None
        if basis is None:
            text += (f"; the {t.monitoring_band[row]} band since the last complete set stands"
                     " until a complete set")
        elif basis != row:
            text = (f"{_news2_text(t, basis)}; stands until a complete set (latest: {text})")
    severity = Severity(int(rules.level_severity(level[row : row + 1])[0]))
    return Condition(patient_id, ward_id, NEWS2, severity, text,
                     condition_time=aware(t.time[row]), band=str(BANDS[level[row]]), red=red)


def _reds(t: ScoreTable, start: int, row: int) -> frozenset[str]:
    scored_3 = (t.sub_scores[start:row + 1] >= RED).any(axis=0)
    return frozenset(np.array(PARAMETERS)[scored_3].tolist())


def _basis(t: ScoreTable, levels: _Levels, first: int, row: int) -> tuple[int | None, int]:
    """The latest score at ``row``'s monitoring level since the last complete set
    before it (that set included), None when it lies before the history; and the
    first row of that stretch."""
    complete = np.flatnonzero(t.complete[first:row])
    start = first + (int(complete[-1]) if len(complete) else 0)
    at = np.flatnonzero(levels.alert[start:row + 1] == levels.monitoring[row])
    return (start + int(at[-1]) if len(at) else None), start


def _unseen_episodes(t: ScoreTable, levels: _Levels, severity: NDArray[np.int8], first: int,
                     new_from: int, last: int,
                     covered: Sequence[datetime]) -> list[tuple[int, int, int]]:
    """(first, last raised, clear) rows of each episode among rows ``new_from``..``last``
    that began there, reached high or a red parameter, and was clear by ``last``."""
    raised = severity[new_from:last + 1] > 0
    if not raised.any():
        return []
    edges = np.diff(np.r_[False, raised, False].astype(np.int8))
    begins = new_from + np.flatnonzero(edges == 1)
    stops = new_from + np.flatnonzero(edges == -1)  # the first clear row after each
    times = [np.datetime64(c.astimezone(UTC).replace(tzinfo=None), "us") for c in covered]
    out = []
    for b, e in zip(begins.tolist(), stops.tolist(), strict=True):
        if e > last or (b == new_from > first and severity[new_from - 1] > 0):
            continue  # still holding, or begun before the new rows (alerted then)
        high = (levels.effective[b:e] == len(BANDS) - 1).any()
        red = (t.sub_scores[b:e] >= RED).any()
        seen = any(t.time[b] <= c <= t.time[e] for c in times)
        if (high or red) and not seen:
            out.append((b, e - 1, e))
    return out


def _retrospective(t: ScoreTable, levels: _Levels, episodes: list[tuple[int, int, int]],
                   patient_id: str, ward_id: str) -> Condition:
    parts = []
    for b, e, clear in episodes[-3:]:
        peak = b + int(np.argmax(levels.effective[b:e + 1]))
        parts.append(reasons.retrospective_reason(
            _news2_text(t, peak), aware(t.time[b]), aware(t.time[e]), aware(t.time[clear])))
    more = f" (and {len(episodes) - 3} earlier)" if len(episodes) > 3 else ""
    return Condition(patient_id, ward_id, RETROSPECTIVE, rules.RETROSPECTIVE_SEVERITY,
                     "; ".join(parts) + more, condition_time=aware(t.time[episodes[-1][0]]),
                     renotify=True)


def _news2_text(t: ScoreTable, row: int) -> str:
    stale = t.stale[row].tolist()
    adjusted = (int(t.adjusted_total[row]), str(t.adjusted_band[row])) \
        if t.overridden[row].any() else None
    return reasons.news2_reason(
        int(t.total[row]), str(t.band[row]), t.sub_scores[row].tolist(), t.inputs[row].tolist(),
        spo2_scale=int(t.spo2_scale[row]), overridden=t.overridden[row].tolist(),
        at=aware(t.time[row]), adjusted=adjusted, stale=stale,
        # The reason names the measurement time of stale values only.
        measured=[aware(x) if old and not np.isnat(x) else None
                  for x, old in zip(t.input_times[row], stale, strict=True)])
