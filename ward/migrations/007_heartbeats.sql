-- Heartbeats (issue 8, finding 7: nothing said when alerting had stopped).
-- One row per running part of the ward: each alerts engine and each ingest
-- worker upserts its row as it works (ward/heartbeats.py, the only writer);
-- `vward status`, GET /api/v1/health and the dashboard's banner read it and
-- judge it with ward/health.py.
--
-- Every time here is the database's own clock (now() at the write, or now()
-- less an age the process measured on its monotonic clock), and the readers
-- judge against the database's now(): a skewed host clock can neither hide a
-- stopped engine nor fake a live one.
CREATE TABLE service_heartbeats (
    component        text NOT NULL CHECK (component IN ('alerts', 'ingest')),
    -- VWARD_ALERTS_ENGINE_ID or VWARD_INGEST_CLIENT_ID: one row per name, so a
    -- restarted process takes its own row back.
    instance_id      text NOT NULL CHECK (instance_id <> ''),
    pid              integer NOT NULL,
    host             text NOT NULL,
    -- The engine's ward set (VWARD_ALERTS_WARDS), sorted; empty: every ward.
    wards            text[] NOT NULL DEFAULT '{}',
    -- How often it promises to beat [s] (an engine: its tick interval).
    interval_seconds double precision NOT NULL CHECK (interval_seconds > 0),
    started_at       timestamptz NOT NULL,
    beat_at          timestamptz NOT NULL,
    -- Engines: the end of the latest tick this engine completed (an engine
    -- whose tick another engine of its ward set held still beats, but this
    -- stays).  Kept across restarts: the last time it is known to have run.
    last_tick_at     timestamptz,
    -- Ingest: the latest batch committed, messages and readings received since
    -- the worker started, and whether its MQTT session was connected.
    last_batch_at    timestamptz,
    messages         bigint,
    readings         bigint,
    broker_connected boolean,
    -- Set by a clean stop (SIGTERM), cleared by the next beat.
    stopped_at       timestamptz,
    PRIMARY KEY (component, instance_id)
);
