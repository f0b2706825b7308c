"""The benchmarks behind `vward bench X`: each prints figures measured on
services of its own, never asserts them (they vary with the machine).

`vward bench X` runs ``benchmarks/X.py``'s ``main(args, settings)``; a module
whose name carries a bench's name and a suffix is that bench's part:

- ``ingest``: ingest throughput beside raw COPY and the broker's raw rate;
- ``scoring``: the NEWS2 core (``news2_core``, which also holds the per-row
  reference that tests check the kernel against), rescore throughput and
  commit → score latency;
- ``partition``: one alerts engine against two on disjoint wards;
- ``simulate``: can one simulator process keep its devices on schedule;
- ``web``: the API's heaviest reads and, through ``web_dashboard``, the
  dashboard's pages, each beside its SQL alone (``web_timing``);
- ``durability``: is every acknowledged reading stored, through faults;
- ``realtime``: device → stored score → alert event (``realtime_*``), its
  runs kept in ``results.jsonl`` (``results``).

They stand outside the stages and use only what a stage makes public (no
``_`` name); nothing in a stage imports them.  Where a bench writes tables
itself (COPY), it seeds its own scratch database fast; a path it times as the
ward's goes through the ward's own code (a real `vward ingest` or `vward
alerts` process, ``ward.score_queue``)."""
