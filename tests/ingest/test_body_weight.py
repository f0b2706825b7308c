"""A vital sign is a row (issue 11): body weight, unscored, added as one row of
ward/domain.py's TYPES and its unit conversions in ingest/units.py, is read,
converted, refused when implausible and stored by the real ingest service,
with no other code changed for it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import wait_for

from ingest import decode, fhir, units
from simulators.device_client import DeviceClient
from ward.broker_names import mqtt_protocol
from ward.domain import TYPES, ReadingType

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _decode(*readings: dict) -> decode.Decoded:
    payload = json.dumps({"id": "w-1", "readings": [
        {"time": _iso(NOW - timedelta(minutes=5)), "type": "body_weight", **r}
        for r in readings]}).encode()
    result = decode.decode_message(payload, "scale-1", now=NOW)
    assert isinstance(result, decode.Decoded)
    return result


def test_body_weight_is_a_reading_type_with_its_codes():
    info = TYPES[ReadingType.BODY_WEIGHT]
    assert (info.unit, info.loinc, info.snomed) == ("kg", "29463-7", "27113001")


def test_kilograms_pounds_and_grams_are_read_as_kilograms():
    done = _decode({"value": 82.4, "unit": "kg"}, {"value": 180, "unit": "[lb_av]"},
                   {"value": 3400, "unit": "g"}, {"value": 70.5})
    assert not done.refusals
    assert [r.type for r in done.readings] == [ReadingType.BODY_WEIGHT] * 4
    assert [r.value for r in done.readings] == pytest.approx([82.4, 81.6466266, 3.4, 70.5])
    assert units.convert(ReadingType.BODY_WEIGHT, 1.0, "[lb_av]") == 0.45359237


def test_an_implausible_weight_or_an_unknown_unit_is_refused_with_its_reason():
    done = _decode({"value": 900, "unit": "kg"}, {"value": 12, "unit": "[stone_av]"},
                   {"value": "heavy"}, {"value": 75})
    assert [r.value for r in done.readings] == [75.0]
    assert [(r.index, r.code) for r in done.refusals] == [
        (0, decode.IMPLAUSIBLE), (1, decode.UNKNOWN_UNIT), (2, decode.BAD_VALUE)]
    assert "0.2–650 kg" in done.refusals[0].reason
    assert "accepted: kg, [lb_av], g" in done.refusals[1].reason


def test_a_fhir_body_weight_is_read_by_its_loinc_or_its_snomed_code():
    def observation(system: str, code: str) -> dict:
        return {"resourceType": "Observation", "status": "final",
                "code": {"coding": [{"system": system, "code": code}]},
                "effectiveDateTime": "2026-11-23T07:00:00Z",
                "valueQuantity": {"value": 176.0, "system": "http://unitsofmeasure.org",
                                  "code": "[lb_av]"}}

    for system, code in ((fhir.LOINC, "29463-7"), (fhir.SNOMED, "27113001")):
        assert fhir.to_raw_readings(observation(system, code)) == [
            {"type": "body_weight", "time": "2026-11-23T07:00:00Z", "value": 176.0,
             "unit": "[lb_av]"}]


@pytest.mark.db
@pytest.mark.broker
def test_a_scale_publishing_its_weight_is_stored_by_the_ingest_service(services_up, register,
                                                                       spawn, conn):
    p = spawn("ingest")
    wait_for(lambda: "connected to" in p.output(), what="ingest connected")
    reg = register()
    t = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    with DeviceClient(host=services_up.mqtt_host, port=services_up.mqtt_port,
                      protocol=mqtt_protocol(services_up), device_id=reg.device_id,
                      password=reg.password).connect() as dev:
        dev.send_readings([
            {"time": _iso(t), "type": "body_weight", "value": 180, "unit": "[lb_av]"},
            {"time": _iso(t + timedelta(seconds=1)), "type": "body_weight", "value": 81.2}],
            message_id="weigh-1")

    def stored():
        return conn.execute("SELECT patient_id, type, value FROM observations"
                            " WHERE device_id = %s ORDER BY time", (reg.device_id,)).fetchall()

    wait_for(lambda: len(stored()) == 2, what="both weights stored")
    assert [(pid, kind) for pid, kind, _ in stored()] == [(reg.patient_id, "body_weight")] * 2
    assert [v for _, _, v in stored()] == pytest.approx([81.6466266, 81.2])
