-- Clinical safety (issue 8, docs/safety/hazard-log.md): the true NEWS2 beside an
-- adjusted one, each value's measurement time, stale values and the monitoring
-- band; alerts that remember what they notified; settings as an append-only
-- history with review dates; patients whose scoring keeps failing.

-- Scores.  total, band, max_single and sub_scores are now always the true NEWS2
-- (RCP's chart, no per-patient adjustment).  Where a clinician's accepted range
-- changed a sub-score, adjusted_total and adjusted_band hold the score after it
-- (NULL otherwise): what alerts follow, labelled "adjusted" wherever shown.
ALTER TABLE scores
    ADD COLUMN adjusted_total smallint CHECK (adjusted_total BETWEEN 0 AND 20),
    ADD COLUMN adjusted_band text
        CHECK (adjusted_band IN ('zero', 'low', 'low-medium', 'medium', 'high')),
    -- When each of the seven values was measured (NULL where missing), in
    -- alerts.news2.PARAMETERS order: the age of every value shown.
    ADD COLUMN input_times timestamptz[] NOT NULL DEFAULT '{}',
    -- Parameters present but measured longer ago than the monitoring band's
    -- interval: shown, counted in the total, and the set is not complete.
    ADD COLUMN stale text[] NOT NULL DEFAULT '{}',
    -- The highest band since the last complete set (that set included): the
    -- band whose monitoring interval applies (alerts/monitoring.py).  NULL on
    -- rows scored before this migration: read as the row's own band.
    ADD COLUMN monitoring_band text
        CHECK (monitoring_band IN ('zero', 'low', 'low-medium', 'medium', 'high'));
-- Rows scored before this migration held the adjusted score in total/band.
UPDATE scores SET adjusted_total = total, adjusted_band = band WHERE overridden;

-- Alerts remember what was notified: the band (news2, overdue) and the
-- parameters scoring 3, so that a rise in either notifies again.
ALTER TABLE alerts
    ADD COLUMN band text,
    ADD COLUMN red text[] NOT NULL DEFAULT '{}',
    -- Why a clinician resolved it by hand (required for urgent and emergency).
    ADD COLUMN resolve_note text;

-- A patient whose scoring fails (a fault its data reveals) is counted here;
-- three failures in a row raise the technical alert scoring_failed.  Written by
-- the alerts engine in a transaction of its own, so a failing batch cannot roll
-- the count back; deleted when the patient is scored again.
CREATE TABLE scoring_failures (
    patient_id       text PRIMARY KEY REFERENCES patients,
    failures         integer NOT NULL CHECK (failures > 0),
    first_failed_at  timestamptz NOT NULL,
    last_failed_at   timestamptz NOT NULL,
    last_error       text NOT NULL
);

-- Clinical settings as an append-only history.  setting_records: what a
-- clinician set, by whom, why, from when and until which review date (never
-- changed afterwards); setting_ends: when a setting was ended early or
-- replaced, by whom.  patient_settings, the view, reads as the table did.
ALTER TABLE patient_settings RENAME TO setting_records;
CREATE TABLE setting_ends (
    setting_id  bigint PRIMARY KEY REFERENCES setting_records,
    ended_at    timestamptz NOT NULL,
    ended_by    text NOT NULL CHECK (ended_by <> ''),
    reason      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO setting_ends (setting_id, ended_at, ended_by, reason)
SELECT setting_id, valid_to, ended_by, 'ended before migration 005'
FROM setting_records WHERE ended_by IS NOT NULL AND valid_to IS NOT NULL;
ALTER TABLE setting_records DROP COLUMN ended_by;

-- SpO2 scale 2 is the only sanctioned SpO2 adjustment: accepted SpO2 ranges
-- in force end now (the patient is rescored below).
INSERT INTO setting_ends (setting_id, ended_at, ended_by, reason)
SELECT r.setting_id, now(), 'migration 005',
       'SpO2 accepted ranges withdrawn: SpO2 scale 2 is the only sanctioned SpO2 adjustment'
FROM setting_records r
WHERE r.kind = 'accepted_range' AND r.parameter = 'spo2'
  AND (r.valid_to IS NULL OR r.valid_to > now())
  AND NOT EXISTS (SELECT 1 FROM setting_ends e WHERE e.setting_id = r.setting_id);
-- Every accepted range and scale-2 setting has a review date at most 14 days
-- after it starts.  Those in force without one get one 14 days from now.
UPDATE setting_records r SET valid_to = now() + interval '14 days'
WHERE r.valid_to IS NULL AND (r.kind = 'accepted_range' OR r.spo2_scale = 2)
  AND NOT EXISTS (SELECT 1 FROM setting_ends e WHERE e.setting_id = r.setting_id);
ALTER TABLE setting_records
    ADD CONSTRAINT setting_review_within_14_days CHECK (
        NOT (kind = 'accepted_range' OR spo2_scale = 2)
        OR (valid_to IS NOT NULL AND valid_to <= valid_from + interval '14 days')) NOT VALID,
    ADD CONSTRAINT setting_no_spo2_range CHECK (
        kind <> 'accepted_range' OR parameter <> 'spo2') NOT VALID;

CREATE VIEW patient_settings AS
SELECT r.setting_id, r.patient_id, r.kind, r.parameter, r.spo2_scale, r.low, r.high,
       r.set_by, r.reason, r.valid_from,
       least(r.valid_to, e.ended_at) AS valid_to,  -- least() skips a NULL
       r.valid_to AS review_at, e.ended_by, e.ended_at, e.reason AS end_reason,
       r.created_at
FROM setting_records r LEFT JOIN setting_ends e USING (setting_id);

CREATE FUNCTION refuse_settings_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: a setting is ended or replaced by a new row', TG_TABLE_NAME;
END $$;
CREATE TRIGGER setting_records_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON setting_records
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_settings_change();
CREATE TRIGGER setting_ends_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON setting_ends
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_settings_change();

-- Rescore under the new rules: every admitted patient's last 12 hours (the
-- freshness window: stale values, monitoring bands and the true NEWS2 of
-- what is on screen), and every patient's scores that an accepted range
-- adjusted, so that the stored total is the true one.
INSERT INTO score_queue (patient_id, since)
SELECT patient_id, min(since) FROM (
    SELECT patient_id, now() - interval '12 hours' AS since FROM patients
    WHERE discharged_at IS NULL
    UNION ALL
    SELECT patient_id, min(time) FROM scores WHERE overridden GROUP BY patient_id
) s GROUP BY patient_id
ON CONFLICT (patient_id) DO UPDATE SET since = least(score_queue.since, EXCLUDED.since);
