"""`vward bench partition`: do engines on disjoint wards add up?

The alerts engine scales out by partition: each engine scores the wards of its
`VWARD_ALERTS_WARDS` (docs/scaling.md).  This bench offers one load, a set per
patient per second written as ingest writes it (scoring.py's latency
path), first to one engine holding every patient, then to two engines each
holding half of them on a ward of its own, and prints for each the sets scored
per second over the run and the latency from commit to stored score.  A load
above what one engine carries shows the sustained rate of each: the ratio is
what the second engine adds on this machine, where the database, the writer and
the engines share its cores.  Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse

from benchmarks import scoring
from ingest import mqtt_session
from ward import scratch
from ward.errors import ConfigError
from ward.settings import Settings


def run(patients: int, seconds: float) -> list[str]:
    with scratch.running("vward-bench-partition-", ingest_session=mqtt_session.ensure) as settings:
        one = scoring.latency(settings, patients, seconds, engines=1, first=0, tag="one")
        two = scoring.latency(settings, patients, seconds, engines=2, first=patients, tag="two")
    lines = [f"{patients:,} patients, a set each per second for {seconds:.0f} s"
             " (commit → stored score):"]
    for r in (one, two):
        lines.append(f"  {r['engines']} engine{'s' if r['engines'] > 1 else ' '}:"
                     f" {r['rate']:,.0f} sets/s scored, p50 {r['p50_ms']:,.0f} ms,"
                     f" p99 {r['p99_ms']:,.0f} ms, max {r['max_ms']:,.0f} ms"
                     f" ({r['scored']:,} of {r['sets']:,} sets)")
    lines.append(f"  two engines / one: {two['rate'] / one['rate']:.2f}× the sets scored per"
                 " second")
    return lines


def main(args: argparse.Namespace, settings: Settings) -> int:
    patients = getattr(args, "patients", None) or (300 if args.quick else 1500)
    if patients < 2:
        raise ConfigError(f"--patients {patients}: two engines need a patient each at least")
    for line in run(patients, 5 if args.quick else 20):
        print(line)
    return 0
