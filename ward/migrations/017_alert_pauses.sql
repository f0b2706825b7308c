-- Quiet hours without quiet patients (issue 13, docs/alerts.md "Pauses"): a
-- clinician pauses the NOTIFYING of one alert kind for one patient, for at most
-- 24 hours, with a reason.  The alert still opens and shows on the dashboard
-- (labelled paused, with the pause's end); an emergency is never paused.
--
-- Kept like the clinical settings (migration 005): an append-only history.
-- alert_pause_records: what a clinician paused, by whom, why, from when until
-- when (never changed afterwards); alert_pause_ends: a pause ended early or
-- replaced, by whom and why.  alert_pauses, the view, reads as one table.

CREATE TABLE alert_pause_records (
    pause_id    bigserial PRIMARY KEY,
    patient_id  text NOT NULL REFERENCES patients,
    -- An alert kind (alerts/lifecycle.py); ward/pauses.py says which may be paused.
    kind        text NOT NULL CHECK (kind <> '' AND kind <> 'emergency'),
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    reason      text NOT NULL CHECK (btrim(reason) <> ''),
    created_by  text NOT NULL CHECK (btrim(created_by) <> ''),
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- ward/pauses.MAX_PAUSE: a pause nobody renews lapses within a day.
    CONSTRAINT pause_within_24_hours
        CHECK (ends_at > starts_at AND ends_at <= starts_at + interval '24 hours')
);
CREATE INDEX alert_pause_records_patient ON alert_pause_records (patient_id, ends_at DESC);
CREATE INDEX alert_pause_records_ends ON alert_pause_records (ends_at DESC);

CREATE TABLE alert_pause_ends (
    pause_id    bigint PRIMARY KEY REFERENCES alert_pause_records,
    ended_at    timestamptz NOT NULL,
    ended_by    text NOT NULL CHECK (btrim(ended_by) <> ''),
    reason      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE VIEW alert_pauses AS
SELECT r.pause_id, r.patient_id, r.kind, r.starts_at, r.ends_at, r.reason,
       r.created_by, r.created_at, e.ended_at, e.ended_by, e.reason AS end_reason
FROM alert_pause_records r LEFT JOIN alert_pause_ends e USING (pause_id);

CREATE FUNCTION refuse_pause_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: a pause is ended or replaced by a new row', TG_TABLE_NAME;
END $$;
CREATE TRIGGER alert_pause_records_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON alert_pause_records
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_pause_change();
CREATE TRIGGER alert_pause_ends_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON alert_pause_ends
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_pause_change();
