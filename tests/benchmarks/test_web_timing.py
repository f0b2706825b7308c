"""benchmarks/web_timing.py, pure: the loop that times the API and the
dashboard for `vward bench web` reads the app's own time from its
Server-Timing header, runs the SQL alone after each request, and leaves the
warm-up rounds out."""

from __future__ import annotations

import httpx
import pytest

from benchmarks.web_timing import time_request


def _responses(durations_ms: list[float]):
    it = iter(durations_ms)
    return lambda: httpx.Response(
        200, headers={"server-timing": f"app;dur={next(it)}"},
        request=httpx.Request("GET", "http://bench/"))


def test_the_warm_up_rounds_are_left_out_and_the_sql_runs_after_each_request() -> None:
    sql_runs: list[int] = []
    t = time_request(_responses([900.0, 800.0, 10.0, 30.0, 20.0]), "page", 3,
                     sql=lambda: sql_runs.append(1), note="why")
    assert len(sql_runs) == 5  # every round, the two warm-ups too
    assert t.samples == pytest.approx([0.010, 0.030, 0.020])  # [s], warm-ups left out
    assert t.server_ms == pytest.approx(20.0)  # the median
    assert t.sql_ms is not None and t.client_ms > 0
    assert (t.label, t.note) == ("page", "why")


def test_without_sql_there_is_no_sql_time() -> None:
    assert time_request(_responses([5.0] * 3), "api", 1).sql_ms is None


def test_a_failed_request_stops_the_bench() -> None:
    def failing() -> httpx.Response:
        return httpx.Response(503, request=httpx.Request("GET", "http://bench/"))

    with pytest.raises(httpx.HTTPStatusError):
        time_request(failing, "api", 1)
