"""`vward rescore`: recompute stored scores through the engine's own scoring path,
in chunks of patients, one transaction each, on one or more connections."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from tqdm import tqdm

from alerts.engine import Engine


def rescore(engines: Engine | Sequence[Engine], ids: Sequence[str], since: datetime,
            now: datetime, *, chunk: int, progress: bool = True) -> list[str]:
    """Rescore ``ids`` from ``since`` in chunks of patients, one transaction each: the
    engine's own scoring path (`vward rescore`, and the benchmark).  Given several
    engines (each on its own connection), they take chunks in turn from one list in
    threads of their own, so that the database writes one chunk while Python reads
    and scores another.  Returns the patients that could not be scored (logged; the
    others are scored all the same)."""
    crew = [engines] if isinstance(engines, Engine) else list(engines)
    parts = [list(ids[i:i + chunk]) for i in range(0, len(ids), chunk)]
    failed: list[str] = []
    lock = threading.Lock()
    with tqdm(total=len(ids), unit="patient", disable=not progress, file=sys.stderr) as bar:

        def work(engine: Engine) -> None:
            def score(part: list[str]) -> None:
                with engine.conn.transaction():
                    engine.score(part, [since] * len(part), now)

            while True:
                with lock:
                    if not parts:
                        return
                    part = parts.pop(0)
                lost = [p for p, _ in engine.each_alone(part, score, str, "left as it was")]
                with lock:
                    failed.extend(lost)
                    bar.update(len(part))

        with ThreadPoolExecutor(len(crew)) as pool:
            for done in [pool.submit(work, e) for e in crew]:
                done.result()
    return failed
