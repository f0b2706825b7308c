-- Scores, alerts and their audit trail, and the clinical settings that change
-- how a patient is scored.  Written by the alerts engine; read by the web app.

-- A clinician's setting for one patient, kept as history: who set it, why,
-- from when and until when.  kind 'spo2_scale' uses spo2_scale; kind
-- 'accepted_range' says that `parameter` between low and high is this
-- patient's normal and scores 0.
CREATE TABLE patient_settings (
    setting_id   bigserial PRIMARY KEY,
    patient_id   text NOT NULL REFERENCES patients,
    kind         text NOT NULL CHECK (kind IN ('spo2_scale', 'accepted_range')),
    parameter    text CHECK (parameter IN ('respiratory_rate', 'spo2', 'systolic_bp',
                                           'heart_rate', 'temperature')),
    spo2_scale   smallint CHECK (spo2_scale IN (1, 2)),
    low          double precision,
    high         double precision,
    set_by       text NOT NULL CHECK (set_by <> ''),
    reason       text NOT NULL CHECK (reason <> ''),
    valid_from   timestamptz NOT NULL DEFAULT now(),
    -- The end date the clinician gave (a review date); NULL: until changed.
    valid_to     timestamptz,
    ended_by     text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_to IS NULL OR valid_to > valid_from),
    CHECK ((kind = 'spo2_scale' AND spo2_scale IS NOT NULL AND parameter IS NULL)
        OR (kind = 'accepted_range' AND parameter IS NOT NULL AND low IS NOT NULL
            AND high IS NOT NULL AND low <= high))
);
CREATE INDEX patient_settings_patient ON patient_settings (patient_id, valid_from DESC);

-- Every score the ward computed, at the measurement time of the readings that
-- made it (not the time they arrived).  sub_scores and inputs hold the seven
-- NEWS2 parameters in the order of alerts.news2.PARAMETERS; a missing one is
-- -1 in sub_scores and NULL in inputs.
CREATE TABLE scores (
    time          timestamptz NOT NULL,
    patient_id    text NOT NULL,
    total         smallint NOT NULL CHECK (total BETWEEN 0 AND 20),
    band          text NOT NULL CHECK (band IN ('zero', 'low', 'low-medium', 'medium', 'high')),
    max_single    smallint NOT NULL,
    complete      boolean NOT NULL,
    missing       text[] NOT NULL,
    sub_scores    smallint[] NOT NULL,
    inputs        double precision[] NOT NULL,
    spo2_scale    smallint NOT NULL,
    -- A clinician's accepted range changed at least one sub-score.
    overridden    boolean NOT NULL DEFAULT false,
    scored_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
SELECT create_hypertable('scores', 'time', chunk_time_interval => interval '1 day');
CREATE UNIQUE INDEX scores_patient_time ON scores (patient_id, time DESC);

-- One row per alert; at most one open (or acknowledged) alert per patient,
-- kind and device.  Clinical alerts come from the score, technical ones from
-- the devices; the dashboard keeps them apart.
CREATE TABLE alerts (
    alert_id            bigserial PRIMARY KEY,
    patient_id          text NOT NULL REFERENCES patients,
    ward_id             text NOT NULL REFERENCES wards,
    kind                text NOT NULL,
    category            text NOT NULL CHECK (category IN ('clinical', 'technical')),
    device_id           text NOT NULL DEFAULT '',
    severity            text NOT NULL,
    state               text NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
    -- Why it fired, in words a clinician reads (e.g. "NEWS2 7 (high): RR 26 scores 3 ...").
    reason              text NOT NULL,
    -- The measurement time of the reading that raised or last raised it.
    condition_time      timestamptz,
    opened_at           timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    last_notified_severity text NOT NULL,
    clear_since         timestamptz,
    escalated_at        timestamptz,
    acknowledged_at     timestamptz,
    acknowledged_by     text,
    ack_note            text,
    -- What the clinician did, and whether it changed the patient's management:
    -- the ward's evidence of which alerts were worth raising.
    ack_action          text,
    changed_management  boolean,
    resolved_at         timestamptz,
    resolved_by         text
);
CREATE UNIQUE INDEX alerts_one_live ON alerts (patient_id, kind, device_id) WHERE state <> 'resolved';
CREATE INDEX alerts_ward_live ON alerts (ward_id, opened_at DESC) WHERE state <> 'resolved';
CREATE INDEX alerts_patient ON alerts (patient_id, opened_at DESC);

-- Every transition of every alert, append-only.
CREATE TABLE alert_events (
    event_id    bigserial PRIMARY KEY,
    alert_id    bigint NOT NULL REFERENCES alerts,
    time        timestamptz NOT NULL,
    -- opened, updated (severity moved, nobody re-notified), escalated (severity
    -- rose, or unacknowledged too long), acknowledged, resolved, reconciled
    -- (late readings rewrote the history that raised it).
    event       text NOT NULL CHECK (event IN ('opened', 'updated', 'escalated',
                                               'acknowledged', 'resolved', 'reconciled')),
    severity    text NOT NULL,
    state       text NOT NULL,
    actor       text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, event_id);
CREATE INDEX alert_events_time ON alert_events (time DESC);
CREATE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'alert_events is an append-only audit trail';
END $$;
CREATE TRIGGER alert_events_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON alert_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();
