"""Putting a simulation's patients and devices on the ward, psycopg only:
through `ward.devices.register_devices`, the same path as `vward device add`,
then the broker's credentials; COPD patients get SpO2 scale 2 as a clinician
would set it (ward.clinical), and every patient where they came from, step-up
or step-down (simulators/sources.py, ward.flow_store)."""

from __future__ import annotations

from datetime import datetime

import psycopg

from simulators.errors import SimulatorError
from simulators.plan import Simulation
from simulators.sources import admission_source
from ward import broker, clinical, db, devices, flow_store
from ward.errors import Conflict
from ward.settings import Settings

SCALE_2_REASON = "simulated patient with COPD: confirmed hypercapnic respiratory failure"


def enrol(settings: Settings, sim: Simulation, *, valid_from: datetime) -> dict[str, str]:
    """Register every device for its patient from `valid_from` on (before the
    simulated start), set SpO2 scale 2 where the scenario says so, give the
    broker the new passwords; returns each device's MQTT password."""
    new = [devices.NewDevice(d.device_id, d.patient_id, d.ward_id, d.kind) for d in sim.devices]
    with db.connect(settings) as conn:
        devices.ensure_ward(conn, sim.scenario.ward_id, name=sim.scenario.ward_name)
        try:
            passwords = devices.register_devices(conn, new, valid_from=valid_from)
        except Conflict as exc:
            raise SimulatorError(f"{exc}: run with another --seed, or the same --ward") from None
        for p in sim.patients:
            if p.spo2_scale == 2 and not _on_scale_2(conn, p.patient_id):
                clinical.set_spo2_scale(
                    conn, p.patient_id, 2, by="simulator", reason=SCALE_2_REASON, now=valid_from
                )
        flow_store.record_sources(conn, {p.patient_id: admission_source(
            p.patient_id, copd=p.spo2_scale == 2) for p in sim.patients})
        hashes = devices.password_hashes(conn)
        conn.commit()
    if not settings.mqtt_external:
        broker.write_credentials(settings, hashes)
    return passwords


def _on_scale_2(conn: psycopg.Connection, patient_id: str) -> bool:
    """Already on scale 2 until further notice (a rerun with the same seed)."""
    return (
        conn.execute(
            "SELECT 1 FROM patient_settings WHERE patient_id = %s AND kind = 'spo2_scale'"
            " AND spo2_scale = 2 AND valid_to IS NULL",
            (patient_id,),
        ).fetchone()
        is not None
    )
