"""A ward's protocol through the API (issue 14, item 3): anyone who sees the ward
reads it in /api/v1/wards; only an admin sets it, to a protocol of the table."""

from __future__ import annotations

import api_fixtures
import pytest
from conftest import unique

from ward import devices, protocol_store

pytestmark = [pytest.mark.db]

web, admin, clinician = api_fixtures.web, api_fixtures.admin, api_fixtures.clinician


def test_an_admin_sets_the_protocol_and_the_ward_list_shows_it(web, admin, clinician, conn):
    ward_id = unique("wp")
    devices.ensure_ward(conn, ward_id)  # made by `vward device add`: NEWS2

    def listed() -> str:
        wards = web.get("/api/v1/wards", headers=admin.headers).json()
        return {w["ward_id"]: w["protocol"] for w in wards}[ward_id]

    assert listed() == "news2"
    url = f"/api/v1/wards/{ward_id}"
    refused = web.patch(url, json={"protocol": "covid-oximetry"}, headers=clinician.headers)
    assert refused.status_code in (403, 404) and listed() == "news2"
    r = web.patch(url, json={"protocol": "covid-oximetry"}, headers=admin.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["ward_id"], r.json()["protocol"]) == (ward_id, "covid-oximetry")
    assert listed() == "covid-oximetry"
    # H75: kept with who changed it (the ward was made by devices, before any change).
    assert [c[:3] for c in protocol_store.changes(conn, ward_id)][-1] == (
        "covid-oximetry", "news2", admin.name)
    for bad in ({"protocol": "covid"}, {"protocol": None}, {}, {"protocol": 2}):
        assert web.patch(url, json=bad, headers=admin.headers).status_code == 422, bad
    assert listed() == "covid-oximetry"
    assert web.patch(f"/api/v1/wards/{unique('no')}", json={"protocol": "news2"},
                     headers=admin.headers).status_code == 404
