"""Scenario files: the built-ins say what they promise, and a mistake in a file
is refused with a message that says where."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulators import scenario
from simulators.devices import KINDS
from simulators.errors import ScenarioError
from simulators.faults import FaultRates
from simulators.physiology import COURSES

MINIMAL = """
[ward]
id = "w-1"

[[groups]]
course = "stable"
count = 3
"""


def test_mixed_is_a_demo_ward_with_a_few_deteriorating_patients() -> None:
    sc = scenario.load("mixed")
    group = sc.assign()
    courses = [sc.groups[g].course for g in group]
    assert 25 <= len(courses) <= 35 and sc.speed == 60
    assert courses.count("stable") + courses.count("recovering") >= 0.8 * len(courses)
    for course in ("sepsis", "sudden_hypoxia", "copd_exacerbation", "bleed"):
        assert courses.count(course) == 1
    by_course = {g.course: g for g in sc.groups if g.course != "stable"}
    # Onset within the first few simulated minutes: at speed 60, alerts come quickly.
    assert by_course["sepsis"].onset_s[1] <= 300 and by_course["sudden_hypoxia"].onset_s[1] <= 300
    assert by_course["copd_exacerbation"].copd
    assert sc.faults != FaultRates() and 0 < sc.fahrenheit < 1


def test_quiet_is_stable_without_faults() -> None:
    sc = scenario.load("quiet")
    assert {g.course for g in sc.groups} == {"stable"} and sc.faults == FaultRates()


def test_load_is_ten_thousand_patches_every_ten_seconds_without_faults() -> None:
    sc = scenario.load("load")
    group = sc.assign()
    devices = sum(len(sc.groups[g].devices) for g in group)
    assert devices == 10_000 and sc.faults == FaultRates()
    assert all(sc.interval(g, k) == 10 for g in sc.groups for k in g.devices)


def test_defaults_fill_what_a_file_leaves_out() -> None:
    sc = scenario.loads(MINIMAL, name="minimal")
    assert sc.ward_id == "w-1" and sc.patients == 3 and sc.speed == 1.0
    assert sc.interval_s == {k: kind.interval_s for k, kind in KINDS.items()}
    assert sc.groups[0].devices and sc.groups[0].onset_s == (0.0, 0.0)
    assert sc.faults == FaultRates()


def test_groups_override_intervals() -> None:
    sc = scenario.load("mixed")
    hypoxia = next(g for g in sc.groups if g.course == "sudden_hypoxia")
    stable = next(g for g in sc.groups if g.course == "stable")
    assert sc.interval(hypoxia, "oximeter") == 60
    assert sc.interval(stable, "oximeter") == sc.interval_s["oximeter"]


def test_counts_are_exact_and_shares_split_the_rest() -> None:
    sc = scenario.load("mixed")
    for n in (10, 31, 100, 1000):
        group = sc.assign(n)
        assert len(group) == n and np.all(np.diff(group) >= 0)
        counts = np.bincount(group, minlength=len(sc.groups))
        for i, g in enumerate(sc.groups):
            if g.count is not None:
                assert counts[i] == g.count
    with pytest.raises(ScenarioError, match="cannot make 2"):
        sc.assign(2)
    with pytest.raises(ScenarioError, match="cannot make 5"):
        scenario.loads(MINIMAL).assign(5)


def test_a_scenario_file_is_read_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "my-ward.toml"
    path.write_text(MINIMAL)
    assert scenario.load(path).name == "my-ward"
    with pytest.raises(ScenarioError, match=r"cannot read scenario .*nope\.toml"):
        scenario.load(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            MINIMAL.replace('course = "stable"', 'course = "sepss"'),
            r"\[\[groups\]\] #1: unknown course 'sepss' \(known: stable, recovering",
        ),
        (
            MINIMAL + "[faults]\nduplicate = -0.5\n",
            r"\[faults\]: 'duplicate' must be >= 0, got -0.5",
        ),
        (MINIMAL + "[faults]\nmalformed = 2\n", r"\[faults\]: malformed is a probability"),
        (MINIMAL + "[faults]\noffline_hours = [3, 1]\n", r"'offline_hours' must be \[min, max\]"),
        (MINIMAL + "[faults]\ndupliate = 0.1\n", r"\[faults\]: unknown key\(s\) 'dupliate'"),
        (MINIMAL.replace("[ward]", "[ward]\nsped = 60"), r"\[ward\]: unknown key\(s\) 'sped'"),
        (MINIMAL + "[extra]\n", r"scenario t: unknown key\(s\) 'extra'"),
        (MINIMAL.replace("count = 3", "count = 3\ncolor = 1"), r"#1: unknown key\(s\) 'color'"),
        (
            MINIMAL.replace("count = 3", "count = 3\nshare = 0.5"),
            "exactly one of 'count' and 'share'",
        ),
        (MINIMAL.replace("count = 3", "share = 0.5"), "'patients' is needed when a group gives"),
        (MINIMAL.replace('id = "w-1"', "patients = 2"), "counts make 3 patients, cannot make 2"),
        (
            MINIMAL.replace("count = 3", "count = 3\ndevices = ['pager']"),
            "devices must be distinct",
        ),
        (MINIMAL.replace("count = 3", "count = 3.5"), "'count' must be a whole number"),
        (MINIMAL.replace("count = 3", "count = 3\nonset_s = [600, 60]"), "min <= max"),
        (
            MINIMAL.replace("count = 3", "count = 3\ninterval_s = { pager = 5 }"),
            r"\[interval_s\]: unknown key\(s\) 'pager'; known: bp_cuff",
        ),
        (MINIMAL + "[devices.interval_s]\npatch = 0\n", "'patch' must be > 0"),
        (MINIMAL + "[devices]\nfahrenheit = 1.5\n", "'fahrenheit' must be <= 1"),
        (MINIMAL.replace('id = "w-1"', 'id = "w 1"'), "'id' 'w 1' must be 1-64 letters"),
        (MINIMAL.replace('id = "w-1"', "speed = -1"), "'speed' must be > 0"),
        ("[ward]\nid = 'w'\n", "needs at least one"),
        ("[ward\n", "not valid TOML"),
        (MINIMAL.replace("[ward]", "ward = 3\n[x]"), r"\[ward\]: expected a table"),
    ],
)
def test_mistakes_are_refused_with_a_clear_message(text: str, match: str) -> None:
    with pytest.raises(ScenarioError, match=match):
        scenario.loads(text, name="t")


def test_every_course_and_kind_can_be_named_in_a_file() -> None:
    groups = "".join(
        f'[[groups]]\ncourse = "{c}"\ncount = 1\ndevices = {list(KINDS)!r}\n' for c in COURSES
    )
    sc = scenario.loads(groups.replace("'", '"'))
    assert [g.course for g in sc.groups] == list(COURSES)
    assert sc.patients == len(COURSES)
