"""The docs say what the code does: every setting, reason code, topic and
reading type is documented, and the documented ranges are the code's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest import decode, units
from ward import domain
from ward.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _doc(name: str) -> str:
    return (ROOT / name).read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_operating_docs(name):
    assert f"`VWARD_{name.upper()}`" in _doc("docs/operating.md")


@pytest.mark.parametrize("code", [*decode.REASON_CODES, "internal_error"])
def test_every_reason_code_is_explained(code):
    assert re.search(rf"^\| `{code}` \|", _doc("docs/ingest.md"), re.M)


@pytest.mark.parametrize("topic", [
    "ward/v1/devices/{device_id}/readings", "ward/v1/devices/{device_id}/status",
    "ward/v1/devices/{device_id}/rejections", "ward/v1/devices/{device_id}/commands",
    "ward/v1/wards/{ward_id}/alerts"])
def test_every_topic_is_in_the_device_contract(topic):
    assert f"`{topic}`" in _doc("docs/ingest.md")


def _type_rows() -> dict[str, list[str]]:
    rows = {}
    for line in _doc("docs/ingest.md").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] in {t.value for t in domain.ReadingType}:
            rows[cells[0]] = cells
    return rows


@pytest.mark.parametrize("reading_type", list(domain.ReadingType))
def test_documented_units_and_ranges_are_the_codes(reading_type):
    row = _type_rows()[reading_type.value]
    info = domain.TYPES[reading_type]
    if reading_type in units.CONVERSIONS:
        assert row[1] == info.unit
        for unit in units.CONVERSIONS[reading_type]:
            assert unit in row[1] + " " + row[2]
        assert row[3] == f"{info.low:g}–{info.high:g}"


def test_readme_gives_the_two_commands_and_ci_runs_the_test_one():
    readme = _doc("README.md")
    assert "make demo" in readme and "make test" in readme
    assert "make test" in _doc(".ci/run")
