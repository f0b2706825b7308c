-- The ward's foundation: wards, patients, devices and their assignments over
-- time, every reading (a hypertable), refused messages and device status.
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE wards (
    ward_id     text PRIMARY KEY,
    name        text NOT NULL,
    time_zone   text NOT NULL DEFAULT 'Europe/London',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE patients (
    patient_id     text PRIMARY KEY,
    ward_id        text NOT NULL REFERENCES wards,
    display_name   text,
    admitted_at    timestamptz NOT NULL DEFAULT now(),
    discharged_at  timestamptz
);
CREATE INDEX patients_ward ON patients (ward_id) WHERE discharged_at IS NULL;

CREATE TABLE devices (
    device_id           text PRIMARY KEY CHECK (device_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    kind                text NOT NULL DEFAULT 'generic',
    -- Mosquitto's own password hash ($7$, PBKDF2-SHA512): the broker's password
    -- file is written from this column, so the database stays the one source.
    mqtt_password_hash  text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_seen           timestamptz
);

-- A device moves from patient to patient; a reading belongs to the patient
-- the device was assigned to when the reading was measured.
CREATE TABLE device_assignments (
    assignment_id  bigserial PRIMARY KEY,
    device_id      text NOT NULL REFERENCES devices,
    patient_id     text NOT NULL REFERENCES patients,
    valid_from     timestamptz NOT NULL,
    valid_to       timestamptz,
    CHECK (valid_to IS NULL OR valid_to > valid_from),
    -- A device is with one patient at a time.
    EXCLUDE USING gist (device_id WITH =, tstzrange(valid_from, valid_to) WITH &&)
);
CREATE UNIQUE INDEX device_assignments_current ON device_assignments (device_id) WHERE valid_to IS NULL;
CREATE INDEX device_assignments_patient ON device_assignments (patient_id);
CREATE INDEX device_assignments_device ON device_assignments (device_id, valid_from DESC);

-- Bumped by every change to the assignments, so that an ingest worker can
-- tell, inside its own write transaction, that its cached copy is current.
CREATE TABLE assignment_version (
    one      boolean PRIMARY KEY DEFAULT true CHECK (one),
    version  bigint NOT NULL
);
INSERT INTO assignment_version VALUES (true, 0);
CREATE FUNCTION bump_assignment_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE assignment_version SET version = version + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER device_assignments_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON device_assignments
    FOR EACH STATEMENT EXECUTE FUNCTION bump_assignment_version();

-- Every reading ever accepted, in its type's stored unit (ward/domain.py).
-- consciousness: 0=A 1=C 2=V 3=P 4=U; on_oxygen: 1 on oxygen, 0 on air.
CREATE TABLE observations (
    time         timestamptz NOT NULL,
    patient_id   text NOT NULL,
    device_id    text NOT NULL,
    type         text NOT NULL,
    value        double precision NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
SELECT create_hypertable('observations', 'time', chunk_time_interval => interval '1 day');
-- A retransmitted reading (same device, type and measurement time) is stored once.
CREATE UNIQUE INDEX observations_dedup ON observations (device_id, type, time);
CREATE INDEX observations_patient ON observations (patient_id, time DESC);

-- Refused messages, kept whole so a device maker can see what was sent.
CREATE TABLE rejected_messages (
    rejection_id  bigserial PRIMARY KEY,
    received_at   timestamptz NOT NULL DEFAULT now(),
    topic         text NOT NULL,
    device_id     text,
    message_id    text,
    reason_code   text NOT NULL,
    reason        text NOT NULL,
    -- Whole message refused, or only some readings of it (the rest were stored).
    whole         boolean NOT NULL,
    payload       bytea NOT NULL
);
CREATE INDEX rejected_messages_time ON rejected_messages (received_at DESC);
CREATE INDEX rejected_messages_device ON rejected_messages (device_id, received_at DESC);

-- Retained status messages and last wills, as history.
CREATE TABLE device_status (
    time       timestamptz NOT NULL DEFAULT now(),
    device_id  text NOT NULL,
    online     boolean,
    battery    real,
    firmware   text,
    signal     real,
    raw        jsonb NOT NULL
);
SELECT create_hypertable('device_status', 'time', chunk_time_interval => interval '7 days');
CREATE INDEX device_status_device ON device_status (device_id, time DESC);

-- Patients whose scores must be recomputed from `since` on: ingest adds to it
-- in the same transaction as the readings (so nothing is missed across a
-- restart) and the alerts engine takes rows with SKIP LOCKED (so several
-- engines never handle one patient twice).
CREATE TABLE score_queue (
    patient_id     text PRIMARY KEY,
    since          timestamptz NOT NULL,
    enqueued_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- An engine claims a row for a short while; a claim that outlives its
    -- engine expires and another engine takes the row.
    claimed_by     text,
    claimed_until  timestamptz
);
