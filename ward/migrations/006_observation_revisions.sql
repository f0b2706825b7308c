-- A reading sent again for the same device, type and measurement time with a
-- different value is a correction (ingest/store.py): `observations` takes the
-- new value, which is what scores from then on, and the value it replaced is
-- kept here.  One row per replaced value, in the order the values arrived
-- (revision_id); the reading's current value is the one in `observations`.
CREATE TABLE observation_revisions (
    revision_id           bigserial PRIMARY KEY,
    -- The reading: its measurement time, patient (the one it was first stored
    -- for: a correction changes a value, not whose it is), device and type.
    time                  timestamptz NOT NULL,
    patient_id            text NOT NULL,
    device_id             text NOT NULL,
    type                  text NOT NULL,
    -- The value replaced (stored unit) and when the ward received it.
    previous_value        double precision NOT NULL,
    previous_received_at  timestamptz NOT NULL,
    -- The value that replaced it and when the ward received that.
    value                 double precision NOT NULL,
    received_at           timestamptz NOT NULL,
    -- The correcting message's `id`, when it had one.
    message_id            text,
    recorded_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (value <> previous_value)
);
CREATE INDEX observation_revisions_reading ON observation_revisions (device_id, type, time);
CREATE INDEX observation_revisions_patient ON observation_revisions (patient_id, time DESC);

CREATE FUNCTION refuse_revision_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'observation_revisions is append-only: a replaced reading is kept as it was';
END $$;
CREATE TRIGGER observation_revisions_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON observation_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_revision_change();
