-- Scores, alerts and their audit trail, and the clinical settings that change
-- how a patient is scored.  Written by the alerts engine; read by the web app.

-- While an engine holds a queue row (claimed_by), the `since` it took waits in
-- claimed_since and `since` is 9999-12-31 until a new reading lowers it (ingest
-- keeps the least): the engine then knows what came after its claim, and a
-- crashed engine's successor takes least(since, claimed_since).
ALTER TABLE score_queue ADD COLUMN claimed_since timestamptz;

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
    -- Which parameters an accepted range zeroed (alerts.news2.PARAMETERS names).
    overridden_parameters text[] NOT NULL DEFAULT '{}',
    -- When the engine (re)computed it: scored_at minus the readings' commit is
    -- the engine's latency.
    scored_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
SELECT create_hypertable('scores', 'time', chunk_time_interval => interval '1 day');
CREATE UNIQUE INDEX scores_patient_time ON scores (patient_id, time DESC);
-- The last complete set of each patient, for the overdue rule, without walking
-- back through a patch's minute-by-minute partial scores.
CREATE INDEX scores_patient_complete ON scores (patient_id, time DESC) WHERE complete;

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
    -- alerts.rules.Severity, lower case: info < low < urgent < emergency.
    severity            text NOT NULL CHECK (severity IN ('info', 'low', 'urgent', 'emergency')),
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
    severity    text NOT NULL CHECK (severity IN ('info', 'low', 'urgent', 'emergency')),
    state       text NOT NULL,
    actor       text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}',
    -- Why, in words a clinician reads (the engine's events; '' for a person's).
    reason      text NOT NULL DEFAULT '',
    -- The writing transaction: the outbox publishes in (txid, event_id) order
    -- and only events of transactions older than every running one, so an event
    -- committed late behind a higher event_id is never skipped.
    txid        xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, event_id);
CREATE INDEX alert_events_time ON alert_events (time DESC);
CREATE INDEX alert_events_outbox ON alert_events (txid, event_id);
CREATE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'alert_events is an append-only audit trail';
END $$;
CREATE TRIGGER alert_events_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON alert_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();

-- What the alerts engine has published on MQTT (ward/v1/wards/{ward}/alerts):
-- every alert_events row up to (txid, event_id) in outbox order.  One row; an
-- engine publishes while holding its lock, so several engines never publish
-- one event twice (a crash between publishing and committing may: at least once).
CREATE TABLE alert_outbox (
    one            boolean PRIMARY KEY DEFAULT true CHECK (one),
    txid           xid8 NOT NULL,
    event_id       bigint NOT NULL,
    published      bigint NOT NULL DEFAULT 0,
    published_at   timestamptz
);
INSERT INTO alert_outbox (txid, event_id) VALUES ('0', 0);
