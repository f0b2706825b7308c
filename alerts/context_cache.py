"""What one engine keeps of each patient's history between batches (issue 12).

The alert rules look back 6 h at scores and an hour at SpO2 readings; re-reading
that every batch was most of the engine's reading time at one set a second, and
grows with the rate (21,600 scores per patient per batch).  After each batch the
engine keeps the rows the rules can still use (alerts/context_summary.py: a few
dozen at most per patient) and, at the patient's next batch, takes its context
from them instead of from the database, reading only what is new.

It may only when nothing else has written the patient's scores since: every
writer adds one to ``patients.score_epoch`` in the transaction that locks the
patient (migration 024), and an entry holds the epoch its batch left.  It may
not either when the new readings reach back before the latest kept score (late
data rewrites scores the entry holds), when the engine's clock went back, or
when the latest score does not carry its inputs.  Then the engine reads as
before.  Entries change only once their batch has committed (``stage`` then
``commit``): a batch rolled back leaves the database, and so the cache, as it was.
Pure: no database, no clock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from alerts.context_summary import keep_readings, keep_scores
from alerts.scoring import Observations, ScoreTable
from ward.news2_chart import PARAMETERS

# Patients kept (least recently scored dropped first): an entry holds a few dozen
# score rows of ~300 bytes, so 20,000 patients take some 100-200 MB.  One engine
# carries about that many patients at a set a minute (docs/scaling.md).
CAPACITY = 20_000
_SPO2 = PARAMETERS.index("spo2")


@dataclass(frozen=True, slots=True)
class Entry:
    """One patient's kept history.  scores : rows, patient index 0, the last one the
    patient's latest stored score;  spo2_time, spo2_value : kept SpO2 readings;
    epoch : patients.score_epoch as its batch left it;  now : that batch's clock."""

    epoch: int
    now: np.datetime64
    scores: ScoreTable
    spo2_time: NDArray[np.datetime64]
    spo2_value: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Kept:
    """The kept history of a batch's patients that may use it, as the engine's reads
    would have returned it: ``context`` (rows with start[i] <= time < since[i]),
    ``last`` (each patient's latest score, for the carry) and ``spo2`` readings,
    patient indices into the batch."""

    context: ScoreTable
    last: ScoreTable
    spo2: Observations

    @classmethod
    def empty(cls) -> Kept:
        return cls(ScoreTable.empty(), ScoreTable.empty(), Observations.empty())


class ContextCache:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._staged: dict[str, Entry | None] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def usable(self, ids: Sequence[str], epochs: Sequence[int], since: NDArray[np.datetime64],
               now: np.datetime64, *, count: bool = True) -> NDArray[np.bool_]:
        """Per patient: its entry may stand for the database's history (see the module);
        ``since``: where the new readings begin (a tick, judging no new readings, passes
        the end of time)."""
        out = np.zeros(len(ids), bool)
        for i, (pid, epoch) in enumerate(zip(ids, epochs, strict=True)):
            e = self._entries.get(pid)
            out[i] = (e is not None and e.epoch == epoch and now >= e.now
                      and len(e.scores) > 0 and e.scores.time[-1] < since[i])
        if count:
            self.hits += int(out.sum())
            self.misses += len(ids) - int(out.sum())
        return out

    def kept(self, ids: Sequence[str], index: NDArray[np.int64], start: NDArray[np.datetime64],
             since: NDArray[np.datetime64]) -> Kept:
        """The entries of ``ids[index]`` (usable ones), as the batch's rows (``start``,
        ``since``: per patient of ``ids``)."""
        entries = [self._entries[ids[i]] for i in index.tolist()]
        if not entries:
            return Kept.empty()
        every = _concat([e.scores for e in entries], index)
        ends = np.cumsum([len(e.scores) for e in entries]) - 1
        counts = [len(e.spo2_time) for e in entries]
        spo2 = Observations(
            patient=np.repeat(index, counts).astype(np.int64),
            time=np.concatenate([e.spo2_time for e in entries]).astype("datetime64[us]"),
            param=np.full(sum(counts), _SPO2, np.int64),
            value=np.concatenate([e.spo2_value for e in entries]).astype(np.float64))
        before = spo2.time < since[spo2.patient]  # a reading dated ahead is read again
        spo2 = Observations(spo2.patient[before], spo2.time[before], spo2.param[before],
                            spo2.value[before])
        return Kept(every.take(every.time >= start[every.patient]), every.take(ends), spo2)

    def stage(self, ids: Sequence[str], epochs: Sequence[int], written: NDArray[np.bool_],
              history: ScoreTable, spo2: Observations, now: np.datetime64) -> None:
        """After a batch: what to keep of ``history`` (its context and new scores, sorted)
        and ``spo2`` (its SpO2 readings, sorted by patient then time) for each patient
        with new scores written (``written``); the others' entries go."""
        self._staged = {}
        keep = keep_scores(history, now)
        rows = history.take(keep)
        readings = keep_readings(spo2.patient, spo2.time, spo2.value, now)
        sp, st, sv = spo2.patient[readings], spo2.time[readings], spo2.value[readings]
        r_bounds = np.searchsorted(rows.patient, np.arange(len(ids) + 1))
        s_bounds = np.searchsorted(sp, np.arange(len(ids) + 1))
        for i, pid in enumerate(ids):
            if not written[i]:
                self._staged[pid] = None
                continue
            a, b = r_bounds[i], r_bounds[i + 1]
            mine = rows.take(slice(a, b))
            self._staged[pid] = Entry(
                epoch=int(epochs[i]), now=now,
                scores=ScoreTable(*(np.zeros(b - a, np.int64) if f == "patient"
                                    else getattr(mine, f) for f in _FIELDS)),
                spo2_time=st[s_bounds[i]:s_bounds[i + 1]],
                spo2_value=sv[s_bounds[i]:s_bounds[i + 1]])

    def commit(self) -> None:
        """The staged batch committed: its entries stand."""
        for pid, entry in self._staged.items():
            self._entries.pop(pid, None)
            if entry is not None:
                self._entries[pid] = entry
        self._staged = {}
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def discard(self) -> None:
        """The staged batch rolled back."""
        self._staged = {}


_FIELDS = ScoreTable.__dataclass_fields__.keys()


def _concat(tables: list[ScoreTable], index: NDArray[np.int64]) -> ScoreTable:
    """Patient tables (each patient index 0) as one, patient ``index[j]`` for the j-th."""
    counts = [len(t) for t in tables]
    return ScoreTable(*(np.repeat(index, counts).astype(np.int64) if f == "patient"
                        else np.concatenate([getattr(t, f) for t in tables]) for f in _FIELDS))
